/**
 * Runs the whole pipeline (ingest → transform → sink) as real processes against the native
 * servers, on topics, a database and an index of its own, and dumps the final stores.
 */
import { runToEnd, spawnWorker, taskArgs } from "./workers.ts";
import { createTopics, elasticsearch, freshDatabase, uniqueName } from "./servers.ts";
// @ts-types="@types/pg"
import type pg from "pg";
import { seededRandom } from "../../lib/market/synthetic.ts";

export interface PipelineEnv {
  env: Record<string, string>;
  db: { url: string; pool: pg.Pool; drop(): Promise<void> };
  index: string;
  topics: { ticks: string; bars: string; dlq: string; state: string };
  cleanup(): Promise<void>;
}

export async function pipelineEnv(partitions = 1): Promise<PipelineEnv> {
  const id = uniqueName("e2e");
  const topics = {
    ticks: `${id}.ticks`,
    bars: `${id}.bars`,
    dlq: `${id}.dlq`,
    state: `${id}.state`,
  };
  await createTopics([topics.ticks, topics.bars, topics.dlq], partitions);
  const db = await freshDatabase();
  const index = `${id}-bars`;
  const env = {
    TICKS_TOPIC: topics.ticks,
    BARS_TOPIC: topics.bars,
    DLQ_TOPIC: topics.dlq,
    TRANSFORM_STATE_TOPIC: topics.state,
    TOPIC_PARTITIONS: String(partitions),
    POSTGRES_URL: db.url,
    ELASTICSEARCH_INDEX: index,
    HTTP_PORT: "0",
    LOG_LEVEL: "warn",
    KAFKA_CLIENT_ID: id,
    // A SIGKILLed member is noticed after this long; the broker's minimum is 6 s.
    SESSION_TIMEOUT_MS: "6000",
  };
  return {
    env,
    db,
    index,
    topics,
    async cleanup() {
      await db.drop();
      await elasticsearch().indices.delete({ index }).catch(() => {});
    },
  };
}

/** Ingest's flags for a seeded synthetic stream (and a paced replay, with `speed`). */
export function syntheticFlags(
  o: { ticks: number; symbols: number; seed: number; speed?: number },
): string[] {
  return [
    "--source",
    "synthetic",
    "--synthetic-ticks",
    String(o.ticks),
    "--synthetic-symbols",
    String(o.symbols),
    "--synthetic-seed",
    String(o.seed),
    ...(o.speed ? ["--replay-speed", String(o.speed)] : []),
  ];
}

/** Consumer groups of one run, so runs on the same topics never share offsets. */
export function groups(run: string) {
  return {
    transform: { CONSUMER_GROUP: `${run}-transform` },
    sink: { CONSUMER_GROUP: `${run}-sink` },
  };
}

export async function ingestCsv(p: PipelineEnv, extra: Record<string, string> = {}) {
  await runToEnd(taskArgs("ingest"), [], { ...p.env, ...extra });
}

export async function drain(
  worker: "transform" | "sink",
  p: PipelineEnv,
  extra: Record<string, string>,
) {
  return await runToEnd(taskArgs(worker), ["--once"], { ...p.env, ...extra }, 0, 600_000);
}

/**
 * Runs `worker` continuously and SIGKILLs it `cycles` times at seeded random moments, then
 * drains what is left with --once.
 */
export async function killAndRestart(
  worker: "transform" | "sink",
  p: PipelineEnv,
  extra: Record<string, string>,
  cycles: number,
  seed: number,
  maxMs = 1500,
) {
  const random = seededRandom(seed);
  for (let i = 0; i < cycles; i++) {
    const w = spawnWorker(taskArgs(worker), [], { ...p.env, ...extra });
    await new Promise((r) => setTimeout(r, 300 + random() * maxMs));
    w.kill("SIGKILL");
    await w.exited;
  }
  await drain(worker, p, extra);
}

export type Row = Record<string, string | number | null>;

/** Every bar with its indicators, sorted by key: the final tables, for exact comparison. */
export async function dumpPostgres(pool: pg.Pool): Promise<Row[]> {
  const result = await pool.query(`
    select b.symbol, b.interval, to_char(b.period_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') as start,
           b.open, b.high, b.low, b.close, b.volume, b.trades, b.vwap,
           i.ret, i.log_ret, i.sma, i.ema, i.rsi, i.volatility, i.zscore
    from bars b full join indicators i using (symbol, interval, period_start)
    order by 1, 2, 3`);
  return result.rows.map((r) => ({ ...r, trades: r.trades === null ? null : Number(r.trades) }));
}

/** Every document of the index, sorted by id, in the same shape as {@link dumpPostgres}. */
export async function dumpElasticsearch(index: string): Promise<Row[]> {
  const es = elasticsearch();
  await es.indices.refresh({ index });
  const rows: Row[] = [];
  let after: unknown[] | undefined;
  for (;;) {
    const page = await es.search<Record<string, string | number | null>>({
      index,
      size: 5000,
      sort: [{ symbol: "asc" }, { interval: "asc" }, { period_start: "asc" }],
      search_after: after as never,
    });
    const hits = page.hits.hits;
    if (hits.length === 0) break;
    for (const h of hits) {
      const d = h._source!;
      rows.push({
        symbol: d.symbol,
        interval: d.interval,
        start: String(d.period_start).slice(0, 19),
        open: d.open,
        high: d.high,
        low: d.low,
        close: d.close,
        volume: d.volume,
        trades: d.trades,
        vwap: d.vwap,
        ret: d.ret,
        log_ret: d.log_ret,
        sma: d.sma,
        ema: d.ema,
        rsi: d.rsi,
        volatility: d.volatility,
        zscore: d.zscore,
      });
    }
    after = hits.at(-1)!.sort;
  }
  await es.close();
  return rows.sort((a, b) =>
    `${a.symbol}|${a.interval}|${a.start}` < `${b.symbol}|${b.interval}|${b.start}` ? -1 : 1
  );
}

/**
 * Asserts two store dumps are equal, naming the first differing row: `assert.deepEqual` on
 * thousands of rows that differ builds a diff too big to hold.
 */
export function assertSameRows(actual: Row[], expected: Row[], what = "rows"): void {
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (JSON.stringify(actual[i]) !== JSON.stringify(expected[i])) {
      throw new Error(
        `${what}: ${actual.length} rows, expected ${expected.length}; first difference at row ${i}:\n` +
          `  actual   ${JSON.stringify(actual[i])}\n  expected ${JSON.stringify(expected[i])}`,
      );
    }
  }
}
