/**
 * api — the query API and chart page over the stored bars (replaces the seed's Flask/FastAPI).
 *
 *   GET /symbols                      symbols with their intervals and date ranges
 *   GET /bars?symbol&interval&from&to&limit&cursor     JSON, or CSV (Accept: text/csv, format=csv)
 *   GET /indicators?…                 the same for indicators
 *   GET /search?q=                    Elasticsearch: symbols and date ranges matching q
 *   GET /openapi.json, GET /          the OpenAPI document; the chart page
 *   /healthz, /readyz, /metrics       from the runtime
 *
 * Reads PostgreSQL with parameterized SQL and keyset pagination; every bad parameter is a 400
 * `application/problem+json` naming it.
 */
import { name } from "../lib/runtime/config.ts";
import { elasticsearchOutput } from "../lib/connectors/elasticsearch.ts";
import { ifNoneMatchHits } from "../lib/runtime/http.ts";
import {
  barIndexTemplate,
  type BarQuery,
  barsIndex,
  database,
  encodeCursor,
  migrations,
  nextPageLink,
  parseBarQuery,
  type Problem,
  toCsv,
} from "../lib/market/mod.ts";
import { postgresOutput } from "../lib/connectors/postgres.ts";
import { defineWorker, http, run } from "../lib/runtime/mod.ts";

const web = new URL("../web/", import.meta.url);
const chartLibrary = new URL(
  "../node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js",
  import.meta.url,
);

const barColumns = ["period_start", "open", "high", "low", "close", "volume", "trades", "vwap"];
const indicatorColumns = [
  "period_start",
  "ret",
  "log_ret",
  "sma",
  "ema",
  "rsi",
  "volatility",
  "zscore",
];

function problem(status: number, p: Problem): Response {
  return new Response(
    JSON.stringify({
      type: "about:blank",
      title: "Invalid request",
      status,
      detail: p.detail,
      param: p.param,
    }),
    { status, headers: { "content-type": "application/problem+json" } },
  );
}

async function etagged(
  request: Request,
  body: string,
  contentType: string,
  extra: Record<string, string> = {},
): Promise<Response> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(body));
  const etag = `"${btoa(String.fromCharCode(...new Uint8Array(digest))).slice(0, 27)}"`;
  const headers = {
    etag,
    "cache-control": "public, max-age=5",
    "content-type": contentType,
    ...extra,
  };
  if (ifNoneMatchHits(request.headers.get("if-none-match"), etag)) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(body, { headers });
}

