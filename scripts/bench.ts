/**
 * `deno task bench`: how fast the pipeline is on this machine, against what the hardware and the
 * servers allow (Kafka's Java perf tools, PostgreSQL COPY, Elasticsearch _bulk) and against the
 * seed's Python services (kafka-python, pandas, psycopg2) on the same data and servers.
 * Writes bench/results.json and bench/results.md, and prints the table. Not part of the tests.
 *
 *   deno task bench [--ticks 1000000] [--runs 3] [--symbols 20] [--latency-seconds 30] [--no-python]
 */
import kafkajs from "kafkajs";
import { parseCommandLine } from "../lib/runtime/cli.ts";
import { loadComposeEnv } from "../tests/support/env_file.ts";
import { partitionPositions } from "../lib/connectors/kafka/mod.ts";
import { encodeTick, syntheticTicks } from "../lib/market/mod.ts";

const root = new URL("../", import.meta.url).pathname;
const env = loadComposeEnv(new URL("../", import.meta.url));
const { flags } = parseCommandLine(Deno.args, ["no-python"]);
const TICKS = Number(flags.ticks ?? 1_000_000);
const RUNS = Number(flags.runs ?? 3);
const SYMBOLS = Number(flags.symbols ?? 20);
const LATENCY_SECONDS = Number(flags["latency-seconds"] ?? 30);
// Scale-out needs keys spread evenly over the 6 partitions: 20 symbols put 40% in one.
const SCALE_SYMBOLS = 200;
const brokers = `127.0.0.1:${env.KAFKA_PORT}`;
const deno = Deno.execPath();
const tasks = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).tasks as Record<string, string>;
const pgPassword = Deno.readTextFileSync(`${root}.native/secrets/postgres_password`).trim();
const pgUrl = `postgres://${env.POSTGRES_USER}@127.0.0.1:${env.POSTGRES_PORT}/${env.POSTGRES_DB}`;
const venv = `${root}.native/bench-venv`;
const id = Date.now().toString(36);
let seq = 0;
const fresh = (what: string) => `bench-${id}-${what}-${seq++}`;

function say(text: string) {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}`);
}

interface Proc {
  code: number;
  out: string;
  seconds: number;
  peakRssMb: number;
}

/** Runs a command, sampling its resident memory (VmRSS) every 100 ms for the peak. */
async function measure(
  cmd: string,
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<Proc> {
  const started = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    cwd: root,
    env: { NO_COLOR: "1", LOG_LEVEL: "warn", PGPASSWORD: pgPassword, ...extraEnv },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let peak = 0;
  const sampler = setInterval(() => {
    try {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kb);
    } catch { /* exited */ }
  }, 100);
  const out = await child.output();
  clearInterval(sampler);
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text.slice(-2000)}`);
  return {
    code: out.code,
    out: text,
    seconds: (performance.now() - started) / 1000,
    peakRssMb: peak / 1024,
  };
}

const taskArgs = (task: string) => tasks[task].slice("deno ".length).split(" ");
const worker = (name: string, flagsList: string[], e: Record<string, string>) =>
  measure(deno, [...taskArgs(name), ...flagsList], { HTTP_PORT: "0", LOG_LEVEL: "info", ...e });

/** The worker's last log line: exit code and the run's totals (records in, out per output). */
function stoppedLine(p: Proc): { recordsIn: number; recordsOut: Record<string, number> } {
  const line = p.out.split("\n").findLast((l) => l.includes(`"msg":"stopped"`));
  return line ? JSON.parse(line) : { recordsIn: NaN, recordsOut: {} };
}

/** Records/s an ingest run reported in its last progress line. */
const ingestRate = (p: Proc, records: number) =>
  Number(/"ratePerSecond":(\d+)/.exec(p.out)?.[1] ?? records / p.seconds);

/** Rows in the bars table of a run's database. */
const storedBars = async (postgresUrl: string) =>
  Number((await measure("psql", [postgresUrl, "-tAc", "select count(*) from bars"])).out.trim());

