/**
 * The Kafka output: `send()` produces keyed records and resolves when the brokers acknowledged
 * (retrying a broker that stays away longer than the client's own retries); `write()` batches by
 * the output's batch policy (count, bytes, period) and the runtime flushes before it commits or
 * exits. Records written while a slice is handled carry its lineage (`ingested-at`).
 *
 * @example
 * ```ts
 * import { topicOption } from "./connection.ts";
 * const bars = kafkaOutput(topicOption("BARS_TOPIC", "output topic for bars", "market.bars"));
 * // in a handler: await outputs.bars.send([{ key: "AAPL", value: "{...}" }]);
 * ```
 * @module
 */
import { Batcher, type BatchPolicy, batchPolicyOptions } from "../../runtime/batching.ts";
import type { OptionSpec } from "../../runtime/config.ts";
import type { OutputSpec } from "../../runtime/define.ts";
import { acknowledged, stampLineage } from "../../runtime/lineage.ts";
import { retry } from "../../runtime/retry.ts";
import type { OutgoingRecord } from "./client.ts";
import { ensureTopics } from "./admin.ts";
import { kafkaOptions, sharedKafka, topicPartitions, workerConnection } from "./connection.ts";
import { openProducer } from "./producer.ts";

/** An opened Kafka output. */
export interface KafkaOutput {
  topic: string;
  /** Produces `records` now; resolves once the brokers acknowledged them all. */
  send(records: OutgoingRecord[]): Promise<void>;
  /** Adds a record to the open batch; resolves once batched (or sent, when it filled one). */
  write(record: OutgoingRecord): Promise<void>;
  /** Sends the open batch and waits for every send so far. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

// The batch policy's byte count is an estimate (UTF-16 length): counting UTF-8 exactly per record
// would double the work produceRequests() does anyway, and it splits requests by exact bytes.
const recordBytes = (r: OutgoingRecord) => r.value.length + r.key.length + 64;

/**
 * A keyed Kafka producer output on the topic named by `topic` (an option, so it is
 * configurable); `batch` is the default policy of `write()` (OUTPUT_BATCH_COUNT, _BYTES,
 * _PERIOD_MS).
 */
export function kafkaOutput(
  topic: OptionSpec<string>,
  batch: BatchPolicy = { count: 2000, byteSize: 1 << 20, periodMs: 50 },
): OutputSpec<KafkaOutput> {
  return {
    options: {
      [`topic:${topic.env}`]: topic,
      ...kafkaOptions,
      topicPartitions,
      ...batchPolicyOptions("OUTPUT_BATCH", batch),
    },
    async open(ctx) {
      const name = ctx.options[`topic:${topic.env}`] as string;
      const kafka = sharedKafka(ctx);
      await ensureTopics(kafka, [{ topic: name, partitions: ctx.options.topicPartitions }]);
      const producer = await openProducer(kafka, workerConnection(ctx), ctx.log);
      const send = async (records: OutgoingRecord[]) => {
        if (records.length === 0) return;
        const stamped = stampLineage(records);
        // A broker away for longer than the client's own retries: back off and try again with
        // what was not acknowledged. (A resend after a lost acknowledgement can still repeat
        // records; consumers dedup by key and time.)
        let pending = stamped;
        await retry(async () => {
          try {
            await producer.send(name, pending);
          } catch (error) {
            pending = (error as { unsent?: OutgoingRecord[] }).unsent ?? pending;
            throw error;
          }
        }, {
          attempts: ctx.options.maxRetryAttempts,
          baseMs: ctx.options.retryBaseMs,
          signal: ctx.signal,
          onRetry: (error, attempt, delayMs) =>
            ctx.log.warn("produce failed, retrying", {
              topic: name,
              error,
              attempt,
              delayMs: Math.round(delayMs),
            }),
        }, `producing to ${name}`);
        acknowledged(ctx.name);
        ctx.metrics.recordsOut.inc({ output: name }, records.length);
      };
      const batcher = new Batcher<OutgoingRecord>(
        {
          count: ctx.options.batchCount,
          byteSize: ctx.options.batchByteSize,
          periodMs: ctx.options.batchPeriodMs,
        },
        send,
        recordBytes,
      );
      return {
        topic: name,
        send,
        // Stamped when written, not when the batch goes: a batch may be sent by another slice.
        write: (record) => batcher.write(stampLineage([record])[0]),
        flush: () => batcher.flush(),
        async close() {
          batcher.close();
          await producer.close();
        },
      };
    },
  };
}
