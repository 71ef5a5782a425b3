/**
 * {@link RecordProducer} on kafkajs: idempotent, acks=all, one request in flight, the Java
 * client's key → partition hash (kept per key).
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
import { produceRequests, type RecordProducer } from "./client.ts";
import { finalOrRetriable } from "./connection.ts";
import { kafkajsModule } from "./kafkajs_modules.ts";

const { CompressionTypes } = kafkajs;

type Partitioner = ReturnType<ICustomPartitioner>;

/**
 * kafkajs' default partitioner (the Java client's: murmur2 of the key), with each key's hash
 * kept: kafkajs computes murmur2 in BigInt arithmetic, and symbols repeat on every record.
 */
export const cachedKeyPartitioner: ICustomPartitioner = () => {
  const murmur2 = kafkajsModule("producer/partitioners/default/murmur2.js") as (
    key: string,
  ) => number;
  const fallback: Partitioner = kafkajs.Partitioners.DefaultPartitioner();
  const hashes = new Map<string, number>();
  return (args) => {
    const { message, partitionMetadata } = args;
    const key = message.key;
    if (message.partition != null || typeof key !== "string") return fallback(args);
    let hash = hashes.get(key);
    if (hash === undefined) {
      hash = murmur2(key) & 0x7fffffff;
      if (hashes.size < 4096) hashes.set(key, hash);
    }
    return hash % partitionMetadata.length;
  };
};

/** kafkajs mis-encodes a plain Uint8Array (the broker rejects the whole batch): wrap it. */
export function asKafkaValue<V extends string | Uint8Array | null>(
  value: V,
): string | Buffer | null {
  return value === null || typeof value === "string"
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
  return {
    async send(topic, records) {
      for (const chunk of produceRequests(records)) {
        await finalOrRetriable(producer.send({
          topic,
          acks: -1,
          compression: CompressionTypes.None,
          messages: chunk.map((r) => ({
            key: r.key,
            value: asKafkaValue(r.value),
            headers: r.headers,
            partition: r.partition,
          })),
        }));
      }
    },
    close: () => producer.disconnect(),
  };
}
