/**
 * The Prometheus metrics every worker exports, on one prom-client registry.
 *
 * prom-client's default process collectors read `/proc/self`, which Deno only opens with all
 * permissions; under our narrow permissions they would report 0, so memory comes from
 * `Deno.memoryUsage()` instead and the defaults are not registered.
 *
 * @example
 * ```ts
 * const metrics = createMetrics("sink");
 * metrics.recordsIn.inc({ topic: "market.bars" }, 100);
 * const text = await metrics.registry.metrics();
 * ```
 * @module
 */
import client from "prom-client";

/** The worker's metrics; labels are documented on each. */
export interface WorkerMetrics {
  registry: client.Registry;
  /** records consumed, by topic */
  recordsIn: client.Counter<"topic">;
  /** records written, by output */
  recordsOut: client.Counter<"output">;
  /** handler + outputs + commit time of one batch */
  batchDuration: client.Histogram<never>;
  /** failed attempts, by kind (retriable, fatal) */
  errors: client.Counter<"kind">;
  /** records sent to the dead-letter topic, by reason */
  deadLetters: client.Counter<"reason">;
  /** high-water mark minus the next offset to process, by topic and partition */
  consumerLag: client.Gauge<"topic" | "partition">;
  /** 1 while connected and not draining */
  ready: client.Gauge<never>;
  /** unix time of the last batch that was fully written and committed */
  lastSuccess: client.Gauge<never>;
  /** from the ingest time of the oldest source record behind a write to the write's ack */
  ingestLatency: client.Histogram<"output">;
}

/** Creates the registry with every metric labelled `worker=<name>`. */
export function createMetrics(worker: string): WorkerMetrics {
  const registry = new client.Registry();
  registry.setDefaultLabels({ worker });
  const registers = [registry];
  const metrics: WorkerMetrics = {
    registry,
    recordsIn: new client.Counter({
      name: "worker_records_in_total",
      help: "Records consumed from the input",
      labelNames: ["topic"],
      registers,
    }),
    recordsOut: new client.Counter({
      name: "worker_records_out_total",
      help: "Records written to an output",
      labelNames: ["output"],
      registers,
    }),
    batchDuration: new client.Histogram({
      name: "worker_batch_duration_seconds",
      help: "Time to handle, write and commit one batch",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    errors: new client.Counter({
      name: "worker_errors_total",
      help: "Failed attempts by kind",
      labelNames: ["kind"],
      registers,
    }),
    deadLetters: new client.Counter({
      name: "worker_dead_letters_total",
      help: "Records sent to the dead-letter topic",
      labelNames: ["reason"],
      registers,
    }),
    consumerLag: new client.Gauge({
      name: "worker_consumer_lag",
      help: "Records behind the high-water mark",
      labelNames: ["topic", "partition"],
      registers,
    }),
    ready: new client.Gauge({
      name: "worker_ready",
      help: "1 while connected and not draining",
      registers,
    }),
    lastSuccess: new client.Gauge({
      name: "worker_last_success_timestamp_seconds",
      help: "Unix time of the last fully written and committed batch",
      registers,
    }),
    ingestLatency: new client.Histogram({
      name: "pipeline_ingest_latency_seconds",
      help:
        "Ingest time of the oldest source record behind a write, until the output acknowledged it",
      labelNames: ["output"],
      // A histogram, not a summary: cheap per observation (one per bar) and summable over replicas.
      buckets: [
        0.025,
        0.05,
        0.1,
        0.15,
        0.2,
        0.3,
        0.4,
        0.5,
        0.75,
        1,
        1.5,
        2,
        3,
        5,
        10,
        30,
        60,
        300,
      ],
      registers,
    }),
  };
  // Series exist from the start (at 0), so rate() and alerts see them before the first failure.
  for (const kind of ["retriable", "fatal"]) metrics.errors.inc({ kind }, 0);
  new client.Gauge({
    name: "worker_memory_rss_bytes",
    help: "Resident set size of the worker process",
    registers,
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
  new client.Gauge({
    name: "worker_memory_heap_used_bytes",
    help: "V8 heap in use",
    registers,
    collect() {
      this.set(Deno.memoryUsage().heapUsed);
    },
  });
  return metrics;
}

/** What a run did, for its last log line: records in, out per output, dead letters. */
export interface RunTotals {
  recordsIn: number;
  recordsOut: Record<string, number>;
  deadLetters: number;
}

export async function runTotals(m: WorkerMetrics): Promise<RunTotals> {
  const sum = async (metric: client.Counter<string>) =>
    (await metric.get()).values.reduce((total, v) => total + v.value, 0);
  const out: Record<string, number> = {};
  for (const v of (await m.recordsOut.get()).values) {
    out[String(v.labels.output)] = (out[String(v.labels.output)] ?? 0) + v.value;
  }
  return {
    recordsIn: await sum(m.recordsIn),
    recordsOut: out,
    deadLetters: await sum(m.deadLetters),
  };
}
