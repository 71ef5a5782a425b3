import assert from "node:assert/strict";
import { buildBars } from "../../lib/market/bars.ts";
import { detectInterval, parseCsv } from "../../lib/market/csv.ts";
import { defaultPeriods } from "../../lib/market/indicators.ts";
import { decodeInput, encodeSourceBar, type SourceBar } from "../../lib/market/record.ts";
import { InvalidRecord } from "../../lib/market/invalid_record.ts";

const data = new URL("../../node_modules/vega-datasets/data/", import.meta.url);
const read = (file: string, symbol: string) =>
  parseCsv(Deno.readTextFileSync(new URL(file, data)), symbol).bars;
const cfg = {
  tickIntervals: [] as never[],
  barIntervals: ["1d", "1w", "1mo"] as ("1d" | "1w" | "1mo")[],
  periods: defaultPeriods,
};

Deno.test("granularity: the monthly stocks file is found monthly, the S&P 500 file daily", () => {
  assert.equal(detectInterval(read("stocks.csv", "")), "1mo");
  assert.equal(detectInterval(read("sp500-2000.csv", "SP500")), "1d");
  const weekly = [0, 7, 14, 21].map((d) => ({ ...read("sp500-2000.csv", "W")[0], ts: d * 864e5 }));
  assert.equal(detectInterval(weekly), "1w");
  assert.equal(detectInterval([]), "1d");
});

Deno.test("granularity: monthly data builds monthly bars only, dated on the month", () => {
  const monthly = read("stocks.csv", "").filter((b) => b.symbol === "AAPL")
    .map((b): SourceBar => ({ ...b, interval: "1mo" }));
  const { bars } = buildBars(new Map(), monthly.map((b) => ({ kind: "bar", ...b })), cfg);
  assert.deepEqual([...new Set(bars.map((b) => b.interval))], ["1mo"]);
  assert.equal(bars.length, monthly.length);
  assert.ok(bars.every((b) => new Date(b.start).getUTCDate() === 1));
  // The same rows declared daily would have made daily and weekly bars on the 1st.
  const asDaily = buildBars(
    new Map(),
    monthly.map((b) => ({ ...b, kind: "bar", interval: "1d" })),
    cfg,
  );
  assert.deepEqual([...new Set(asDaily.bars.map((b) => b.interval))].sort(), ["1d", "1mo", "1w"]);
});

Deno.test("granularity travels on the wire; daily records stay as they were; a bad one is a record error", () => {
  const bar: SourceBar = {
    symbol: "AAPL",
    ts: Date.UTC(2000, 0, 1),
    open: 1,
    high: 2,
    low: 1,
    close: 2,
    volume: 0,
  };
  const enc = (e: { value: string }) => new TextEncoder().encode(e.value);
  const monthly = encodeSourceBar({ ...bar, interval: "1mo" });
  assert.deepEqual(decodeInput(enc(monthly), monthly.headers), {
    kind: "bar",
    ...bar,
    interval: "1mo",
  });
  const daily = encodeSourceBar({ ...bar, interval: "1d" });
  assert.equal(daily.value, encodeSourceBar(bar).value);
  assert.ok(!daily.value.includes("interval"));
  const bad = encodeSourceBar(bar);
  const tampered = bad.value.replace('"volume":0', '"volume":0,"interval":"1m"');
  assert.throws(() => decodeInput(new TextEncoder().encode(tampered), bad.headers), InvalidRecord);
});

Deno.test("granularity: bars of every interval still decode in the sink (1m … 1mo)", async () => {
  const { decodeBar, encodeBar } = await import("../../lib/market/record.ts");
  const { buildBars } = await import("../../lib/market/bars.ts");
  const ticks = [0, 60_000, 3_600_000].map((dt, i) => ({
    kind: "tick" as const,
    symbol: "SYN",
    ts: Date.UTC(2024, 0, 2, 14, 30) + dt,
    price: 10 + i,
    size: 1,
  }));
  const { bars } = buildBars(new Map(), ticks, { ...cfg, tickIntervals: ["1m", "5m", "1h"] });
  for (const bar of bars) {
    const e = encodeBar(bar);
    assert.equal(decodeBar(new TextEncoder().encode(e.value), e.headers).interval, bar.interval);
  }
});
