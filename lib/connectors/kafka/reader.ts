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

/** How long a read may go without a fetched batch before it is given up as stalled. */
export const READ_STALL_MS = 30_000;

/**
 * Every record of `topic` (or of some of its `partitions`), from the beginning up to the
 * high-water marks of now (a throwaway consumer group, deleted afterwards). For changelogs, dead
 * letters and tests. Rejects when the consumer crashes or no batch arrives for `stallMs` (a
 * group that never settles): a keyed-state restore waits on this read, and a read that hangs
 * would stop its partition for good, where a rejected one is retried.
 */
export async function readToEnd(
  kafka: Kafka,
  topic: string,
  partitions?: readonly number[],
  /** Called per record instead of collecting them (a topic too big to hold). */
  onRecord?: (record: StreamRecord) => void,
  stallMs = READ_STALL_MS,
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
      let fail: (error: Error) => void = () => {};
      const finished = new Promise<void>((resolve, reject) => {
        done = resolve;
        fail = reject;
      });
      let stall: ReturnType<typeof setTimeout> | undefined;
      // A batch may still come while the consumer stops: no timer may outlive the read.
      let over = false;
      const watch = () => {
        clearTimeout(stall);
        if (over) return;
        stall = setTimeout(() => {
          const left = [...remaining.keys()].sort((x, y) => x - y).join(", ");
          fail(
            new Error(
              `reading ${topic} stalled: no batch for ${stallMs} ms, partitions ${left} short of their end`,
            ),
          );
        }, stallMs);
      };
      // A crash kafkajs restarts from is left to it (and to the stall watch).
      consumer.on(consumer.events.CRASH, (event) => {
        if (!event.payload.restart) fail(event.payload.error);
      });
      watch();
      // The join inside run() may be what hangs: the stall watch covers it too.
      const running = consumer.run({
        autoCommit: false,
        eachBatch: ({ batch }) => {
          watch();
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
      try {
        await Promise.race([running.then(() => finished), finished]);
      } finally {
        over = true;
        clearTimeout(stall);
      }
    } finally {
      await consumer.disconnect();
    }
    await admin.deleteGroups([groupId]).catch(() => {});
    return records;
  } finally {
    await admin.disconnect();
  }
}