/** Seconds a --once run spent draining: from its "draining" log line to its "stopped" line. */
function drainSeconds(p: Proc): number {
  const at = (msg: string) => {
    const line = p.out.split("\n").find((l) => l.includes(`"msg":"${msg}`));
    return line ? Date.parse(JSON.parse(line).time) : NaN;
  };
  const seconds = (at("stopped") - at("draining to high-water marks")) / 1000;
  return Number.isFinite(seconds) && seconds > 0 ? seconds : p.seconds;
}

async function createTopic(topic: string, partitions = 6) {
  await measure("java", [
    "-cp",
    `${root}.native/kafka/libs/*`,
    "org.apache.kafka.tools.TopicCommand",
    "--bootstrap-server",
    brokers,
    "--create",
    "--topic",
    topic,
    "--partitions",
    String(partitions),
    "--replication-factor",
    "1",
  ]);
}

async function psql(sql: string): Promise<string> {
  return (await measure("psql", [pgUrl, "-tAc", sql])).out.trim();
}

interface Stat {
  median: number;
  min: number;
  max: number;
  unit: string;
  runs: number[];
}

function stat(values: number[], unit: string): Stat {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)],
    min: sorted[0],
    max: sorted.at(-1)!,
    unit,
    runs: values,
  };
}

async function repeat(label: string, unit: string, fn: () => Promise<number>): Promise<Stat> {
  const values: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    values.push(await fn());
    say(`${label} run ${i + 1}/${RUNS}: ${values.at(-1)!.toFixed(0)} ${unit}`);
  }
  return stat(values, unit);
}

const results: Record<string, Stat> = {};
const tickBytes =
  encodeTick({ symbol: "SYN000", ts: Date.now(), price: 101.2345, size: 100 }).value.length;

say(
  `machine: ${navigator.hardwareConcurrency} cores, ${
    (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(1)
  } GiB; ${TICKS} ticks, ${SYMBOLS} symbols, ${RUNS} runs`,
);
await measure(deno, ["task", "infra", "up"]);

// Limits: Kafka's own Java producer and consumer, same record count and size.
say("Kafka Java producer and consumer perf tests ...");
const perfTopic = fresh("perf");
await createTopic(perfTopic);
results.kafkaJavaProduce = await repeat("kafka java produce", "records/s", async () => {
  const r = await measure("java", [
    "-cp",
    `${root}.native/kafka/libs/*`,
    "org.apache.kafka.tools.ProducerPerformance",
    "--topic",
    perfTopic,
    "--num-records",
    String(TICKS),
    "--record-size",
    String(tickBytes),
    "--throughput",
    "-1",
    "--producer-props",
    `bootstrap.servers=${brokers}`,
    "acks=all",
    "enable.idempotence=true",
  ]);
  // The summary line is the last "N records sent, R records/sec" in the output.
  const rates = [...r.out.matchAll(/records sent, ([\d.]+) records\/sec/g)];
  return Number(rates.at(-1)?.[1]);
});

results.kafkaJavaConsume = await repeat("kafka java consume", "records/s", async () => {
  const r = await measure("java", [
    "-cp",
    `${root}.native/kafka/libs/*`,
    "org.apache.kafka.tools.ConsumerPerformance",
    "--bootstrap-server",
    brokers,
    "--topic",
    perfTopic,
    "--messages",
    String(TICKS),
  ]);
  // A header line "start.time, end.time, …, fetch.nMsg.sec" and one line of values: the fetch
  // rate leaves the group's joining out.
  const lines = r.out.split("\n").map((l) => l.split(",").map((f) => f.trim()));
  const header = lines.findIndex((l) => l.includes("fetch.nMsg.sec"));
  return Number(lines[header + 1]?.[lines[header].indexOf("fetch.nMsg.sec")]);
});

