/**
 * The producer of {@link RecordProducer} on @platformatic/kafka instead of kafkajs
 * (`KAFKA_PRODUCER=platformatic`). kafkajs builds every varint with `Buffer.from([...])`, which is
 * slow under Deno's Buffer; this client encodes into larger buffers. Same guarantees: idempotent, acks=all, and the Java client's key → partition hash, so
 * a symbol lands on the same partition whichever client produced it.
 *
 * @example
 * ```ts
 * const producer = await openPlatformaticProducer(connection);
 * await producer.send("market.ticks", [{ key: "AAPL", value: "{...}" }]);
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { compatibilityPartitioner, Producer, type SASLOptions } from "@platformatic/kafka";
import type { KafkaConnection, OutgoingRecord, RecordProducer } from "./kafka.ts";
import { produceRequests } from "./kafka.ts";

const toBuffer = (v: string | Uint8Array | undefined): Buffer | undefined =>
  v === undefined
    ? undefined
    : typeof v === "string"
    ? Buffer.from(v)
    : Buffer.from(v.buffer, v.byteOffset, v.byteLength);

const mechanisms = {
  plain: "PLAIN",
  "scram-sha-256": "SCRAM-SHA-256",
  "scram-sha-512": "SCRAM-SHA-512",
} as const;

/** Opens an idempotent producer; fails (like kafkajs' connect) when no broker answers. */
export async function openPlatformaticProducer(conn: KafkaConnection): Promise<RecordProducer> {
  const producer = new Producer<string, string | Uint8Array, string, string>({
    clientId: `${conn.kafkaClientId}-producer`,
    bootstrapBrokers: conn.kafkaBrokers.split(",").map((b) => b.trim()).filter(Boolean),
    connectTimeout: 5_000,
    timeout: 30_000,
    retries: 8,
    retryDelay: 300,
    idempotent: true,
    acks: -1,
    autocreateTopics: true,
    partitioner: compatibilityPartitioner,
    serializers: {
      key: toBuffer,
      value: toBuffer,
      headerKey: toBuffer,
      headerValue: toBuffer,
    },
    tls: conn.kafkaSsl
      ? (conn.kafkaSslCaFile ? { ca: [Deno.readTextFileSync(conn.kafkaSslCaFile)] } : {})
      : undefined,
    sasl: conn.kafkaSaslMechanism === "none" ? undefined : {
      mechanism: mechanisms[conn.kafkaSaslMechanism],
      username: conn.kafkaSaslUsername,
      password: conn.kafkaSaslPassword,
    } as SASLOptions,
  });
  try {
    // Metadata of no topic: proves a broker answers (and authenticates) before the first send.
    await producer.metadata({ topics: [] });
  } catch (error) {
    await producer.close().catch(() => {});
    throw error;
  }
  return {
    async send(topic: string, records: OutgoingRecord[]) {
      for (const chunk of produceRequests(records)) {
        await producer.send({
          messages: chunk.map((r) => ({
            topic,
            key: r.key,
            value: r.value,
            headers: r.headers ? new Map(Object.entries(r.headers)) : undefined,
          })),
        });
      }
    },
    close: () => producer.close(),
  };
}