export const api = defineWorker({
  name: "api",
  description: "query API and chart page over the stored bars",
  trigger: http(),
  outputs: {
    postgres: postgresOutput(migrations, database),
    elasticsearch: elasticsearchOutput(
      name("ELASTICSEARCH_INDEX", "index of bars", barsIndex),
      barIndexTemplate,
    ),
  },
  options: {},
  httpPort: 8080,

  async handle(request, { outputs }) {
    const url = new URL(request.url);
    const db = outputs.postgres.pool;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }

    if (url.pathname === "/") {
      return new Response(await Deno.readTextFile(new URL("index.html", web)), {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    }
    if (url.pathname === "/static/lightweight-charts.js") {
      return new Response(await Deno.readFile(chartLibrary), {
        headers: { "content-type": "text/javascript", "cache-control": "public, max-age=86400" },
      });
    }
    if (url.pathname === "/openapi.json") {
      return new Response(await Deno.readTextFile(new URL("openapi.json", web)), {
        headers: { "content-type": "application/json" },
      });
    }
    if (url.pathname === "/symbols") {
      const { rows } = await db.query(
        `select symbol, array_agg(distinct interval order by interval) as intervals,
                min(period_start) as first, max(period_start) as last, count(*)::int as bars
         from bars group by symbol order by symbol`,
      );
      return await etagged(request, JSON.stringify({ data: rows }), "application/json");
    }
    if (url.pathname === "/bars" || url.pathname === "/indicators") {
      const { rows: symbols } = await db.query("select distinct symbol from bars");
      const q = parseBarQuery(
        url.searchParams,
        new Set(symbols.map((r) => r.symbol)),
        request.headers.get("accept") ?? "",
      );
      if ("problem" in q) return problem(400, q.problem);
      const table = url.pathname === "/bars" ? "bars" : "indicators";
      const columns = table === "bars" ? barColumns : indicatorColumns;
      return await page(request, db, table, columns, q);
    }
    if (url.pathname === "/search") {
      const text = url.searchParams.get("q") ?? "";
      if (text.length > 200) {
        return problem(400, { param: "q", detail: "q is longer than 200 characters" });
      }
      return Response.json(await search(outputs.elasticsearch, text));
    }
    return new Response("not found\n", { status: 404 });
  },
});

async function page(
  request: Request,
  db: { query: (sql: string, params: unknown[]) => Promise<{ rows: Record<string, unknown>[] }> },
  table: "bars" | "indicators",
  columns: string[],
  q: BarQuery,
): Promise<Response> {
  // Keyset pagination: the cursor is the last period start served; the index is the primary key.
  const select = columns.map((c) => c === "period_start" ? "period_start" : `"${c}"`).join(", ");
  const { rows } = await db.query(
    `select ${select} from ${table}
     where symbol = $1 and interval = $2 and period_start >= $3 and period_start <= $4
       and ($5::timestamptz is null or period_start > $5)
     order by period_start limit $6`,
    [
      q.symbol,
      q.interval,
      new Date(q.from).toISOString(),
      new Date(q.to).toISOString(),
      q.after === null ? null : new Date(q.after).toISOString(),
      q.limit + 1,
    ],
  );
  const more = rows.length > q.limit;
  const data = rows.slice(0, q.limit).map((r) => ({
    ...r,
    period_start: (r.period_start as Date).toISOString(),
    ...(r.trades !== undefined ? { trades: r.trades === null ? null : Number(r.trades) } : {}),
  }));
  const next = more ? encodeCursor(Date.parse(data.at(-1)!.period_start)) : null;
  // JSON and CSV share the URL (Accept chooses): caches must key on Accept.
  const vary = { vary: "Accept" };
  if (q.format === "csv") {
    const headers: Record<string, string> = { ...vary };
    if (next) headers.link = `<${nextPageLink(new URL(request.url), next)}>; rel="next"`;
    return await etagged(request, toCsv(columns, data), "text/csv; charset=utf-8", headers);
  }
  return await etagged(
    request,
    JSON.stringify({ symbol: q.symbol, interval: q.interval, data, next_cursor: next }),
    "application/json",
    vary,
  );
}

/**
 * Free-text search over the index: words match symbols (prefix, case-insensitive), and
 * `from:YYYY-MM-DD`, `to:YYYY-MM-DD`, `interval:1d` narrow it. Returns per symbol and interval
 * the bar count and date range.
 */
async function search(
  es: { client: import("@elastic/elasticsearch").Client; index: string },
  text: string,
) {
  const filters: Record<string, unknown>[] = [];
  const symbols: string[] = [];
  for (const token of text.split(/\s+/).filter(Boolean)) {
    const [key, value] = token.includes(":") ? token.split(/:(.*)/s) : ["", token];
    if (key === "from" || key === "to") {
      filters.push({ range: { period_start: { [key === "from" ? "gte" : "lte"]: value } } });
    } else if (key === "interval") filters.push({ term: { interval: value } });
    else symbols.push(token.toUpperCase());
  }
  if (symbols.length) {
    filters.push({
      bool: { should: symbols.map((s) => ({ prefix: { symbol: s } })), minimum_should_match: 1 },
    });
  }
  const result = await es.client.search({
    index: es.index,
    size: 0,
    query: { bool: { filter: filters } },
    aggs: {
      symbols: {
        terms: { field: "symbol", size: 100 },
        aggs: {
          intervals: {
            terms: { field: "interval", size: 10 },
            aggs: {
              first: { min: { field: "period_start" } },
              last: { max: { field: "period_start" } },
            },
          },
        },
      },
    },
  });
  // deno-lint-ignore no-explicit-any
  const buckets = (result.aggregations as any)?.symbols?.buckets ?? [];
  return {
    query: text,
    // deno-lint-ignore no-explicit-any
    results: buckets.flatMap((s: any) =>
      // deno-lint-ignore no-explicit-any
      s.intervals.buckets.map((i: any) => ({
        symbol: s.key,
        interval: i.key,
        bars: i.doc_count,
        first: i.first.value_as_string,
        last: i.last.value_as_string,
      }))
    ),
  };
}

if (import.meta.main) await run(api);