// Ours: ingest → transform → sink, each --once, on fresh topics per run.
const PRODUCER = String(flags.producer ?? "platformatic");
interface OursRun {
  ingest: number;
  transform: number;
  barsOut: number;
  bars: number;
  sink: number;
  sinkPgRows: number;
  sinkEsDocs: number;
  e2e: number;
  drain: { ingest: number; transform: number; sink: number };
  rss: Record<string, number>;
}
const runsOfOurs: OursRun[] = [];
let lastTicksTopic = "";

/** Fresh topics, database and index for one pipeline run. */
async function freshPipeline() {
  const ticks = fresh("ticks"), bars = fresh("bars"), db = fresh("db").replaceAll("-", "_");
  await createTopic(ticks);
  await createTopic(bars);
  await psql(`create database ${db}`);
  return {
    TICKS_TOPIC: ticks,
    BARS_TOPIC: bars,
    DLQ_TOPIC: fresh("dlq"),
    TRANSFORM_STATE_TOPIC: fresh("state"),
    CONSUMER_GROUP: fresh("group"),
    POSTGRES_URL: `postgres://${env.POSTGRES_USER}@127.0.0.1:${env.POSTGRES_PORT}/${db}`,
    ELASTICSEARCH_INDEX: fresh("index"),
    KAFKA_PRODUCER: PRODUCER,
  };
}

const synthetic = (ticks: number, symbols = SYMBOLS) => [
  "--source",
  "synthetic",
  "--synthetic-ticks",
  String(ticks),
  "--synthetic-symbols",
  String(symbols),
];

for (let i = 0; i < RUNS; i++) {
  const e = await freshPipeline();
  const ing = await worker("ingest", synthetic(TICKS), e);
  const ingested = ingestRate(ing, TICKS);
  const tr = await worker("transform", ["--once"], e);
  const sk = await worker("sink", ["--once"], { ...e, CONSUMER_GROUP: fresh("group") });
  const stored = await storedBars(e.POSTGRES_URL);
  const written = stoppedLine(sk).recordsOut;
  const pgRows = (written["postgres:bars"] ?? 0) + (written["postgres:indicators"] ?? 0);
  const esDocs = written[`elasticsearch:${e.ELASTICSEARCH_INDEX}`] ?? 0;
  const drain = { ingest: TICKS / ingested, transform: drainSeconds(tr), sink: drainSeconds(sk) };
  runsOfOurs.push({
    ingest: ingested,
    transform: TICKS / drain.transform,
    barsOut: stoppedLine(sk).recordsIn,
    bars: stored,
    sink: stored / drain.sink,
    sinkPgRows: pgRows / drain.sink,
    sinkEsDocs: esDocs / drain.sink,
    e2e: TICKS / (ing.seconds + tr.seconds + sk.seconds),
    drain,
    rss: { ingest: ing.peakRssMb, transform: tr.peakRssMb, sink: sk.peakRssMb },
  });
  const r = runsOfOurs.at(-1)!;
  say(
    `ours run ${i + 1}: ingest ${r.ingest.toFixed(0)}/s, transform ${
      r.transform.toFixed(0)
    } ticks/s, sink ${r.sinkPgRows.toFixed(0)} PostgreSQL rows/s and ${
      r.sinkEsDocs.toFixed(0)
    } Elasticsearch docs/s (${stored} bars), e2e ${r.e2e.toFixed(0)} ticks/s`,
  );
  lastTicksTopic = e.TICKS_TOPIC;
}
results.ingest = stat(runsOfOurs.map((r) => r.ingest), `records/s (producer: ${PRODUCER})`);
results.transform = stat(runsOfOurs.map((r) => r.transform), "ticks/s (drain, start-up excluded)");
results.transformBarsOut = stat(runsOfOurs.map((r) => r.barsOut), "bar versions published");
results.transformBarsRate = stat(
  runsOfOurs.map((r) => r.barsOut / r.drain.transform),
  "bar versions/s published (drain)",
);
results.sink = stat(runsOfOurs.map((r) => r.sink), "bars stored/s (drain)");
results.sinkPostgres = stat(
  runsOfOurs.map((r) => r.sinkPgRows),
  "rows/s upserted into PostgreSQL (bars + indicators, drain)",
);
results.sinkElasticsearch = stat(
  runsOfOurs.map((r) => r.sinkEsDocs),
  "docs/s indexed into Elasticsearch (drain)",
);
results.e2e = stat(runsOfOurs.map((r) => r.e2e), "ticks/s (ingest+transform+sink, sequential)");
results.barsStored = stat(runsOfOurs.map((r) => r.bars), "bars");
for (const w of ["ingest", "transform", "sink"]) {
  results[`peakRss_${w}`] = stat(runsOfOurs.map((r) => r.rss[w]), "MiB");
}

