/**
 * The pipeline's names: topics, the changelog and the index, as the workers, compose/.env and
 * the tools default to them. Plain data, so the runtime and connectors never carry market names.
 *
 * @example
 * ```ts
 * topics.ticks; // "market.ticks"
 * ```
 * @module
 */
export const topics = {
  /** Ticks and source bars, keyed by symbol. */
  ticks: "market.ticks",
  /** Bars with indicators, keyed by symbol. */
  bars: "market.bars",
  /** Records no retry can fix, with the reason in their headers. */
  deadLetters: "market.dlq",
  /** Transform's per-symbol state (compacted, partitioned like `ticks`). */
  transformState: "market.transform.changelog",
} as const;

/** The Elasticsearch index of bars. */
export const barsIndex = "market-bars";

/** The pipeline's database in native mode (compose sets POSTGRES_URL and the password file). */
export const database = {
  url: "postgres://market@127.0.0.1:5433/marketdata",
  passwordFile: ".native/secrets/postgres_password",
};
