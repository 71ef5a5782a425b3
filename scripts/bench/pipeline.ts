/**
 * Our pipeline, one worker after another (`--once` each) on fresh topics per run: ingest's rate,
 * transform's and sink's drain rates, the stores' write rates, end to end, CPU per record of each
 * worker and peak RSS; then the other producer library, and the real S&P 500 series.
 *
 * @module
 */
import {
  committedOf,
  createTopic,
  type Figures,
  fresh,
  freshPipeline,
  psql,
  repeat,
  say,
  settings,
  stat,
  synthetic,
  worker,
} from "./harness.ts";
import { SteadyWindow } from "./steady.ts";

/** Rows in the bars table of a run's database. */
const storedBars = async (postgresUrl: string) =>
  Number(await psql("select count(*) from bars", postgresUrl));

interface Run {
  ingest: number;
  transform: number;
  barsOut: number;
  bars: number;
  sink: number;
  sinkPgRows: number;
  sinkEsDocs: number;
  e2e: number;
  cpu: { ingest: number; transform: number; sink: number };
  /** µs CPU a record between 10% and 90% of the drain (start-up left out) */
  steadyCpu: { transform: number; sink: number };
  drain: { transform: number; sink: number };
  rss: Record<string, number>;
}

/** The sequential runs; also returns a ticks topic the other scenarios may reuse. */
export async function sequential(): Promise<{ figures: Figures; ticksTopic: string }> {
  const { ticks } = settings;
  const runs: Run[] = [];
  let ticksTopic = "";
  // One pass first, not counted: the servers' own JITs and caches (a broker or an Elasticsearch
  // just started by `infra up`) warm on it, as they are warm for the peers' later runs. After
  // `infra reset` the first counted pass stored 9.9k bars/s and the third 14.4k.
  say("our pipeline once, not counted (the servers warm up) ...");
  {
    const e = await freshPipeline();
    await worker("ingest", synthetic(ticks), e);
    await worker("transform", ["--once"], e);
    await worker("sink", ["--once"], e);
  }
  for (let i = 0; i < settings.runs; i++) {
    const e = await freshPipeline();
    const ing = await worker("ingest", synthetic(ticks), e);
    const trWindow = new SteadyWindow(() => committedOf(e.CONSUMER_GROUP, e.TICKS_TOPIC));
    const tr = await worker("transform", ["--once"], e, trWindow);
    const sinkGroup = fresh("group");
    const skWindow = new SteadyWindow(() => committedOf(sinkGroup, e.BARS_TOPIC));
    const sk = await worker("sink", ["--once"], { ...e, CONSUMER_GROUP: sinkGroup }, skWindow);
    const stored = await storedBars(e.POSTGRES_URL);
    const written = sk.stopped.recordsOut;
    const pgRows = (written["postgres:bars"] ?? 0) + (written["postgres:indicators"] ?? 0);
    const esDocs = written[`elasticsearch:${e.ELASTICSEARCH_INDEX}`] ?? 0;
    const seconds = (w: typeof ing) => w.stopped.runSeconds ?? w.seconds;
    const drain = { transform: seconds(tr), sink: seconds(sk) };
    const barsOut = sk.stopped.recordsIn;
    const steadyCpu = { transform: await trWindow.stop(ticks), sink: await skWindow.stop(barsOut) };
    const micros = (w: typeof ing, records: number) =>
      ((w.stopped.cpuSeconds ?? w.cpuSeconds) / records) * 1e6;
    runs.push({
      ingest: ticks / seconds(ing),
      transform: ticks / drain.transform,
      barsOut,
      bars: stored,
      sink: stored / drain.sink,
      sinkPgRows: pgRows / drain.sink,
      sinkEsDocs: esDocs / drain.sink,
      e2e: ticks / (ing.seconds + tr.seconds + sk.seconds),
      cpu: { ingest: micros(ing, ticks), transform: micros(tr, ticks), sink: micros(sk, barsOut) },
      steadyCpu,
      drain,
      rss: { ingest: ing.peakRssMb, transform: tr.peakRssMb, sink: sk.peakRssMb },
    });
    const r = runs.at(-1)!;
    say(
      `ours run ${i + 1}: ingest ${r.ingest.toFixed(0)}/s (${r.cpu.ingest.toFixed(1)} µs CPU), ` +
        `transform ${r.transform.toFixed(0)} ticks/s (${r.cpu.transform.toFixed(1)} µs; ` +
        `${r.steadyCpu.transform.toFixed(1)} past start-up), sink ${r.sink.toFixed(0)} bars/s ` +
        `(${r.cpu.sink.toFixed(1)} µs a bar version; ${
          r.steadyCpu.sink.toFixed(1)
        } past start-up): ` +
        `${r.sinkPgRows.toFixed(0)} PostgreSQL rows/s, ${r.sinkEsDocs.toFixed(0)} ES docs/s ` +
        `(${stored} bars), e2e ${r.e2e.toFixed(0)} ticks/s`,
    );
    ticksTopic = e.TICKS_TOPIC;
  }
  const of = (f: (r: Run) => number, unit: string) => stat(runs.map(f), unit);
  const figures: Figures = {
    cpuIngest: of((r) => r.cpu.ingest, "µs CPU a record (the run's window, from the worker)"),
    cpuTransform: of((r) => r.cpu.transform, "µs CPU a tick (drain window)"),
    cpuSink: of((r) => r.cpu.sink, "µs CPU a bar version consumed (drain window, both stores)"),
    cpuTransformSteady: of(
      (r) => r.steadyCpu.transform,
      "µs CPU a tick between 10% and 90% committed (/proc, start-up left out)",
    ),
    cpuSinkSteady: of(
      (r) => r.steadyCpu.sink,
      "µs CPU a bar version between 10% and 90% committed (/proc, start-up left out)",
    ),
    ingest: of((r) => r.ingest, `records/s (producer: ${settings.producer})`),
    transform: of((r) => r.transform, "ticks/s (drain, start-up excluded)"),
    transformBarsOut: of((r) => r.barsOut, "bar versions published"),
    transformBarsRate: of((r) => r.barsOut / r.drain.transform, "bar versions/s published"),
    sink: of((r) => r.sink, "bars stored/s (drain)"),
    sinkPostgres: of((r) => r.sinkPgRows, "rows/s upserted into PostgreSQL (bars + indicators)"),
    sinkElasticsearch: of((r) => r.sinkEsDocs, "docs/s indexed into Elasticsearch (drain)"),
    e2e: of((r) => r.e2e, "ticks/s (ingest+transform+sink, sequential)"),
    barsStored: of((r) => r.bars, "bars"),
  };
  for (const w of ["ingest", "transform", "sink"]) {
    figures[`peakRss_${w}`] = of((r) => r.rss[w], "MiB");
  }
  return { figures, ticksTopic };
}

