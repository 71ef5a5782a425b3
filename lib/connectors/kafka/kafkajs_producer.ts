/**
 * {@link RecordProducer} on kafkajs: idempotent, acks=all, one request in flight, the Java
 * client's key → partition hash (kept per key), one request per partition.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "../../runtime/config.ts";
 * import { createLogger } from "../../runtime/log.ts";
 * import { createKafka, kafkaOptions } from "./connection.ts";
 * const connection = resolveOptions(kafkaOptions, { env: Deno.env.toObject(), flags: {} });
 * const producer = await openKafkajsProducer(createKafka(connection, createLogger("example")));
 * await producer.send("market.ticks", [{ key: "AAPL", value: "{...}" }]);
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import kafkajs from "./kafkajs.ts";
import type { ICustomPartitioner, Kafka, Producer } from "kafkajs";
import { type OutgoingRecord, produceRequests, type RecordProducer } from "./client.ts";
import { partitionCount } from "./admin.ts";
import { sendPerPartition } from "./partitioned_send.ts";
import { finalOrRetriable } from "./connection.ts";
import { kafkajsModule } from "./kafkajs_modules.ts";

const { CompressionTypes } = kafkajs;

type Partitioner = ReturnType<ICustomPartitioner>;

/** The Java client's hash of a key (murmur2, positive), kept per key: symbols recur. */
function keyHasher(): (key: string) => number {
  const murmur2 = kafkajsModule("producer/partitioners/default/murmur2.js") as (
    key: string,
  ) => number;
  const hashes = new Map<string, number>();
  return (key) => {
    let hash = hashes.get(key);
    if (hash === undefined) {
      hash = murmur2(key) & 0x7fffffff;
      if (hashes.size < 4096) hashes.set(key, hash);
    }
    return hash;
  };
}

/**
 * kafkajs' default partitioner (the Java client's: murmur2 of the key), with each key's hash
 * kept: kafkajs computes murmur2 in BigInt arithmetic, and symbols repeat on every record.
 */
export const cachedKeyPartitioner: ICustomPartitioner = () => {
  const fallback: Partitioner = kafkajs.Partitioners.DefaultPartitioner();
  const keyHash = keyHasher();
  return (args) => {
    const { message, partitionMetadata } = args;
    const key = message.key;
    if (message.partition != null || typeof key !== "string") return fallback(args);
    return keyHash(key) % partitionMetadata.length;
  };
};

/** kafkajs mis-encodes a plain Uint8Array (the broker rejects the whole batch): wrap it. */
export function asKafkaValue<V extends string | Uint8Array | null>(
  value: V,
): string | Buffer | null {
  return value === null || typeof value === "string" || value instanceof Buffer
    ? value
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Opens an idempotent kafkajs producer (acks=all, one request in flight per connection). */
export async function openKafkajsProducer(kafka: Kafka): Promise<RecordProducer> {
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: true,
    createPartitioner: cachedKeyPartitioner,
  });
  await finalOrRetriable(producer.connect());
  const keyHash = keyHasher();
  // Partitions per topic, to place each record ourselves as kafkajs would (see send).
  const partitions = new Map<string, number>();
  let roundRobin = 0;
  const request = (topic: string, records: { record: OutgoingRecord; partition?: number }[]) =>
    finalOrRetriable(producer.send({
      topic,
      acks: -1,
      compression: CompressionTypes.None,
      messages: records.map(({ record: r, partition }) => ({
        key: r.key,
        value: asKafkaValue(r.value),
        headers: r.headers,
        partition: partition ?? r.partition,
      })),
    }));
  return {
    async send(topic, records) {
      let count = partitions.get(topic);
      if (count === undefined) {
        count = await finalOrRetriable(partitionCount(kafka, topic));
        if (count > 0) partitions.set(topic, count);
      }
      const chunks = produceRequests(records);
      // A topic not there yet (a dead-letter topic the broker creates on first use): kafkajs
      // places the records, once, and the next send looks again.
      if (count === 0) {
        for (const chunk of chunks) await request(topic, chunk.map((record) => ({ record })));
        return;
      }
      const n = count;
      const placed = records.map((record) => ({
        record,
        partition: record.partition ??
          (record.key == null ? roundRobin++ % n : keyHash(record.key) % n),
      }));
      try {
        // One request per partition: kafkajs' retries of a request over several partitions can
        // skip one whose leader moved (partitioned_send.ts).
        await sendPerPartition(placed, chunks.map((c) => c.length), (list) => request(topic, list));
      } catch (error) {
        partitions.delete(topic);
        throw error;
      }
    },
    close: () => producer.disconnect(),
  };
}
