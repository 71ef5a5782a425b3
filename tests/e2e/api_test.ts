/**
 * The query API and chart page against real PostgreSQL and Elasticsearch after a replay of the
 * S&P 500 series and the five-stock monthly series.
 */
import assert from "node:assert/strict";
import { parseCsv } from "../../lib/market/csv.ts";
import { drain, groups, ingestCsv, pipelineEnv } from "../support/pipeline.ts";
import { elasticsearch, eventually, requireServer, root } from "../support/servers.ts";
import { spawnWorker, taskArgs } from "../support/workers.ts";
import { checkChartPage } from "../support/browser.ts";

const sp500 = parseCsv(
  Deno.readTextFileSync(`${root}node_modules/vega-datasets/data/sp500-2000.csv`),
  "SP500",
);

Deno.test("the query API serves the stored bars", async (t) => {
  await requireServer("postgres");
  await requireServer("elasticsearch");
  const p = await pipelineEnv();
  const port = 18000 + Math.floor(Math.random() * 900);
  const base = `http://127.0.0.1:${port}`;
  let api: ReturnType<typeof spawnWorker> | undefined;
  try {
    await ingestCsv(p);
    await ingestCsv(p, { CSV_PATH: "node_modules/vega-datasets/data/stocks.csv" });
    const g = groups("api");
    await drain("transform", p, g.transform);
    await drain("sink", p, g.sink);
    // Search sees documents after the index's next refresh (every second): make the last bulk
    // of the drain visible now rather than race it.
    const es = elasticsearch();
    await es.indices.refresh({ index: p.index });
    await es.close();
    api = spawnWorker(taskArgs("api"), [], {
      ...p.env,
      HTTP_PORT: String(port),
      LOG_LEVEL: "warn",
    });
    await eventually("the API to be ready", async () => (await fetch(`${base}/readyz`)).ok);
    const get = async (path: string, init?: RequestInit) => {
      const res = await fetch(`${base}${path}`, init);
      const text = await res.text();
      return { res, text, json: () => JSON.parse(text) };
    };

    await t.step("/symbols lists every symbol with its intervals and counts", async () => {
      const { json } = await get("/symbols");
      const sp = json().data.find((s: { symbol: string }) => s.symbol === "SP500");
      assert.deepEqual(sp.intervals, ["1d", "1mo", "1w"]);
      // stocks.csv holds monthly prices: stored as monthly bars only, not as days on the 1st.
      const aapl = json().data.find((s: { symbol: string }) => s.symbol === "AAPL");
      assert.deepEqual(aapl.intervals, ["1mo"]);
      assert.equal(aapl.bars, 123);
      assert.equal(sp.bars, 5105 + 1059 + 244);
      assert.deepEqual(json().data.map((s: { symbol: string }) => s.symbol), [
        "AAPL",
        "AMZN",
        "GOOG",
        "IBM",
        "MSFT",
        "SP500",
      ]);
    });

    await t.step(
      "pagination walks the whole daily range exactly once, first and last equal the CSV",
      async () => {
        const seen: string[] = [];
        const rows: Record<string, number | string>[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const path: string = `/bars?symbol=SP500&interval=1d&limit=1000${
            cursor ? `&cursor=${cursor}` : ""
          }`;
          const body = (await get(path)).json();
          for (const r of body.data) {
            seen.push(r.period_start);
            rows.push(r);
          }
          cursor = body.next_cursor;
          pages++;
        } while (cursor);
        assert.equal(pages, 6);
        assert.equal(seen.length, 5105);
        assert.equal(new Set(seen).size, 5105, "no bar twice");
        assert.deepEqual([...seen].sort(), seen, "oldest first");
        const first = sp500.bars[0], last = sp500.bars.at(-1)!;
        assert.deepEqual([rows[0].open, rows[0].close, rows[0].volume], [
          first.open,
          first.close,
          first.volume,
        ]);
        assert.deepEqual([rows.at(-1)!.high, rows.at(-1)!.low], [last.high, last.low]);
        assert.equal(rows.at(-1)!.period_start, "2020-04-17T00:00:00.000Z");
      },
    );

    await t.step("a date range narrows the bars; indicators page the same way", async () => {
      const body =
        (await get("/bars?symbol=SP500&interval=1d&from=2008-01-01&to=2008-12-31&limit=5000"))
          .json();
      assert.equal(body.data.length, 253);
      assert.equal(body.next_cursor, null);
      const ind = (await get("/indicators?symbol=SP500&interval=1mo&limit=5000")).json();
      assert.equal(ind.data.length, 244);
      assert.equal(ind.data[0].ret, null);
      assert.equal(typeof ind.data[100].rsi, "number");
    });

    await t.step("CSV matches JSON", async () => {
      const json = (await get("/bars?symbol=SP500&interval=1mo&limit=5000")).json().data;
      const csv = await get("/bars?symbol=SP500&interval=1mo&limit=5000", {
        headers: { accept: "text/csv" },
      });
      assert.match(csv.res.headers.get("content-type")!, /^text\/csv/);
      const lines = csv.text.trim().split("\n");
      const header = lines[0].split(",");
      assert.deepEqual(header, [
        "period_start",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "trades",
        "vwap",
      ]);
      assert.equal(lines.length - 1, json.length);
      lines.slice(1).forEach((line, i) => {
        const cells = line.split(",");
        header.forEach((h, k) => {
          const want = json[i][h];
          assert.equal(cells[k], want === null ? "" : String(want), `${h} of row ${i}`);
        });
      });
      const viaParam = await get("/bars?symbol=SP500&interval=1mo&limit=5000&format=csv");
      assert.equal(viaParam.text, csv.text);
    });

    await t.step("ETag and Cache-Control on bar responses; If-None-Match gives 304", async () => {
      const first = await get("/bars?symbol=SP500&interval=1w&limit=10");
      const etag = first.res.headers.get("etag")!;
      assert.ok(etag);
      assert.match(first.res.headers.get("cache-control")!, /max-age/);
      const again = await get("/bars?symbol=SP500&interval=1w&limit=10", {
        headers: { "if-none-match": etag },
      });
      assert.equal(again.res.status, 304);
      // A weak validator and a list of tags, as caches and browsers send them.
      for (const header of [`W/${etag}`, `"other", ${etag}`, "*"]) {
        const cached = await get("/bars?symbol=SP500&interval=1w&limit=10", {
          headers: { "if-none-match": header },
        });
        assert.equal(cached.res.status, 304, header);
      }
      const changed = await get("/bars?symbol=SP500&interval=1w&limit=10", {
        headers: { "if-none-match": '"other"' },
      });
      assert.equal(changed.res.status, 200);
      assert.equal(first.res.headers.get("vary"), "Accept");
    });

    await t.step("the CSV Link header keeps the query: following it walks every page", async () => {
      const seen: string[] = [];
      let path: string | null = "/bars?symbol=SP500&interval=1mo&limit=100&format=csv";
      while (path) {
        const page = await get(path);
        assert.equal(page.res.status, 200, `${path}: ${page.text}`);
        assert.equal(page.res.headers.get("vary"), "Accept");
        seen.push(...page.text.trim().split("\n").slice(1).map((l) => l.split(",")[0]));
        const link = page.res.headers.get("link");
        path = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1] : null;
        if (path) {
          assert.match(path, /^\/bars\?symbol=SP500&interval=1mo&limit=100&format=csv&cursor=/);
        }
      }
      const all = (await get("/bars?symbol=SP500&interval=1mo&limit=5000")).json().data;
      assert.equal(seen.length, all.length);
      assert.equal(new Set(seen).size, seen.length, "no row twice");
    });

    await t.step("every bad parameter is a 400 problem naming it", async () => {
      const cases: [string, string][] = [
        ["/bars?symbol=NOPE", "symbol"],
        ["/bars?interval=1d", "symbol"],
        ["/bars?symbol=SP500&interval=2d", "interval"],
        ["/bars?symbol=SP500&from=2010-01-01&to=2009-01-01", "from"],
        ["/bars?symbol=SP500&from=yesterday", "from"],
        ["/bars?symbol=SP500&to=2010-13-45x", "to"],
        ["/bars?symbol=SP500&from=2024-02-30", "from"],
        ["/bars?symbol=SP500&to=2023-02-29T10:00:00Z", "to"],
        ["/bars?symbol=SP500&limit=5001", "limit"],
        ["/bars?symbol=SP500&limit=0", "limit"],
        ["/bars?symbol=SP500&cursor=not-a-cursor", "cursor"],
        ["/bars?symbol=SP500&format=xml", "format"],
        ["/bars?symbol=SP500&interval=1m&from=2000-01-01&to=2010-01-01", "to"],
        ["/bars?symbol=SP500&sort=desc", "sort"],
        ["/indicators?symbol=SP500%27%3Bdrop%20table%20bars", "symbol"],
        [`/search?q=${"x".repeat(201)}`, "q"],
      ];
      for (const [path, param] of cases) {
        const { res, json } = await get(path);
        assert.equal(res.status, 400, path);
        assert.equal(res.headers.get("content-type"), "application/problem+json", path);
        assert.equal(json().param, param, path);
        assert.equal(json().status, 400);
      }
      const still = (await get("/bars?symbol=SP500&interval=1d&limit=1")).json();
      assert.equal(still.data.length, 1, "the table survived the injection attempt");
    });

    await t.step("/search finds symbols and date ranges in Elasticsearch", async () => {
      const body = (await get("/search?q=sp%20from:2008-01-01%20to:2008-12-31%20interval:1d"))
        .json();
      assert.deepEqual(body.results, [{
        symbol: "SP500",
        interval: "1d",
        bars: 253,
        first: "2008-01-02T00:00:00.000Z",
        last: "2008-12-31T00:00:00.000Z",
      }]);
      const all = (await get("/search?q=a")).json();
      assert.deepEqual([...new Set(all.results.map((r: { symbol: string }) => r.symbol))], [
        "AAPL",
        "AMZN",
      ]);
    });

    await t.step("every route the OpenAPI document lists answers as documented", async () => {
      const doc = (await get("/openapi.json")).json();
      assert.equal(doc.openapi, "3.1.0");
      const params = "?symbol=SP500&interval=1d&limit=5";
      for (
        const [path, ops] of Object.entries(
          doc.paths as Record<string, Record<string, { responses: object }>>,
        )
      ) {
        const query = ["/bars", "/indicators"].includes(path)
          ? params
          : path === "/search"
          ? "?q=SP"
          : "";
        const { res } = await get(`${path}${query}`);
        assert.ok(
          Object.keys(ops.get.responses).includes(String(res.status)),
          `${path} answered ${res.status}`,
        );
        assert.equal(res.status, 200, path);
      }
    });

    await t.step(
      "the chart page draws the S&P 500 and switches interval and symbol in headless Chromium",
      async () => {
        const result = await checkChartPage(base, `${root}tests/artifacts/chart.png`);
        assert.deepEqual(result.consoleErrors, []);
        assert.equal(result.initial, "SP500|1d:5105");
        assert.equal(result.afterInterval, "SP500|1w:1059");
        assert.equal(result.afterSymbol, "IBM|1mo:123");
        assert.ok((await Deno.stat(result.screenshot)).size > 10_000, "a screenshot was saved");
      },
    );
  } finally {
    api?.kill("SIGTERM");
    await api?.exited;
    await p.cleanup();
  }
});
