/**
 * The seed's Python services on the same data and servers: a kafka-python producer, a pandas
 * transform and a psycopg2 storage service (`producer.py`, `transform.py`, `storage.py`), each
 * reporting its own rate as a JSON last line.
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

const venv = `${root}.native/bench-venv`;

export async function pythonPeers(): Promise<Figures> {
  const { ticks, symbols } = settings;
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
  const gen = syntheticTicks({
    seed: 42,
    symbols,
    start: Date.parse("2024-01-02T14:30:00Z"),
    stepMs: 100,
  });
  const lines = ["symbol,ts,price,size"];
  for (let i = 0; i < ticks; i++) {
    const t = gen.next().value!;
    lines.push(`${t.symbol},${new Date(t.ts).toISOString()},${t.price},${t.size}`);
  }
  await Deno.writeTextFile(ticksCsv, lines.join("\n") + "\n");

  const py: {
    produce: number;
    transform: number;
    storage: number;
    e2e: number;
    rss: Record<string, number>;
  }[] = [];
  for (let i = 0; i < settings.runs; i++) {
    const ticksTopic = fresh("py-ticks"),
      bars = fresh("py-bars"),
      db = fresh("pydb").replaceAll("-", "_");
    await createTopic(ticksTopic);
    await createTopic(bars);
    await psql(`create database ${db}`);
    const python = (script: string, ...args: string[]) =>
      measure(`${venv}/bin/python`, [`${root}scripts/bench/${script}`, ...args]);
    const p = await python("producer.py", brokers, ticksTopic, ticksCsv);
    const t = await python("transform.py", brokers, ticksTopic, bars);
    const s = await python(
      "storage.py",
      brokers,
      bars,
      `host=127.0.0.1 port=${env.POSTGRES_PORT} user=${env.POSTGRES_USER} dbname=${db} password=${pgPassword}`,
    );
    // Each peer ends with one JSON line of its own figures.
    const [pj, tj, sj] = [p, t, s].map((x) => JSON.parse(x.out.trim().split("\n").at(-1)!));
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