// The other producer library on the same ingest, for the comparison the README reports.
const otherProducer = PRODUCER === "kafkajs" ? "platformatic" : "kafkajs";
results[`ingest_${otherProducer}`] = await repeat(
  `ingest with KAFKA_PRODUCER=${otherProducer}`,
  "records/s",
  async () => {
    const ticks = fresh("ticks");
    await createTopic(ticks);
    const ing = await worker("ingest", synthetic(TICKS), {
      TICKS_TOPIC: ticks,
      KAFKA_PRODUCER: otherProducer,
    });
    return ingestRate(ing, TICKS);
  },
);

// The real data: the whole S&P 500 daily series (vega-datasets), ingest → transform → sink.
results.sp500Replay = await repeat("S&P 500 replay", "s (ingest+transform+sink)", async () => {
  const e = await freshPipeline();
  const ing = await worker("ingest", [], e);
  const tr = await worker("transform", ["--once"], e);
  const sk = await worker("sink", ["--once"], { ...e, CONSUMER_GROUP: fresh("group") });
  const stored = await storedBars(e.POSTGRES_URL);
  if (stored !== 6408) throw new Error(`S&P 500 replay stored ${stored} bars, expected 6408`);
  return ing.seconds + tr.seconds + sk.seconds;
});

// The whole pipeline at once — transform and sink running continuously while ingest sends — first
// unpaced (its maximum rate: ticks / time until the sink has caught up), then paced at 50% and
// 90% of that, where the sink reports ingest → acknowledged-write latency per bar.
const kafka = new kafkajs.Kafka({ brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING });

/** Records of `topic` the group has not committed yet. */
async function lagOf(group: string, topic: string): Promise<number> {
  let lag = 0n;
  for (const { high, committed } of (await partitionPositions(kafka, topic, group)).values()) {
    lag += high - (committed < 0n ? 0n : committed);
  }
  return Number(lag);
}

/** Polls a worker's /readyz every `everyMs` until it answers 200 (60 s at most). */
async function waitReady(port: number, everyMs = 100) {
  const until = performance.now() + 60_000;
  while (performance.now() < until) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      await res.body?.cancel();
      if (res.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`worker on port ${port} never became ready`);
}

/**
 * A quantile of `pipeline_ingest_latency_seconds{output}` from its buckets, interpolated within
 * the bucket as Prometheus' histogram_quantile does (so as exact as the bucket bounds).
 */
function histogramQuantile(metrics: string, output: string, quantile: number): number {
  const buckets: [number, number][] = [];
  for (const line of metrics.split("\n")) {
    if (!line.startsWith("pipeline_ingest_latency_seconds_bucket{")) continue;
    if (!line.includes(`output="${output}"`)) continue;
    const le = /le="([^"]+)"/.exec(line)![1];
    buckets.push([le === "+Inf" ? Infinity : Number(le), Number(line.split(" ").at(-1))]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return NaN;
  const rank = quantile * total;
  let [lower, below] = [0, 0];
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      return lower + (le - lower) * ((rank - below) / Math.max(count - below, 1));
    }
    [lower, below] = [le, count];
  }
  return NaN;
}

