/**
 * `deno task bench`: how fast the pipeline is on this machine, against what the hardware and the
 * servers allow (Kafka's Java perf tools, PostgreSQL COPY, Elasticsearch _bulk) and against the
 * seed's Python services (kafka-python, pandas, psycopg2) on the same data and servers.
 * Writes bench/results.json and bench/results.md, and prints the table. Not part of the tests.
 *
 *   deno task bench [--ticks 1000000] [--runs 3] [--symbols 20] [--no-python]
 */
import { parseCommandLine } from "../lib/cli.ts";
import { loadComposeEnv } from "../lib/env_file.ts";
import { encodeTick, syntheticTicks } from "../lib/market/mod.ts";

const root = new URL("../", import.meta.url).pathname;
const env = loadComposeEnv(new URL("../", import.meta.url));
const { flags } = parseCommandLine(Deno.args, ["no-python"]);
const TICKS = Number(flags.ticks ?? 1_000_000);
const RUNS = Number(flags.runs ?? 3);
const SYMBOLS = Number(flags.symbols ?? 20);
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
say("Kafka Java producer perf test ...");
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

// Ours: ingest → transform → sink, each --once, on fresh topics per run.
const runsOfOurs: {
  ingest: number;
  transform: number;
  bars: number;
  sink: number;
  e2e: number;
  rss: Record<string, number>;
}[] = [];
let lastTicksTopic = "";
for (let i = 0; i < RUNS; i++) {
  const ticks = fresh("ticks"), bars = fresh("bars"), db = fresh("db").replaceAll("-", "_");
  await createTopic(ticks);
  await createTopic(bars);
  await psql(`create database ${db}`);
  const e = {
    TICKS_TOPIC: ticks,
    BARS_TOPIC: bars,
    DLQ_TOPIC: fresh("dlq"),
    TRANSFORM_STATE_TOPIC: fresh("state"),
    CONSUMER_GROUP: fresh("group"),
    POSTGRES_URL: `postgres://${env.POSTGRES_USER}@127.0.0.1:${env.POSTGRES_PORT}/${db}`,
    ELASTICSEARCH_INDEX: fresh("index"),
  };
  const ing = await worker("ingest", [
    "--source",
    "synthetic",
    "--synthetic-ticks",
    String(TICKS),
    "--synthetic-symbols",
    String(SYMBOLS),
  ], e);
  const ingestRate = Number(/"ratePerSecond":(\d+)/.exec(ing.out)?.[1] ?? TICKS / ing.seconds);
  const tr = await worker("transform", ["--once"], e);
  const sk = await worker("sink", ["--once"], { ...e, CONSUMER_GROUP: fresh("group") });
  const stored = Number(
    (await measure("psql", [e.POSTGRES_URL, "-tAc", "select count(*) from bars"])).out.trim(),
  );
  runsOfOurs.push({
    ingest: ingestRate,
    transform: TICKS / drainSeconds(tr),
    bars: stored,
    sink: stored / drainSeconds(sk),
    e2e: TICKS / (ing.seconds + tr.seconds + sk.seconds),
    rss: { ingest: ing.peakRssMb, transform: tr.peakRssMb, sink: sk.peakRssMb },
  });
  say(
    `ours run ${i + 1}: ingest ${ingestRate.toFixed(0)}/s, transform ${
      (TICKS / tr.seconds).toFixed(0)
    } ticks/s, sink ${(stored / sk.seconds).toFixed(0)} rows/s (${stored} bars), e2e ${
      (TICKS / (ing.seconds + tr.seconds + sk.seconds)).toFixed(0)
    } ticks/s`,
  );
  lastTicksTopic = ticks;
}
results.ingest = stat(runsOfOurs.map((r) => r.ingest), "records/s");
results.transform = stat(runsOfOurs.map((r) => r.transform), "ticks/s (drain, start-up excluded)");
results.sink = stat(runsOfOurs.map((r) => r.sink), "bars/s into PostgreSQL+Elasticsearch (drain)");
results.e2e = stat(runsOfOurs.map((r) => r.e2e), "ticks/s (ingest+transform+sink, sequential)");
results.barsStored = stat(runsOfOurs.map((r) => r.bars), "bars");
for (const w of ["ingest", "transform", "sink"]) {
  results[`peakRss_${w}`] = stat(runsOfOurs.map((r) => r.rss[w]), "MiB");
}

// Limits of the stores, with rows and documents of the bars' shape.
const barCount = results.barsStored.median;
say(`PostgreSQL COPY of ${Math.max(barCount, 100_000)} bar rows ...`);
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
    `create table ${table} (symbol text, interval text, period_start timestamptz, open float8, high float8, low float8, close float8, volume float8, trades int8, vwap float8)`,
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

// Scale-out: 1 and 2 transform replicas in one group over 6 partitions.
say("transform scale-out ...");
async function replicas(n: number): Promise<number> {
  const e = {
    TICKS_TOPIC: lastTicksTopic,
    BARS_TOPIC: fresh("bars"),
    TRANSFORM_STATE_TOPIC: fresh("state"),
    CONSUMER_GROUP: fresh("group"),
    DLQ_TOPIC: fresh("dlq"),
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: n }, () => worker("transform", ["--once"], e)));
  return TICKS / ((performance.now() - started) / 1000);
}
results.transform1 = await repeat("transform x1", "ticks/s", () => replicas(1));
results.transform2 = await repeat("transform x2", "ticks/s", () => replicas(2));

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
  let ms = NaN;
  for (let i = 0; i < 600; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      await res.body?.cancel();
      if (res.ok) {
        ms = performance.now() - started;
        break;
      }
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill("SIGTERM");
  await child.status;
  return ms;
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
  ["sink rows/s / raw COPY rows/s", m("sink") / m("postgresCopy"), 0.5],
  ["sink docs/s / raw bulk docs/s", m("sink") / m("elasticsearchBulk"), 0.7],
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
