/**
 * Python peers on the same data and servers, each service reporting its own figures as a JSON
 * last line (CPU seconds from /proc as well):
 * - the seed's services as it would write them: a kafka-python producer, a pandas transform and a
 *   psycopg2 storage service into PostgreSQL only (`producer.py`, `transform.py`, `storage.py`);
 * - the strongest a performance-minded engineer would write in 2026 (`strong/`): confluent-kafka
 *   (librdkafka) both ways, orjson, polars, psycopg 3 COPY into staging tables and one upsert each,
 *   and the Elasticsearch client's parallel_bulk — both stores, like our sink.
 *
 * @module
 */
import { syntheticTicks } from "../../lib/market/mod.ts";
import {
  brokers,
  createTopic,
  env,
  type Figures,
  fresh,
  measure,
  pgPassword,
  psql,
  root,
  say,
  settings,
  stat,
} from "./harness.ts";

/** A project-local venv with `packages` (pinned) installed. */
async function venv(name: string, packages: string[]): Promise<string> {
  const dir = `${root}.native/${name}`;
  try {
    await Deno.stat(`${dir}/bin/python`);
  } catch {
    await measure("python3", ["-m", "venv", dir]);
  }
  await measure(`${dir}/bin/pip`, ["install", "-q", ...packages]);
  return `${dir}/bin/python`;
}

/** The bench's synthetic ticks as a CSV file (the same seed and symbols as ingest's). */
async function ticksCsv(): Promise<string> {
  const path = `${root}.native/bench-ticks.csv`;
  const gen = syntheticTicks({
    seed: 42,
    symbols: settings.symbols,
    start: Date.parse("2024-01-02T14:30:00Z"),
    stepMs: 100,
  });
  const lines = ["symbol,ts,price,size"];
  for (let i = 0; i < settings.ticks; i++) {
    const t = gen.next().value!;
    lines.push(`${t.symbol},${new Date(t.ts).toISOString()},${t.price},${t.size}`);
  }
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}

/** The last line of a peer's output: its own figures. */
const figuresOf = (p: { out: string }) => JSON.parse(p.out.trim().split("\n").at(-1)!);

/**
 * One run of a set of peers (`dir`: their scripts under scripts/bench/) on fresh topics and a
 * fresh database: producer, then transform, then storage (with `storageArgs` after the DSN).
 */
async function peerRun(python: string, dir: string, csv: string, storageArgs: string[] = []) {
  const ticksTopic = fresh("py-ticks"),
    bars = fresh("py-bars"),
    db = fresh("pydb").replaceAll("-", "_");
  await createTopic(ticksTopic);
  await createTopic(bars);
  await psql(`create database ${db}`);
  const peer = (script: string, ...args: string[]) =>
    measure(python, [`${root}scripts/bench/${dir}${script}`, ...args]);
  const p = await peer("producer.py", brokers, ticksTopic, csv);
  const t = await peer("transform.py", brokers, ticksTopic, bars);
  const dsn =
    `host=127.0.0.1 port=${env.POSTGRES_PORT} user=${env.POSTGRES_USER} dbname=${db} password=${pgPassword()}`;
  const s = await peer("storage.py", brokers, bars, dsn, ...storageArgs);
  const [pj, tj, sj] = [p, t, s].map(figuresOf);
  return { p, t, s, pj, tj, sj };
}

