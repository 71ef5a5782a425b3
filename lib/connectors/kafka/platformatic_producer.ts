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
import { sendPerPartition } from "./partitioned_send.ts";
import type { Logger } from "../../runtime/log.ts";

const toBuffer = (v: string | Uint8Array | undefined): Buffer | undefined =>
  v === undefined
    ? undefined
    : typeof v === "string"
    ? Buffer.from(v)
    : v instanceof Buffer
    ? v
    : Buffer.from(v.buffer, v.byteOffset, v.byteLength);

const encoder = new TextEncoder();

/**
 * The values of one send as bytes. Text values (JSON) are joined and encoded in one call into the
 * runtime instead of one per record, then cut into views: when every one is ASCII, as market
 * records are, a value's bytes are as many as its characters. Anything else is encoded alone.
 */
export function valueBytes(values: (string | Uint8Array)[]): Buffer[] {
  const text = values.filter((v): v is string => typeof v === "string");
  const joined = text.join("");
  const all = encoder.encode(joined);
  const ascii = all.length === joined.length;
  let at = 0;
  return values.map((v) => {
    if (typeof v !== "string") return toBuffer(v)!;
    if (!ascii) return Buffer.from(v);
    const view = Buffer.from(all.buffer, all.byteOffset + at, v.length);
    at += v.length;
    return view;
  });
}

// A record type's headers are one frozen object shared by its records: its Map is made once.
const headerMaps = new WeakMap<Record<string, string>, Map<string, string>>();
function headerMap(headers: Record<string, string> | undefined) {
  if (headers === undefined) return undefined;
  let map = headerMaps.get(headers);
  if (map === undefined) {
    map = new Map(Object.entries(headers));
    if (Object.isFrozen(headers)) headerMaps.set(headers, map);
  }
  return map;
}

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
export async function openPlatformaticProducer(
  conn: KafkaConnection,
  log?: Logger,
): Promise<RecordProducer> {
  const keyBytes = cachedBuffer(4096);
  // The key's hash (the Java client's murmur2) per key: symbols repeat on every record.
  const hashes = new Map<string, number>();
  const keyHash = (key: string) => {
    let hash = hashes.get(key);
    if (hash === undefined) {
      hash = compatibilityPartitioner(undefined as never, keyBytes(key)!);
      if (hashes.size < 4096) hashes.set(key, hash);
    }
    return hash;
  };
  const producer = new Producer<string, string | Uint8Array, string, string>({
    ...platformaticConnection(conn, "producer"),
    // The client's own retries keep a request's sequence numbers, so a partition's new leader
    // drops what the old one had already written; but a retried request goes whole to the leader
    // of its first partition, so `send` gives each request one partition (see there). Their
    // budget is the Java producer's delivery.timeout.ms (2 min): longer than any failover here.
    retries: 125,
    retryDelay: (_client: unknown, _op: string, attempt: number) =>
      Math.min(1000, 100 * 2 ** attempt),
    idempotent: true,
    acks: -1,
    autocreateTopics: true,
    partitioner: compatibilityPartitioner,
    serializers: {
      key: keyBytes,
      value: toBuffer,
      headerKey: cachedBuffer(64),
      headerValue: cachedBuffer(256),
    },
  });
  // The client retries quietly; an outage should show in the log. A retry or two is routine (a
  // coordinator still loading on a fresh broker): the fifth (≈ 1.5 s of trouble) is told, then
  // every tenth.
  producer.on("client:performWithRetry:retry", (operation: string, attempt: number) => {
    if (attempt === 4 || (attempt > 4 && (attempt + 1) % 10 === 0)) {
      log?.warn("Kafka client retrying", {
        component: "platformatic",
        operation,
        attempt: attempt + 1,
      });
    }
  });
  try {
    // Metadata of no topic: proves a broker answers (and authenticates) before the first send.
    await producer.metadata({ topics: [] });
  } catch (error) {
    await producer.close().catch(() => {});
    throw error;
  }
  // Partitions per topic, to place each record ourselves (the Java client's hash of the key, as
  // the client would) and so know which records a failed send left unacknowledged.
  const partitions = new Map<string, number>();
  const partitionCount = async (topic: string) => {
    let count = partitions.get(topic);
    if (count === undefined) {
      const metadata = await producer.metadata({ topics: [topic], autocreateTopics: true });
      count = metadata.topics.get(topic)!.partitionsCount;
      partitions.set(topic, count);
    }
    return count;
  };
  return {
    async send(topic: string, records: OutgoingRecord[]) {
      const count = await partitionCount(topic);
      const bytes = valueBytes(records.map((r) => r.value));
      const placed = records.map((r, i) => ({
        record: r,
        value: bytes[i],
        partition: r.partition ?? keyHash(r.key) % count,
      }));
      // Sized by their bytes, now known without counting characters.
      const chunks = produceRequests(placed.map((p) => ({ ...p.record, value: p.value })));
      try {
        await sendPerPartition(placed, chunks.map((c) => c.length), (list) =>
          producer.send({
            messages: list.map(({ record: r, value, partition }) => ({
              topic,
              key: r.key,
              value,
              headers: headerMap(r.headers),
              partition,
            })),
          }));
      } catch (error) {
        partitions.delete(topic);
        throw error;
      }
    },
    close: () => producer.close(),
  };
}
