/**
 * {@link RecordProducer} on kafkajs: idempotent, acks=all, one request in flight, the Java
 * client's key → partition hash.
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
import type { Kafka, Producer } from "kafkajs";
import { produceRequests, type RecordProducer } from "./client.ts";
import { finalOrRetriable } from "./connection.ts";

const { CompressionTypes } = kafkajs;

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
    createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
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
