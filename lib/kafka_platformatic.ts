/**
 * {@link RecordProducer} and {@link BatchConsumer} on @platformatic/kafka (maintained; kafkajs
 * has had no release since 2023). kafkajs builds every varint with `Buffer.from([...])`, which is
 * slow under Deno's Buffer; this client encodes into larger buffers. Same guarantees: an
 * idempotent acks=all producer with the Java client's key → partition hash (a symbol lands on the
 * same partition whichever client produced it), and a consumer that commits a slice's offsets
 * only after the handler finished it.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "./config.ts";
 * import { kafkaOptions } from "./kafka.ts";
 * const connection = resolveOptions(kafkaOptions, { env: Deno.env.toObject(), flags: {} });
 * const producer = await openPlatformaticProducer(connection);
 * await producer.send("market.ticks", [{ key: "AAPL", value: "{...}" }]);
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import {
  compatibilityPartitioner,
  Consumer,
  type Message,
  Producer,
  type SASLOptions,
} from "@platformatic/kafka";
import {
  type BatchConsumer,
  brokerList,
  type ConsumeOptions,
  type KafkaConnection,
  type KafkaRecord,
  type OutgoingRecord,
  type PartitionBatch,
  produceRequests,
  type RecordProducer,
  shortText,
  type SliceOutcome,
} from "./kafka_client.ts";

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

/** Connection settings both clients share: brokers, timeouts, TLS and SASL. */
function connection(conn: KafkaConnection, role: string) {
  return {
    clientId: `${conn.kafkaClientId}-${role}`,
    bootstrapBrokers: brokerList(conn),
    connectTimeout: 5_000,
    timeout: 30_000,
    retries: 8,
    retryDelay: 300,
    tls: conn.kafkaSsl
      ? (conn.kafkaSslCaFile ? { ca: [Deno.readTextFileSync(conn.kafkaSslCaFile)] } : {})
      : undefined,
    sasl: conn.kafkaSaslMechanism === "none" ? undefined : {
      mechanism: mechanisms[conn.kafkaSaslMechanism],
      username: conn.kafkaSaslUsername,
      password: conn.kafkaSaslPassword,
    } as SASLOptions,
  };
}

