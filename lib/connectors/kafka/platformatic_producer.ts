/**
 * {@link RecordProducer} on @platformatic/kafka (maintained; kafkajs
 * has had no release since 2023). kafkajs builds every varint with `Buffer.from([...])`, which is
 * slow under Deno's Buffer; this client encodes into larger buffers. Same guarantees: an
 * idempotent acks=all producer with the Java client's key → partition hash (a symbol lands on the
 * same partition whichever client produced it), and a consumer that commits a slice's offsets
 * only after the handler finished it.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "../../runtime/config.ts";
 * import { kafkaOptions } from "./connection.ts";
 * const connection = resolveOptions(kafkaOptions, { env: Deno.env.toObject(), flags: {} });
 * const producer = await openPlatformaticProducer(connection);
 * await producer.send("market.ticks", [{ key: "AAPL", value: "{...}" }]);
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { compatibilityPartitioner, Producer } from "@platformatic/kafka";
import {
  type KafkaConnection,
  type OutgoingRecord,
  produceRequests,
  type RecordProducer,
} from "./client.ts";
import { platformaticConnection } from "./platformatic_connection.ts";

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
/** Opens an idempotent producer; fails (like kafkajs' connect) when no broker answers. */
export async function openPlatformaticProducer(conn: KafkaConnection): Promise<RecordProducer> {
  const producer = new Producer<string, string | Uint8Array, string, string>({
    ...platformaticConnection(conn, "producer"),
    // The client's own retries keep a request's sequence numbers, so the new leader of a
    // partition drops what its old leader had already written; once they give up, the producer
    // takes a new id and the runtime's resend can duplicate. Their budget is the Java producer's
    // delivery.timeout.ms (2 min): on the three-node cluster a killed active controller stalled
    // produce requests for 39 s, longer than the 37 s budget tried first.
    retries: 125,
    retryDelay: (_client: unknown, _op: string, attempt: number) =>
      Math.min(1000, 100 * 2 ** attempt),
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
            partition: r.partition,
          })),
        });
      }
    },
    close: () => producer.close(),
  };
}
