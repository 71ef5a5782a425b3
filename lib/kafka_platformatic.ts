/**
 * {@link RecordProducer} on @platformatic/kafka, the default (`KAFKA_PRODUCER=platformatic`).
 * kafkajs builds every varint with `Buffer.from([...])`, which is slow under Deno's Buffer; this
 * client encodes into larger buffers. Same guarantees: idempotent, acks=all, and the Java client's
 * key → partition hash, so a symbol lands on the same partition whichever client produced it.
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
import {
  brokerList,
  type KafkaConnection,
  type OutgoingRecord,
  produceRequests,
  type RecordProducer,
} from "./kafka.ts";

const toBuffer = (v: string | Uint8Array | undefined): Buffer | undefined =>
  v === undefined
    ? undefined
    : typeof v === "string"
    ? Buffer.from(v)
    : Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/**
 * Keys (symbols), header names and the few values headers take encode once: encoding them per
 * record was a third of the ingest's time.
 */
function cachedBuffer(limit: number) {
  const cache = new Map<string, Buffer>();
  return (v: string | Uint8Array | undefined): Buffer | undefined => {
    if (typeof v !== "string" || v.length > 32) return toBuffer(v);
    let b = cache.get(v);
    if (b === undefined) {
      b = Buffer.from(v);
      if (cache.size < limit) cache.set(v, b);
    }
    return b;
  };
}

const mechanisms = {
  plain: "PLAIN",
  "scram-sha-256": "SCRAM-SHA-256",
  "scram-sha-512": "SCRAM-SHA-512",
} as const;

/** Opens an idempotent producer; fails (like kafkajs' connect) when no broker answers. */
export async function openPlatformaticProducer(conn: KafkaConnection): Promise<RecordProducer> {
  const producer = new Producer<string, string | Uint8Array, string, string>({
    clientId: `${conn.kafkaClientId}-producer`,
    bootstrapBrokers: brokerList(conn),
    connectTimeout: 5_000,
    timeout: 30_000,
    retries: 8,
    retryDelay: 300,
    idempotent: true,
    acks: -1,
    autocreateTopics: true,
    partitioner: compatibilityPartitioner,
    serializers: {
      key: cachedBuffer(4096),
      value: toBuffer,
      headerKey: cachedBuffer(64),
      headerValue: cachedBuffer(256),
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