/** Ingest with the producer library the bench does not use by default. */
export async function otherProducer(): Promise<Figures> {
  const other = settings.producer === "kafkajs" ? "platformatic" : "kafkajs";
  const rate = await repeat(`ingest with KAFKA_PRODUCER=${other}`, "records/s", async () => {
    const ticks = fresh("ticks");
    await createTopic(ticks);
    const ing = await worker("ingest", synthetic(settings.ticks), {
      TICKS_TOPIC: ticks,
      KAFKA_PRODUCER: other,
    });
    return settings.ticks / (ing.stopped.runSeconds ?? ing.seconds);
  });
  return { [`ingest_${other}`]: rate };
}

/** The whole S&P 500 daily series (vega-datasets): ingest → transform → sink. */
export async function sp500Replay(): Promise<Figures> {
  const sp500Replay = await repeat("S&P 500 replay", "s (ingest+transform+sink)", async () => {
    const e = await freshPipeline();
    const ing = await worker("ingest", [], e);
    const tr = await worker("transform", ["--once"], e);
    const sk = await worker("sink", ["--once"], { ...e, CONSUMER_GROUP: fresh("group") });
    const stored = await storedBars(e.POSTGRES_URL);
    if (stored !== 6408) throw new Error(`S&P 500 replay stored ${stored} bars, expected 6408`);
    return ing.seconds + tr.seconds + sk.seconds;
  });
  return { sp500Replay };
}