/** Runs transform and sink continuously; ingest sends `ticks` at `rate` ticks/s (0: unpaced). */
async function continuous(rate: number, ticks: number): Promise<Record<string, number>> {
  const e = await freshPipeline();
  const ports = { transform: 19910 + (seq % 40), sink: 19960 + (seq % 40) };
  const spawn = (name: "transform" | "sink", group: string) =>
    new Deno.Command(deno, {
      args: taskArgs(name),
      cwd: root,
      env: { ...e, CONSUMER_GROUP: group, HTTP_PORT: String(ports[name]), LOG_LEVEL: "warn" },
      stdout: "null",
      stderr: "null",
    }).spawn();
  const groups = { transform: fresh("group"), sink: fresh("group") };
  const running = [spawn("transform", groups.transform), spawn("sink", groups.sink)];
  try {
    await waitReady(ports.transform);
    await waitReady(ports.sink);
    const started = performance.now();
    // Synthetic ticks are 100 ms apart in event time: ×(rate/10) replays them at `rate`.
    const ing = await worker("ingest", synthetic(ticks), {
      ...e,
      REPLAY_SPEED: String(rate / 10),
    });
    const ingested = performance.now();
    while (
      (await lagOf(groups.transform, e.TICKS_TOPIC)) + (await lagOf(groups.sink, e.BARS_TOPIC)) > 0
    ) {
      if (performance.now() - ingested > 300_000) throw new Error("pipeline never caught up");
      await new Promise((r) => setTimeout(r, 100));
    }
    const caughtUp = performance.now();
    const metrics = await (await fetch(`http://127.0.0.1:${ports.sink}/metrics`)).text();
    const q = (output: string, quantile: number) =>
      histogramQuantile(metrics, output, quantile) * 1000;
    return {
      rate: ticks / ((caughtUp - started) / 1000),
      sent: ticks / ing.seconds,
      catchUpMs: caughtUp - ingested,
      p50: q("postgres", 0.5),
      p99: q("postgres", 0.99),
      esP50: q("elasticsearch", 0.5),
      esP99: q("elasticsearch", 0.99),
    };
  } finally {
    for (const child of running) child.kill("SIGTERM");
    await Promise.all(running.map((c) => c.status));
  }
}

say("the whole pipeline at once, unpaced ...");
results.e2eConcurrent = await repeat(
  "pipeline at once",
  "ticks/s (ingest start → sink caught up, all three running)",
  async () => (await continuous(0, TICKS)).rate,
);
const maxRate = results.e2eConcurrent.median;
for (const share of [0.5, 0.9]) {
  const rate = Math.round(maxRate * share);
  const runs: Record<string, number>[] = [];
  for (let i = 0; i < RUNS; i++) {
    say(`  ${share * 100}% load: ${rate} ticks/s for ${LATENCY_SECONDS} s ...`);
    runs.push(await continuous(rate, rate * LATENCY_SECONDS));
    const r = runs.at(-1)!;
    say(
      `  ${share * 100}% load run ${i + 1}: sent ${r.sent.toFixed(0)} ticks/s; p50 ${
        r.p50.toFixed(0)
      } ms, p99 ${r.p99.toFixed(0)} ms (PostgreSQL); caught up ${
        r.catchUpMs.toFixed(0)
      } ms after the last tick`,
    );
  }
  const pct = share * 100;
  const at = `at ${rate} ticks/s`;
  results[`latencyP50_${pct}pct`] = stat(runs.map((r) => r.p50), `ms ingest → PostgreSQL ${at}`);
  results[`latencyP99_${pct}pct`] = stat(runs.map((r) => r.p99), `ms ingest → PostgreSQL ${at}`);
  results[`latencyEsP50_${pct}pct`] = stat(runs.map((r) => r.esP50), `ms → Elasticsearch ${at}`);
  results[`latencyEsP99_${pct}pct`] = stat(runs.map((r) => r.esP99), `ms → Elasticsearch ${at}`);
}

