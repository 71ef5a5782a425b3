/**
 * Lineage: every record carries the ingest time of the oldest input behind it, from trigger to
 * outputs, without worker code. A record that enters the pipeline has none yet: its own
 * timestamp (the time it was produced) is its ingest time. A stream slice's lineage is, per key,
 * the oldest ingest time among its records; while the handler runs it is in scope, so outputs
 * stamp it on what they write ({@link stampLineage}) and note when they acknowledged
 * ({@link acknowledged}). After the slice, the runtime observes ingest → acknowledged for each
 * output and key in `pipeline_ingest_latency_seconds`.
 *
 * @example
 * ```ts
 * const lineage = lineageOf([
 *   { topic: "t", partition: 0, offset: "0", key: "AAPL", value: null, headers: {}, timestamp: "1000" },
 *   { topic: "t", partition: 0, offset: "1", key: "AAPL", value: null, headers: {}, timestamp: "900" },
 * ]);
 * // lineage.byKey.get("AAPL") === 900
 * ```
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { WorkerMetrics } from "./metrics.ts";
import type { StreamRecord } from "./stream.ts";

/** The header carrying a record's ingest time (milliseconds since the epoch). */
export const lineageHeader = "ingested-at";

/** The ingest times behind one slice, and when each output acknowledged its writes. */
export interface Lineage {
  /** The oldest ingest time of the slice. */
  oldest: number;
  /** The oldest ingest time of each key. */
  byKey: Map<string, number>;
  /** The time each output last acknowledged a write of this slice. */
  acks: Map<string, number>;
}

/** The ingest time of one consumed record: its header, or its own timestamp at the origin. */
export function ingestTime(record: StreamRecord): number {
  const stamped = record.headers[lineageHeader];
  const at = stamped === undefined ? Number(record.timestamp) : Number(stamped);
  return Number.isFinite(at) && at > 0 ? at : Number(record.timestamp);
}

/** The lineage of a slice's records. */
export function lineageOf(records: readonly StreamRecord[]): Lineage {
  const byKey = new Map<string, number>();
  let oldest = Infinity;
  for (const record of records) {
    const at = ingestTime(record);
    if (!(at > 0)) continue;
    if (at < oldest) oldest = at;
    const key = record.key ?? "";
    const seen = byKey.get(key);
    if (seen === undefined || at < seen) byKey.set(key, at);
  }
  return { oldest, byKey, acks: new Map() };
}

const scope = new AsyncLocalStorage<Lineage>();

/** Runs `work` with `lineage` in scope for the outputs it writes to. */
export function withLineage<T>(lineage: Lineage, work: () => Promise<T>): Promise<T> {
  return scope.run(lineage, work);
}

/**
 * Stamps the lineage in scope on records about to be written: each gets the ingest time of its
 * key (or the slice's oldest), unless it carries one already. Outside a slice (at the origin)
 * records go out as they are.
 */
export function stampLineage<R extends { key: string; headers?: Record<string, string> }>(
  records: R[],
): R[] {
  const lineage = scope.getStore();
  if (!lineage || !Number.isFinite(lineage.oldest)) return records;
  // A key's records nearly always share one headers object (one per record type): its stamped
  // copy is made once per key, not once per record.
  const stamped = new Map<
    string,
    { from?: Record<string, string>; headers: Record<string, string> }
  >();
  return records.map((r) => {
    if (r.headers?.[lineageHeader] !== undefined) return r;
    let copy = stamped.get(r.key);
    if (copy === undefined || copy.from !== r.headers) {
      const at = lineage.byKey.get(r.key) ?? lineage.oldest;
      copy = { from: r.headers, headers: { ...r.headers, [lineageHeader]: String(at) } };
      stamped.set(r.key, copy);
    }
    return { ...r, headers: copy.headers };
  });
}

/** An output acknowledged a write of the slice in scope (a no-op outside a slice). */
export function acknowledged(output: string, at = Date.now()): void {
  scope.getStore()?.acks.set(output, at);
}

/** Observes ingest → acknowledged of each output, once per key of the slice. */
export function observeLineage(lineage: Lineage, metrics: WorkerMetrics): void {
  for (const [output, ackedAt] of lineage.acks) {
    for (const at of lineage.byKey.values()) {
      metrics.ingestLatency.observe({ output }, Math.max(0, ackedAt - at) / 1000);
    }
  }
}
