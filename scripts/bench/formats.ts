/**
 * Avro against JSON on the same synthetic ticks: bytes a record on the wire (ticks and bars
 * topics), CPU a record of ingest, transform and sink, and the end-to-end rate — each worker
 * `--once` on fresh topics per run, with RECORD_FORMAT the only difference.
 *
 * @module
 */
import { readToEnd } from "../../lib/connectors/kafka/mod.ts";
import { schemaRegistryUrl } from "../infra/schema_registry.ts";
import {
  type Figures,
  fresh,
  freshPipeline,
  kafka,
  say,
  settings,
  stat,
  synthetic,
  worker,
} from "./harness.ts";

/** Mean bytes of a record's value in `topic` (streamed, not held). */
async function bytesPerRecord(topic: string): Promise<number> {
  let bytes = 0, records = 0;
  await readToEnd(kafka, topic, undefined, (r) => {
    bytes += r.value?.byteLength ?? 0;
    records++;
  });
  return bytes / records;
}

export async function avroAgainstJson(): Promise<Figures> {
  // A quarter of the main run's ticks: two formats × runs, and both topics read back for sizes.
  const ticks = Math.max(50_000, Math.round(settings.ticks / 4));
  const figures: Figures = {};
  for (const format of ["json", "avro"] as const) {
    const rows: Record<string, number>[] = [];
    for (let i = 0; i < settings.runs; i++) {
      const e: Record<string, string> = {
        ...(await freshPipeline()),
        RECORD_FORMAT: format,
        SCHEMA_REGISTRY_URL: schemaRegistryUrl,
      };
      const ing = await worker("ingest", synthetic(ticks), e);
      const tr = await worker("transform", ["--once"], e);
      const sk = await worker("sink", ["--once"], { ...e, CONSUMER_GROUP: fresh("group") });
      const cpu = (w: typeof ing) => w.stopped.cpuSeconds ?? w.cpuSeconds;
      const versions = sk.stopped.recordsIn;
      rows.push({
        tickBytes: await bytesPerRecord(e.TICKS_TOPIC),
        barBytes: await bytesPerRecord(e.BARS_TOPIC),
        cpuIngest: (cpu(ing) / ticks) * 1e6,
        cpuTransform: (cpu(tr) / ticks) * 1e6,
        cpuSink: (cpu(sk) / versions) * 1e6,
        e2e: ticks / (ing.seconds + tr.seconds + sk.seconds),
      });
      const r = rows.at(-1)!;
      say(
        `${format} run ${i + 1}: ${r.tickBytes.toFixed(1)} B a tick, ${
          r.barBytes.toFixed(1)
        } B a bar; ` +
          `CPU ingest ${r.cpuIngest.toFixed(2)} µs, transform ${r.cpuTransform.toFixed(2)} µs, ` +
          `sink ${r.cpuSink.toFixed(1)} µs a bar version; e2e ${r.e2e.toFixed(0)} ticks/s`,
      );
    }
    const of = (k: string, unit: string) => stat(rows.map((r) => r[k]), unit);
    figures[`${format}_tickBytes`] = of("tickBytes", `bytes a tick on the wire (${ticks} ticks)`);
    figures[`${format}_barBytes`] = of("barBytes", "bytes a bar version on the wire");
    figures[`${format}_cpuIngest`] = of("cpuIngest", "µs CPU a record, ingest");
    figures[`${format}_cpuTransform`] = of("cpuTransform", "µs CPU a tick, transform");
    figures[`${format}_cpuSink`] = of("cpuSink", "µs CPU a bar version, sink");
    figures[`${format}_e2e`] = of("e2e", "ticks/s end to end (sequential)");
  }
  return figures;
}