/** The seed's peers (kafka-python, pandas, psycopg2). */
export async function pythonPeers(): Promise<Figures> {
  const { ticks } = settings;
  say("Python peers: kafka-python producer, pandas transform, psycopg2 storage ...");
  const python = await venv("bench-venv", ["kafka-python==2.0.2", "pandas", "psycopg2-binary"]);
  const csv = await ticksCsv();
  const py: {
    produce: number;
    transform: number;
    storage: number;
    e2e: number;
    rss: Record<string, number>;
  }[] = [];
  for (let i = 0; i < settings.runs; i++) {
    const { p, t, s, pj, tj, sj } = await peerRun(python, "", csv);
    py.push({
      produce: pj.rate,
      transform: tj.rate,
      storage: sj.rate,
      e2e: ticks / (pj.seconds + tj.seconds + sj.seconds),
      rss: { producer: p.peakRssMb, transform: t.peakRssMb, storage: s.peakRssMb },
    });
    say(
      `python run ${i + 1}: produce ${pj.rate.toFixed(0)}/s, transform ${
        tj.rate.toFixed(0)
      } ticks/s, storage ${sj.rate.toFixed(0)} rows/s, e2e ${py.at(-1)!.e2e.toFixed(0)} ticks/s`,
    );
  }
  const figures: Figures = {
    pythonProduce: stat(py.map((r) => r.produce), "records/s"),
    pythonTransform: stat(py.map((r) => r.transform), "ticks/s"),
    pythonStorage: stat(py.map((r) => r.storage), "rows/s into PostgreSQL only"),
    pythonE2e: stat(py.map((r) => r.e2e), "ticks/s (sequential)"),
  };
  for (const w of ["producer", "transform", "storage"]) {
    figures[`pythonPeakRss_${w}`] = stat(py.map((r) => r.rss[w]), "MiB");
  }
  return figures;
}

/** The strongest peers (confluent-kafka, orjson, polars, psycopg 3 COPY, parallel_bulk). */
export async function strongPythonPeers(): Promise<Figures> {
  const { ticks } = settings;
  say("strong Python peers: confluent-kafka, orjson, polars, psycopg 3 COPY, parallel_bulk ...");
  const python = await venv("bench-strong-venv", [
    "confluent-kafka==2.16.1",
    "orjson==3.13.0",
    "polars==2.1.0",
    "psycopg[binary]==3.3.9",
    "elasticsearch==8.6.2",
  ]);
  const csv = await ticksCsv();
  const runs: Record<string, number>[] = [];
  for (let i = 0; i < settings.runs; i++) {
    const { p, t, s, pj, tj, sj } = await peerRun(python, "strong/", csv, [
      `http://127.0.0.1:${env.ELASTICSEARCH_PORT}`,
      fresh("pys-index"),
    ]);
    runs.push({
      produce: pj.rate,
      transform: tj.rate,
      storage: sj.rate,
      e2e: ticks / (pj.seconds + tj.seconds + sj.seconds),
      cpuProduce: (pj.cpuSeconds / pj.records) * 1e6,
      cpuTransform: (tj.cpuSeconds / tj.records) * 1e6,
      cpuStorage: (sj.cpuSeconds / sj.records) * 1e6,
      rssProducer: p.peakRssMb,
      rssTransform: t.peakRssMb,
      rssStorage: s.peakRssMb,
    });
    const r = runs.at(-1)!;
    say(
      `strong python run ${i + 1}: produce ${r.produce.toFixed(0)}/s (${
        r.cpuProduce.toFixed(1)
      } µs CPU), transform ${r.transform.toFixed(0)} ticks/s (${
        r.cpuTransform.toFixed(1)
      } µs), storage ${r.storage.toFixed(0)} bars/s (${r.cpuStorage.toFixed(1)} µs), e2e ${
        r.e2e.toFixed(0)
      } ticks/s`,
    );
  }
  const of = (k: string, unit: string) => stat(runs.map((r) => r[k]), unit);
  return {
    strongProduce: of("produce", "records/s (confluent-kafka)"),
    strongTransform: of("transform", "ticks/s (polars, whole topic)"),
    strongStorage: of("storage", "bars/s into PostgreSQL and Elasticsearch"),
    strongE2e: of("e2e", "ticks/s (sequential)"),
    strongCpuProduce: of("cpuProduce", "µs CPU a record (whole process)"),
    strongCpuTransform: of("cpuTransform", "µs CPU a tick (whole process)"),
    strongCpuStorage: of("cpuStorage", "µs CPU a bar stored (whole process)"),
    strongPeakRss_producer: of("rssProducer", "MiB"),
    strongPeakRss_transform: of("rssTransform", "MiB"),
    strongPeakRss_storage: of("rssStorage", "MiB"),
  };
}
