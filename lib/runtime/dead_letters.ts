/**
 * Dead letters: a record that can never succeed is written, unchanged, to the dead-letter topic
 * with why and where from in its headers (named like Kafka Connect's error context headers); the
 * rest of its slice goes on. They are durable before the slice is committed.
 *
 * @example
 * ```ts
 * import { RecordError } from "./record_error.ts";
 * const letters = deadLetterRecords("sink", [{
 *   record: { topic: "in", partition: 0, offset: "7", key: "k", value: null, headers: {}, timestamp: "0" },
 *   error: new RecordError("not JSON", undefined, "bad-json"),
 * }], new Date());
 * // letters[0].headers["dlq.reason"] === "bad-json"
 * ```
 * @module
 */
import type { Logger } from "./log.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { DeadLetterError } from "./record_error.ts";
import type { OutgoingRecord, Stream, StreamRecord } from "./stream.ts";

/** Headers a dead letter carries. */
export const deadLetterHeaders = {
  reason: "dlq.reason",
  message: "dlq.message",
  topic: "dlq.topic",
  partition: "dlq.partition",
  offset: "dlq.offset",
  worker: "dlq.worker",
  failedAt: "dlq.failed_at",
} as const;

/** A consumed record and why it can never succeed. */
export interface Failure {
  record: StreamRecord;
  error: DeadLetterError;
}

/** The records to write for `failures`: each original key, value and headers, plus the context. */
export function deadLetterRecords(
  worker: string,
  failures: Failure[],
  failedAt: Date,
): OutgoingRecord[] {
  const h = deadLetterHeaders;
  const at = failedAt.toISOString();
  return failures.map(({ record, error }) => ({
    key: record.key ?? "",
    value: record.value ?? new Uint8Array(),
    headers: {
      ...record.headers,
      [h.reason]: error.reason,
      [h.message]: error.message.slice(0, 1000),
      [h.topic]: record.topic,
      [h.partition]: String(record.partition),
      [h.offset]: record.offset,
      [h.worker]: worker,
      [h.failedAt]: at,
    },
  }));
}

/** Writes `failures` in one call, then counts and logs each. */
export async function sendDeadLetters(
  stream: Stream,
  worker: string,
  failures: Failure[],
  log: Logger,
  metrics: WorkerMetrics,
): Promise<void> {
  if (failures.length === 0) return;
  await stream.deadLetter(deadLetterRecords(worker, failures, new Date()));
  for (const { record, error } of failures) {
    metrics.deadLetters.inc({ reason: error.reason });
    log.warn("dead letter", {
      reason: error.reason,
      message: error.message.slice(0, 200),
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
    });
  }
}