// Limits of the stores, with rows and documents of the bars' shape.
const barCount = results.barsStored.median;
say(`PostgreSQL COPY of ${Math.max(barCount, 100_000)} bar rows (bars' primary key) ...`);
const copyRows = Math.max(barCount, 100_000);
const csvPath = `${root}.native/bench-bars.csv`;
{
  const lines: string[] = [];
  for (let i = 0; i < copyRows; i++) {
    lines.push(
      `SYN${i % SYMBOLS},1m,${
        new Date(Date.UTC(2024, 0, 2) + i * 60_000).toISOString()
      },1,2,0.5,1.5,100,10,1.2`,
    );
  }
  await Deno.writeTextFile(csvPath, lines.join("\n") + "\n");
}
results.postgresCopy = await repeat("postgres COPY", "rows/s", async () => {
  const table = fresh("copy").replaceAll("-", "_");
  await psql(
    `create table ${table} (symbol text, interval text, period_start timestamptz, open float8, high float8, low float8, close float8, volume float8, trades int8, vwap float8, primary key (symbol, interval, period_start))`,
  );
  const r = await measure("psql", [pgUrl, "-c", `\\copy ${table} from '${csvPath}' csv`]);
  await psql(`drop table ${table}`);
  return copyRows / r.seconds;
});

say("Elasticsearch _bulk, doubling the batch size ...");
const esUrl = `http://127.0.0.1:${env.ELASTICSEARCH_PORT}`;
async function bulkRate(batch: number, docs: number): Promise<number> {
  const index = fresh("bulk");
  const started = performance.now();
  for (let i = 0; i < docs; i += batch) {
    const lines: string[] = [];
    for (let k = i; k < Math.min(docs, i + batch); k++) {
      lines.push(JSON.stringify({ index: { _index: index, _id: `SYN|1m|${k}` } }));
      lines.push(JSON.stringify({
        symbol: `SYN${k % SYMBOLS}`,
        interval: "1m",
        period_start: new Date(Date.UTC(2024, 0, 2) + k * 60_000).toISOString(),
        open: 1,
        high: 2,
        low: 0.5,
        close: 1.5,
        volume: 100,
        trades: 10,
        vwap: 1.2,
        ret: 0.01,
        log_ret: 0.01,
        sma: 1.4,
        ema: 1.4,
        rsi: 55,
        volatility: 0.2,
        zscore: 0.3,
      }));
    }
    const res = await fetch(`${esUrl}/_bulk`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: lines.join("\n") + "\n",
    });
    const body = await res.json();
    if (body.errors) throw new Error("bulk errors in the limit test");
  }
  const rate = docs / ((performance.now() - started) / 1000);
  await fetch(`${esUrl}/${index}`, { method: "DELETE" });
  return rate;
}
let best = { batch: 0, rate: 0 };
for (let batch = 250; batch <= 8000; batch *= 2) {
  const rate = await bulkRate(batch, 40_000);
  say(`  bulk ${batch} docs/request: ${rate.toFixed(0)} docs/s`);
  if (rate > best.rate) best = { batch, rate };
}
results.elasticsearchBulk = await repeat(
  `elasticsearch bulk @${best.batch}`,
  "docs/s",
  () => bulkRate(best.batch, 100_000),
);