/** Opens an idempotent producer; fails (like kafkajs' connect) when no broker answers. */
export async function openPlatformaticProducer(conn: KafkaConnection): Promise<RecordProducer> {
  const producer = new Producer<string, string | Uint8Array, string, string>({
    ...connection(conn, "producer"),
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

type Consumed = Message<string | null, Uint8Array | null, string, string>;

const text = (b?: Buffer) => (b === undefined ? null : shortText(b));

function toRecord(m: Consumed): KafkaRecord {
  const headers: Record<string, string> = {};
  for (const [k, v] of m.headers) headers[k] = v;
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset.toString(),
    key: m.key,
    value: m.value,
    headers,
    timestamp: m.timestamp.toString(),
  };
}

/**
 * Consumes `topic` in the group with @platformatic/kafka. Records arrive as one stream; they are
 * cut into per-partition slices of at most `batchSize` (a slice ends when the stream has nothing
 * more buffered), handled up to `concurrency` partitions at a time, and each slice's next offset
 * is committed only after `onBatch` resolved. While a slice is handled nothing more is read, so
 * the stream's buffer bounds memory. Membership heartbeats run on their own timer, so a slow
 * handler (a store down for a while) keeps its partitions.
 */
export async function consumePlatformatic(
  conn: KafkaConnection,
  options: ConsumeOptions,
  onBatch: (batch: PartitionBatch) => Promise<SliceOutcome>,
  onCommitted: (partition: number, nextOffset: bigint) => void,
): Promise<BatchConsumer> {
  const consumer = new Consumer<string | null, Uint8Array | null, string, string>({
    ...connection(conn, "consumer"),
    groupId: options.group,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(options.sessionTimeoutMs / 10)),
    rebalanceTimeout: Math.max(options.sessionTimeoutMs, 30_000),
    autocommit: false,
    maxWaitTime: options.batchWindowMs,
    minBytes: Math.min(options.batchSize * 64, 1 << 20),
    // As with kafkajs: 1 MiB a partition, 4 MiB a fetch (less RSS, and faster, than more).
    maxBytes: 4 << 20,
    maxBytesPerPartition: 1 << 20,
    deserializers: {
      key: text,
      value: (
        b?: Buffer,
      ) => (b === undefined ? null : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
      headerKey: (b?: Buffer) => b?.toString() ?? "",
      headerValue: (b?: Buffer) => (b === undefined ? "" : shortText(b)),
    },
  });
  let crash: (error: Error) => void = () => {};
  const crashed = new Promise<Error>((resolve) => (crash = resolve));
  let stopping = false;
  const fail = (error: Error) => {
    if (!stopping) crash(error);
  };
  consumer.on("error", fail);
  // The partitions this member holds now: a slice of any other is stale.
  let held: Set<number> | undefined;
  consumer.on("consumer:group:join", () => {
    const mine = consumer.assignments?.find((a) => a.topic === options.topic);
    held = new Set(mine?.partitions ?? []);
    options.onAssigned?.(mine?.partitions ?? []);
  });

  // High-water marks for the lag metric, refreshed in the background (never on the hot path).
  const highs = new Map<number, bigint>();
  const refreshHighs = () =>
    consumer.listOffsets({ topics: [options.topic] }).then((offsets) => {
      (offsets.get(options.topic) ?? []).forEach((high, partition) => highs.set(partition, high));
    }).catch(() => {});

  let stream: Awaited<ReturnType<typeof consumer.consume>>;
  try {
    stream = await consumer.consume({
      topics: [options.topic],
      mode: "committed",
      fallbackMode: "earliest",
      autocommit: false,
      // Records buffered ahead of the handler: about two slices.
      highWaterMark: options.batchSize * 2,
    });
  } catch (error) {
    await consumer.close(true).catch(() => {});
    throw error;
  }
  stream.on("error", fail);
  await refreshHighs();
  const highTimer = setInterval(refreshHighs, 2_000);

  const handleSlice = async (slice: Consumed[]) => {
    const { topic, partition } = slice[0];
    const last = slice[slice.length - 1];
    const outcome = await onBatch({
      topic,
      partition,
      records: slice.map(toRecord),
      highWatermark: highs.get(partition) ?? last.offset + 1n,
      heartbeat: () => Promise.resolve(),
      isStale: () => held !== undefined && !held.has(partition),
    });
    if (outcome === false) return;
    const next = last.offset + 1n;
    await consumer.commit({
      offsets: [{ topic, partition, offset: next, leaderEpoch: last.leaderEpoch }],
    });
    onCommitted(partition, next);
  };

  const pending = new Map<number, Consumed[]>();
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async () => {
    const slices = [...pending.values()].filter((s) => s.length > 0);
    pending.clear();
    // Partitions side by side, `concurrency` at a time; order holds within each.
    for (let i = 0; i < slices.length; i += options.concurrency) {
      await Promise.all(slices.slice(i, i + options.concurrency).map(handleSlice));
    }
  };
  const loop = (async () => {
    for await (const m of stream as AsyncIterable<Consumed>) {
      if (stopping) break;
      const slice = pending.get(m.partition) ?? [];
      pending.set(m.partition, slice);
      slice.push(m);
      if (slice.length >= options.batchSize || stream.readableLength === 0) {
        inFlight = flush();
        await inFlight;
      }
    }
  })();
  loop.catch((error) => fail(error as Error));

  return {
    crashed,
    async stop() {
      stopping = true;
      clearInterval(highTimer);
      // The slice in flight finishes and commits before the stream closes.
      await inFlight.catch(() => {});
      await stream.close().catch(() => {});
      await loop.catch(() => {});
      await consumer.close(true).catch(() => {});
    },
  };
}
