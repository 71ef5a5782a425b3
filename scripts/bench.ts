/**
 * `deno task bench`: how fast the pipeline is on this machine, against what the hardware and the
 * servers allow (Kafka's Java perf tools, PostgreSQL COPY, Elasticsearch _bulk) and against the
 * seed's Python services (kafka-python, pandas, psycopg2) on the same data and servers.
 * Each scenario in `scripts/bench/` returns its figures; this file runs them in order and writes
 * bench/results.json and bench/results.md, and prints the table. Not part of the tests.
 *
 *   deno task bench [--ticks 1000000] [--runs 3] [--symbols 20] [--latency-seconds 30] [--no-python]
 */
import { deno, env, type Figures, measure, say, settings } from "./bench/harness.ts";
import { elasticsearchBulk, kafkaJava, postgresCopy } from "./bench/limits.ts";
import { latencyUnderLoad } from "./bench/latency.ts";
import { otherProducer, sequential, sp500Replay } from "./bench/pipeline.ts";
import { pythonPeers } from "./bench/python.ts";
import { scaleOut, startToReady } from "./bench/scale.ts";

const TICKS = settings.ticks, SYMBOLS = settings.symbols, RUNS = settings.runs;
say(
  `machine: ${navigator.hardwareConcurrency} cores, ${
    (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(1)
  } GiB; ${TICKS} ticks, ${SYMBOLS} symbols, ${RUNS} runs`,
);
await measure(deno, ["task", "infra", "up"]);

const results: Figures = {};
Object.assign(results, await kafkaJava());
const ours = await sequential();
Object.assign(results, ours.figures);
Object.assign(results, await otherProducer());
Object.assign(results, await sp500Replay());
Object.assign(results, await latencyUnderLoad());
Object.assign(results, await postgresCopy(results.barsStored.median));
Object.assign(results, await elasticsearchBulk());
Object.assign(results, await scaleOut());
Object.assign(results, await startToReady(ours.ticksTopic));
if (settings.python) Object.assign(results, await pythonPeers());

// Ratios the issue asks for.
const m = (k: string) => results[k]?.median ?? NaN;
const oursRss = Math.max(m("peakRss_ingest"), m("peakRss_transform"), m("peakRss_sink"));
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
  ["peak RSS / Python's (lower is better)", oursRss / theirs, 0.5],
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
await Deno.mkdir(new URL("../bench", import.meta.url), { recursive: true });
await Deno.writeTextFile(
  new URL("../bench/results.json", import.meta.url),
  JSON.stringify(
    { at: new Date().toISOString(), ticks: TICKS, symbols: SYMBOLS, runs: RUNS, results, ratios },
    null,
    2,
  ),
);
await Deno.writeTextFile(new URL("../bench/results.md", import.meta.url), table + "\n");
console.log(table);
