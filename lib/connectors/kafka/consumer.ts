/**
 * {@link BatchConsumer} on kafkajs: per-partition slices of at most `batchSize` records, each
 * committed only after the runtime finished it.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "../../runtime/config.ts";
 * import { createLogger } from "../../runtime/log.ts";
 * import { createKafka, kafkaOptions } from "./connection.ts";
 * const connection = resolveOptions(kafkaOptions, { env: Deno.env.toObject(), flags: {} });
 * const kafka = createKafka(connection, createLogger("example"));
 * const consumer = await consumeKafkajs(kafka, {
 *   topic: "market.ticks",
 *   group: "example",
 *   batchSize: 500,
 *   batchWindowMs: 250,
 *   sessionTimeoutMs: 30_000,
 *   concurrency: 1,
 *   fetchMaxBytes: 4 << 20,
 *   partitionFetchMaxBytes: 1 << 20,
 * }, (batch) => Promise.resolve(console.log(batch.records.length)));
 * await consumer.stop();
 * ```
 * @module
 */
import type { Consumer, Kafka, KafkaMessage } from "kafkajs";
import type {
  BatchConsumer,
  PartitionBatch,
  SliceOutcome,
  StreamRecord,
} from "../../runtime/stream.ts";
import { type KafkaConsumeOptions, shortText } from "./client.ts";
import { finalOrRetriable } from "./connection.ts";
import { FetchedMessage } from "./kafkajs_record_batch.ts";

/**
 * The runtime's record of a fetched message: a repeated header gives the first of its values
 * present, a header without a value is left out.
 */
export function toRecord(topic: string, partition: number, m: KafkaMessage): StreamRecord {
  // Every record batch is read by our decoder; only the pre-0.11 message format is not.
  if (m instanceof FetchedMessage) return m.toStreamRecord(topic, partition);
  const headers: Record<string, string> = {};
  for (const k in m.headers) {
    const v = m.headers[k];
    const one = Array.isArray(v) ? v.find((x) => x != null) : v;
    if (one != null) headers[k] = typeof one === "string" ? one : shortText(one);
  }
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ? shortText(m.key) : null,
    value: m.value ? new Uint8Array(m.value.buffer, m.value.byteOffset, m.value.byteLength) : null,
    headers,
    timestamp: m.timestamp,
  };
}

/**
 * Consumes `topic` in the group. `onBatch` is called per partition slice of at most `batchSize`
 * records; when it resolves, the offset after its last record is committed. When it throws,
 * nothing is committed and the consumer stops fetching (the caller decides what happens next).
 */
export async function consumeKafkajs(
  kafka: Kafka,
  options: KafkaConsumeOptions,
  onBatch: (batch: PartitionBatch) => Promise<SliceOutcome>,
  onCommitted: (partition: number, nextOffset: bigint) => void = () => {},
): Promise<BatchConsumer> {
  const consumer: Consumer = kafka.consumer({
    groupId: options.group,
    maxWaitTimeInMs: options.batchWindowMs,
    // Let the broker hold the fetch until a batch's worth (roughly) has arrived or the window ends.
    minBytes: Math.min(options.batchSize * 64, 1 << 20),
    maxBytesPerPartition: options.partitionFetchMaxBytes,
    maxBytes: options.fetchMaxBytes,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(options.sessionTimeoutMs / 10)),
    retry: { retries: 5, initialRetryTime: 300 },
  });
  let crash: (error: Error) => void = () => {};
  const crashed = new Promise<Error>((resolve) => (crash = resolve));
  let stopping = false;
  // kafkajs restarts the consumer itself after retriable failures (a commit refused during a
  // rebalance, say); only a crash it will not restart from ends the worker.
  consumer.on(consumer.events.CRASH, (event) => {
    if (!stopping && !event.payload.restart) crash(event.payload.error);
  });
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    options.onAssigned?.(event.payload.memberAssignment[options.topic] ?? []);
  });
  // kafkajs' commitOffsets silently does nothing once stop() has begun, so stop() must wait for
  // the slice in flight to be handled and committed before it tells kafkajs to stop.
  const inFlight = new Set<Promise<unknown>>();
  const started = finalOrRetriable((async () => {
    await consumer.connect();
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.concurrency,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const { topic, partition } = batch;
        const messages = batch.messages;
        for (let i = 0; i < messages.length; i += options.batchSize) {
          if (!isRunning() || isStale() || stopping) return;
          const slice = messages.slice(i, i + options.batchSize);
          // A batch may retry for longer than the session timeout (a store down for a while):
          // keep the membership alive meanwhile, or the group would hand the partition away.
          const beat = setInterval(
            () => heartbeat().catch(() => {}),
            Math.max(500, Math.floor(options.sessionTimeoutMs / 4)),
          );
          const work = (async () => {
            const outcome = await onBatch({
              topic,
              partition,
              records: slice.map((m) => toRecord(topic, partition, m)),
              highWatermark: BigInt(batch.highWatermark),
              heartbeat,
              isStale: () => isStale() || !isRunning(),
            });
            if (outcome === false) return false;
            const last = slice[slice.length - 1].offset;
            const next = BigInt(last) + 1n;
            await consumer.commitOffsets([{ topic, partition, offset: next.toString() }]);
            resolveOffset(last);
            onCommitted(partition, next);
            return true;
          })();
          const settled = work.catch(() => {});
          inFlight.add(settled);
          try {
            // A slice left uncommitted ends this batch: its partition belongs to another member.
            if (!(await work)) return;
          } finally {
            clearInterval(beat);
            inFlight.delete(settled);
          }
          await heartbeat();
        }
      },
    });
  })());
  try {
    await started;
  } catch (error) {
    stopping = true;
    await consumer.disconnect().catch(() => {});
    throw error;
  }
  return {
    crashed,
    async stop() {
      stopping = true;
      await Promise.all(inFlight);
      await consumer.stop();
      await consumer.disconnect();
    },
  };
}