// Scale-out: 1 and 2 transform replicas in one group over 6 partitions, on ticks of enough
// symbols that the partitions are about even (with 20, one partition holds 40%).
say(`transform scale-out (${SCALE_SYMBOLS} symbols) ...`);
const scaleTopic = fresh("scale-ticks");
await createTopic(scaleTopic);
await worker("ingest", synthetic(TICKS, SCALE_SYMBOLS), {
  TICKS_TOPIC: scaleTopic,
  KAFKA_PRODUCER: PRODUCER,
});
{
  const positions = await partitionPositions(kafka, scaleTopic, fresh("group"));
  const biggest = Math.max(...[...positions.values()].map((p) => Number(p.high))) / TICKS;
  results.scalePartitionShare = stat([biggest * 100], "% of ticks in the biggest partition");
}
async function replicas(n: number): Promise<number> {
  const e = {
    KAFKA_PRODUCER: PRODUCER,
    TICKS_TOPIC: scaleTopic,
    BARS_TOPIC: fresh("bars"),
    TRANSFORM_STATE_TOPIC: fresh("state"),
    CONSUMER_GROUP: fresh("group"),
    DLQ_TOPIC: fresh("dlq"),
  };
  // The rate between 10% and 90% committed: start-up and the group's joining are left out.
  let done = false;
  const all = Promise.all(Array.from({ length: n }, () => worker("transform", ["--once"], e)))
    .finally(() => (done = true));
  const marks: number[] = [];
  while (!done && marks.length < 2) {
    const consumed = TICKS - await lagOf(e.CONSUMER_GROUP, scaleTopic).catch(() => TICKS);
    if (consumed >= TICKS * (marks.length === 0 ? 0.1 : 0.9)) marks.push(performance.now());
    await new Promise((r) => setTimeout(r, 100));
  }
  await all;
  return marks.length === 2 ? (0.8 * TICKS) / ((marks[1] - marks[0]) / 1000) : NaN;
}
const steady = "ticks/s between 10% and 90% committed";
results.transform1 = await repeat("transform x1", steady, () => replicas(1));
results.transform2 = await repeat("transform x2", steady, () => replicas(2));

