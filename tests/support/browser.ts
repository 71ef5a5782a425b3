/**
 * Drives Debian's Chromium headless with playwright-core to check the chart page as a person
 * would see it, and saves a screenshot.
 */
import { chromium } from "playwright-core";

export interface ChartPageResult {
  consoleErrors: string[];
  /** "<symbol>|<interval>:<bars drawn>" after each step */
  initial: string;
  afterInterval: string;
  afterSymbol: string;
  screenshot: string;
}

const executablePath = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

export async function checkChartPage(base: string, screenshot: string): Promise<ChartPageResult> {
  try {
    await Deno.stat(executablePath);
  } catch {
    throw new Error(
      `no Chromium at ${executablePath}: run bash scripts/setup.sh (installs Debian's chromium)`,
    );
  }
  const browser = await chromium.launch({
    executablePath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 420, height: 800 } });
    const consoleErrors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    const shown = async () => {
      // Page code is passed as text: it runs in the browser, not under Deno's types.
      await page.waitForFunction("document.body.dataset.bars !== undefined");
      return await page.evaluate<string>(
        "`${document.body.dataset.shown}:${document.body.dataset.bars}`",
      );
    };
    const waitFor = async (prefix: string) => {
      await page.waitForFunction(
        `(document.body.dataset.shown ?? "").startsWith(${JSON.stringify(prefix)})`,
      );
      return await shown();
    };
    await page.goto(base, { waitUntil: "networkidle" });
    const initial = await waitFor("SP500|1d");
    await page.selectOption("#interval", "1w");
    const afterInterval = await waitFor("SP500|1w");
    await page.screenshot({ path: screenshot.replace(/\.png$/, "-sp500-1w.png") });
    await page.selectOption("#symbol", "IBM");
    // IBM has monthly bars only (stocks.csv is monthly): the picker falls back to 1mo.
    const afterSymbol = await waitFor("IBM|1mo");
    await page.setViewportSize({ width: 1200, height: 700 });
    await page.selectOption("#symbol", "SP500");
    await page.selectOption("#interval", "1d");
    await waitFor("SP500|1d");
    await Deno.mkdir(screenshot.replace(/\/[^/]+$/, ""), { recursive: true });
    await page.screenshot({ path: screenshot });
    return { consoleErrors, initial, afterInterval, afterSymbol, screenshot };
  } finally {
    await browser.close();
  }
}
