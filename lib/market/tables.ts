/**
 * Where bars live in the stores: PostgreSQL migrations and the Elasticsearch index template, and
 * a bar's row and document. Keys are deterministic (symbol, interval, period start), which makes
 * every write an idempotent upsert.
 *
 * @example
 * ```ts
 * import type { IndicatorBar } from "./types.ts";
 * declare const bar: IndicatorBar;
 * const { id } = barDocument(bar); // "SP500|1d|2000-01-03T00:00:00.000Z"
 * ```
 * @module
 */
import { barKey, type IndicatorBar } from "./bars.ts";
import { isoTime } from "./time.ts";

/** Versioned migrations, applied in order and recorded in `schema_migrations`. */
export const migrations: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "bars and indicators",
    sql: `
      create table if not exists bars (
        symbol text not null,
        interval text not null,
        period_start timestamptz not null,
        open double precision not null,
        high double precision not null,
        low double precision not null,
        close double precision not null,
        volume double precision not null,
        trades bigint,
        vwap double precision,
        updated_at timestamptz not null default now(),
        primary key (symbol, interval, period_start)
      );
      create table if not exists indicators (
        symbol text not null,
        interval text not null,
        period_start timestamptz not null,
        ret double precision,
        log_ret double precision,
        sma double precision,
        ema double precision,
        rsi double precision,
        volatility double precision,
        zscore double precision,
        updated_at timestamptz not null default now(),
        primary key (symbol, interval, period_start)
      );`,
  },
];

/** The `bars` table's columns as its rows are written; the first three are the key. */
export const barColumns = [
  ["symbol", "text"],
  ["interval", "text"],
  ["period_start", "timestamptz"],
  ["open", "float8"],
  ["high", "float8"],
  ["low", "float8"],
  ["close", "float8"],
  ["volume", "float8"],
  ["trades", "int8"],
  ["vwap", "float8"],
] as const;

/** The `indicators` table's columns as its rows are written; the first three are the key. */
export const indicatorColumns = [
  ["symbol", "text"],
  ["interval", "text"],
  ["period_start", "timestamptz"],
  ["ret", "float8"],
  ["log_ret", "float8"],
  ["sma", "float8"],
  ["ema", "float8"],
  ["rsi", "float8"],
  ["volatility", "float8"],
  ["zscore", "float8"],
] as const;

/**
 * The tables a bar is written to. Their columns are read from the fields of the same name of the
 * bar's document ({@link barDocument}), so one JSON text of a bar serves both stores.
 */
export const barTables = [
  { table: "bars", columns: barColumns, keyCount: 3 },
  { table: "indicators", columns: indicatorColumns, keyCount: 3 },
] as const;

export type Cell = string | number | null;

/**
 * The index template: explicit mappings, no dynamic fields. Bars are found by symbol, interval and
 * time, which are indexed; their values are returned, charted and aggregated, so they keep doc
 * values but are not indexed as points. A filter on a value (`rsi > 70`) still works, read from
 * the doc values (Elasticsearch ≥ 8.1), more slowly on a large index; in return every document
 * costs Elasticsearch 12–15% less CPU to index (`bench/history.md`, the run of 2026-12-07 22:10).
 */
export function barIndexTemplate(indexPattern: string) {
  const double = { type: "double", index: false };
  return {
    index_patterns: [indexPattern],
    template: {
      settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: "1s" },
      mappings: {
        dynamic: "strict",
        properties: {
          symbol: { type: "keyword" },
          interval: { type: "keyword" },
          period_start: { type: "date" },
          open: double,
          high: double,
          low: double,
          close: double,
          volume: double,
          trades: { type: "long", index: false },
          vwap: double,
          ret: double,
          log_ret: double,
          sma: double,
          ema: double,
          rsi: double,
          volatility: double,
          zscore: double,
        },
      },
    },
  };
}

/** A bar's Elasticsearch document and its deterministic `_id`. */
export function barDocument(b: IndicatorBar): { id: string; doc: Record<string, Cell> } {
  const periodStart = isoTime(b.start);
  return {
    id: barKey(b, periodStart),
    doc: {
      symbol: b.symbol,
      interval: b.interval,
      period_start: periodStart,
      open: b.open,
      high: b.high,
      low: b.low,
      close: b.close,
      volume: b.volume,
      trades: b.trades,
      vwap: b.vwap,
      ret: b.ret,
      log_ret: b.logRet,
      sma: b.sma,
      ema: b.ema,
      rsi: b.rsi,
      volatility: b.volatility,
      zscore: b.zscore,
    },
  };
}
