/**
 * Reads a topic (or some of its partitions) from the beginning to the high-water marks of now,
 * through a throwaway consumer group: for changelogs, dead letters and tests.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "../../runtime/config.ts";
 * import { createLogger } from "../../runtime/log.ts";
 * import { createKafka, kafkaOptions } from "./connection.ts";
 * const connection = resolveOptions(kafkaOptions, { env: Deno.env.toObject(), flags: {} });
 * const records = await readToEnd(createKafka(connection, createLogger("example")), "market.dlq");
 * ```
 * @module
 */
import type { Kafka } from "kafkajs";
import type { StreamRecord } from "../../runtime/stream.ts";
import { toRecord } from "./consumer.ts";

/**
 * Every record of `topic` (or of some of its `partitions`), from the beginning up to the
 * high-water marks of now (a throwaway consumer group, deleted afterwards). For changelogs, dead
 * letters and tests.
 */
export async function readToEnd(
  kafka: Kafka,
  topic: string,
  partitions?: readonly number[],
  /** Called per record instead of collecting them (a topic too big to hold). */
  onRecord?: (record: StreamRecord) => void,
): Promise<StreamRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const records: StreamRecord[] = [];
  const groupId = `reader-${topic}-${crypto.randomUUID()}`;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const remaining = new Map<number, bigint>();
    for (const o of offsets) {
      if (partitions && !partitions.includes(o.partition)) continue;
      if (BigInt(o.high) > BigInt(o.low)) remaining.set(o.partition, BigInt(o.high));
    }
    if (remaining.size === 0) return records;
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let done: () => void = () => {};
      const finished = new Promise<void>((resolve) => (done = resolve));
      await consumer.run({
        autoCommit: false,
        eachBatch: ({ batch }) => {
          if (partitions && !partitions.includes(batch.partition)) return Promise.resolve();
          for (const m of batch.messages) {
            const record = toRecord(topic, batch.partition, m);
            if (onRecord) onRecord(record);
            else records.push(record);
          }
          const last = batch.messages.at(-1);
          const target = remaining.get(batch.partition);
          if (last && target !== undefined && BigInt(last.offset) + 1n >= target) {
            remaining.delete(batch.partition);
          }
          if (remaining.size === 0) done();
          return Promise.resolve();
        },
      });
      await finished;
    } finally {
      await consumer.disconnect();
    }
    await admin.deleteGroups([groupId]).catch(() => {});
    return records;
  } finally {
    await admin.disconnect();
  }
}
