/**
 * Keyed state's changelog on Kafka: a compacted topic with the input's partition count, read
 * back per partition on a restore and appended to by the producer the dead letters use.
 *
 * @example
 * ```ts
 * import type { Kafka } from "kafkajs";
 * import type { RecordProducer } from "./client.ts";
 * declare const kafka: Kafka, producer: RecordProducer & { open(): Promise<void> };
 * const changelog = kafkaChangelog(kafka, producer, "counts.changelog");
 * await changelog.prepare("counts.input");
 * ```
 * @module
 */
import type { Kafka } from "kafkajs";
import type { Changelog } from "../../runtime/stream.ts";
import { ensureTopics, partitionCount } from "./admin.ts";
import type { RecordProducer } from "./client.ts";
import { readToEnd } from "./reader.ts";

/** The changelog topic `name`, written through `producer`. */
export function kafkaChangelog(
  kafka: Kafka,
  producer: RecordProducer & { open(): Promise<void> },
  name: string,
): Changelog {
  return {
    name,
    open: () => producer.open(),
    // A changelog with another partition count than its input cannot follow it: refused.
    async prepare(input) {
      const partitions = await partitionCount(kafka, input);
      await ensureTopics(kafka, [{ topic: name, partitions, compacted: true }]);
      const have = await partitionCount(kafka, name);
      if (have !== partitions) {
        throw new Error(
          `changelog ${name} has ${have} partitions, its input ${input} ${partitions}`,
        );
      }
    },
    read: async (partitions, onRecord) => void await readToEnd(kafka, name, partitions, onRecord),
    write: (_partition, records) => producer.send(name, records),
  };
}