// Start to ready.
results.startToReady = await repeat("transform start→ready", "ms", async () => {
  const port = 19900 + Math.floor(Math.random() * 90);
  const started = performance.now();
  const child = new Deno.Command(deno, {
    args: taskArgs("transform"),
    cwd: root,
    env: {
      HTTP_PORT: String(port),
      LOG_LEVEL: "warn",
      CONSUMER_GROUP: fresh("group"),
      TICKS_TOPIC: lastTicksTopic,
      BARS_TOPIC: fresh("bars"),
      TRANSFORM_STATE_TOPIC: fresh("state"),
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitReady(port, 25);
    return performance.now() - started;
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
});

// The seed's Python services on the same data.
if (!flags["no-python"]) {
  say("Python peers: kafka-python producer, pandas transform, psycopg2 storage ...");
  try {
    await Deno.stat(`${venv}/bin/python`);
  } catch {
    await measure("python3", ["-m", "venv", venv]);
  }
  await measure(`${venv}/bin/pip`, [
    "install",
    "-q",
    "kafka-python==2.0.2",
    "pandas",
    "psycopg2-binary",
  ]);
  const ticksCsv = `${root}.native/bench-ticks.csv`;
  {
    const gen = syntheticTicks({
      seed: 42,
      symbols: SYMBOLS,
      start: Date.parse("2024-01-02T14:30:00Z"),
      stepMs: 100,
    });
    const lines = ["symbol,ts,price,size"];
    for (let i = 0; i < TICKS; i++) {
      const t = gen.next().value!;
      lines.push(`${t.symbol},${new Date(t.ts).toISOString()},${t.price},${t.size}`);
    }
    await Deno.writeTextFile(ticksCsv, lines.join("\n") + "\n");
  }
  const py: {
    produce: number;
    transform: number;
    storage: number;
    e2e: number;
    rss: Record<string, number>;
  }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const ticks = fresh("py-ticks"),
      bars = fresh("py-bars"),
      db = fresh("pydb").replaceAll("-", "_");
    await createTopic(ticks);
    await createTopic(bars);
    await psql(`create database ${db}`);
    const p = await measure(`${venv}/bin/python`, [
      `${root}scripts/bench/producer.py`,
      brokers,
      ticks,
      ticksCsv,
    ]);
    const t = await measure(`${venv}/bin/python`, [
      `${root}scripts/bench/transform.py`,
      brokers,
      ticks,
      bars,
    ]);
    const s = await measure(`${venv}/bin/python`, [
      `${root}scripts/bench/storage.py`,
      brokers,
      bars,
      `host=127.0.0.1 port=${env.POSTGRES_PORT} user=${env.POSTGRES_USER} dbname=${db} password=${pgPassword}`,
    ]);
    const [pj, tj, sj] = [p, t, s].map((x) => JSON.parse(x.out.trim().split("\n").at(-1)!));
    py.push({
      produce: pj.rate,
      transform: tj.rate,
      storage: sj.rate,
      e2e: TICKS / (pj.seconds + tj.seconds + sj.seconds),
      rss: { producer: p.peakRssMb, transform: t.peakRssMb, storage: s.peakRssMb },
    });
    say(
      `python run ${i + 1}: produce ${pj.rate.toFixed(0)}/s, transform ${
        tj.rate.toFixed(0)
      } ticks/s, storage ${sj.rate.toFixed(0)} rows/s, e2e ${py.at(-1)!.e2e.toFixed(0)} ticks/s`,
    );
  }
  results.pythonProduce = stat(py.map((r) => r.produce), "records/s");
  results.pythonTransform = stat(py.map((r) => r.transform), "ticks/s");
  results.pythonStorage = stat(py.map((r) => r.storage), "rows/s into PostgreSQL only");
  results.pythonE2e = stat(py.map((r) => r.e2e), "ticks/s (sequential)");
  for (const w of ["producer", "transform", "storage"]) {
    results[`pythonPeakRss_${w}`] = stat(py.map((r) => r.rss[w]), "MiB");
  }
}

// Ratios the issue asks for.
const m = (k: string) => results[k]?.median ?? NaN;
const ours = Math.max(m("peakRss_ingest"), m("peakRss_transform"), m("peakRss_sink"));
const theirs = Math.max(
  m("pythonPeakRss_producer"),
  m("pythonPeakRss_transform"),
  m("pythonPeakRss_storage"),
);
const ratios = [
  ["ingest / Kafka Java producer", m("ingest") / m("kafkaJavaProduce"), 0.5],
  ["sink rows/s / raw COPY rows/s", m("sinkPostgres") / m("postgresCopy"), 0.5],
  ["sink docs/s / raw bulk docs/s", m("sinkElasticsearch") / m("elasticsearchBulk"), 0.7],
  ["end-to-end / Python services", m("e2e") / m("pythonE2e"), 3],
  ["peak RSS / Python's (lower is better)", ours / theirs, 0.5],
  ["transform ×2 / ×1", m("transform2") / m("transform1"), 1.7],
] as const;

const fmt = (n: number) => Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(2)) : "n/a";
const table = [
  `Machine: ${navigator.hardwareConcurrency} cores, ${
    (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(1)
  } GiB; Deno ${Deno.version.deno}, Kafka ${env.KAFKA_VERSION}, Elasticsearch ${env.ELASTICSEARCH_VERSION}, PostgreSQL ${env.POSTGRES_VERSION}; ${TICKS} synthetic ticks, ${SYMBOLS} symbols; median of ${RUNS} runs (min–max).`,
  "",
  "| figure | median | min | max | unit |",
  "| --- | ---: | ---: | ---: | --- |",
  ...Object.entries(results).map(([k, s]) =>
    `| ${k} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} | ${s.unit} |`
  ),
  "",
  "| ratio | value | target | met |",
  "| --- | ---: | ---: | --- |",
  ...ratios.map(([name, value, target]) => {
    const met = name.startsWith("peak RSS") ? value <= target : value >= target;
    return `| ${name} | ${fmt(value)} | ${name.startsWith("peak RSS") ? "≤" : "≥"} ${target} | ${
      Number.isFinite(value) ? (met ? "met" : "not met") : "n/a"
    } |`;
  }),
].join("\n");
await Deno.mkdir(`${root}bench`, { recursive: true });
await Deno.writeTextFile(
  `${root}bench/results.json`,
  JSON.stringify(
    { at: new Date().toISOString(), ticks: TICKS, symbols: SYMBOLS, runs: RUNS, results, ratios },
    null,
    2,
  ),
);
await Deno.writeTextFile(`${root}bench/results.md`, table + "\n");
console.log(table);
