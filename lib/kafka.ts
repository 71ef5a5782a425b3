/**
 * Kafka behind one small interface, so the client library can be swapped in this file alone:
 * connection options, a keyed idempotent producer (@platformatic/kafka or kafkajs), a batch
 * consumer (kafkajs) that commits only what the caller has finished, and the admin calls the
 * runtime needs.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "./config.ts";
 * import { createLogger } from "./log.ts";
 * const connection = resolveOptions(kafkaOptions, { env: Deno.env.toObject(), flags: {} });
 * const kafka = createKafka(connection, createLogger("example"));
 * const producer = await openProducer(kafka, connection);
 * await producer.send("market.ticks", [{ key: "AAPL", value: "{...}", headers: {} }]);
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import kafkajs from "kafkajs";
import type { Admin, Consumer, Kafka, KafkaConfig, LogEntry, Producer, SASLOptions } from "kafkajs";
import { bool, name, oneOf, secret, str } from "./config.ts";
import type { Logger } from "./log.ts";
import { NonRetriableError } from "./non_retriable_error.ts";
import {
  type BatchConsumer,
  brokerList,
  type ConsumeOptions,
  type KafkaConnection,
  type KafkaRecord,
  type PartitionBatch,
  produceRequests,
  type RecordProducer,
  shortText,
  type SliceOutcome,
} from "./kafka_client.ts";

// The shared shapes, for the runtime and workers that import this file.
export {
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
  utf8Length,
} from "./kafka_client.ts";

const { Kafka: KafkaClient, logLevel, CompressionTypes } = kafkajs;

/** Connection options every Kafka-using worker reads. */
export const kafkaOptions = {
  kafkaBrokers: str("KAFKA_BROKERS", "comma-separated bootstrap brokers", "127.0.0.1:9092"),
  kafkaClientId: str("KAFKA_CLIENT_ID", "client id prefix sent to the brokers", "marketdata"),
  kafkaSsl: bool("KAFKA_SSL", "connect with TLS", false),
  kafkaSslCaFile: str("KAFKA_SSL_CA_FILE", "PEM file of the CA that signed the brokers", ""),
  kafkaSaslMechanism: oneOf(
    "KAFKA_SASL_MECHANISM",
    "SASL mechanism",
    ["none", "plain", "scram-sha-256", "scram-sha-512"] as const,
    "none",
  ),
  kafkaSaslUsername: str("KAFKA_SASL_USERNAME", "SASL user name", ""),
  kafkaSaslPassword: secret("KAFKA_SASL_PASSWORD", "SASL password"),
  kafkaClient: oneOf(
    "KAFKA_CLIENT",
    "client library that consumes (platformatic: @platformatic/kafka, or kafkajs)",
    ["kafkajs", "platformatic"] as const,
    "kafkajs",
  ),
  kafkaProducer: oneOf(
    "KAFKA_PRODUCER",
    "client library that produces",
    ["kafkajs", "platformatic"] as const,
    // 2.2× kafkajs' produce rate on Deno, and it passed every test: see README, Performance.
    "platformatic",
  ),
};

/** The topic-name option of a trigger or output (allow-listed characters only). */
export const topicOption = (env: string, help: string, fallback: string) =>
  name(env, help, fallback);

// Kafka error codes (and client error names) that no retry can fix: credentials, authorisation,
// settings. Everything else — unknown topic or partition, no leader yet, not the leader,
// coordinator loading or moving, a rebalance, a timeout, a dropped connection — is retriable.
const finalKafkaCodes = new Set([
  "SASL_AUTHENTICATION_FAILED",
  "UNSUPPORTED_SASL_MECHANISM",
  "ILLEGAL_SASL_STATE",
  "TOPIC_AUTHORIZATION_FAILED",
  "GROUP_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
  "DELEGATION_TOKEN_AUTHORIZATION_FAILED",
  "INVALID_CONFIG",
  "INVALID_REPLICATION_FACTOR",
  "INVALID_PARTITIONS",
  "INVALID_TOPIC_EXCEPTION",
  "POLICY_VIOLATION",
]);
const finalKafkaText =
  /authenticat|authoriz|not authorized|SASL|self[- ]signed|unable to verify|certificate|handshake/i;

/** Whether a Kafka client error can never succeed on retry (see {@link finalKafkaCodes}). */
export function kafkaErrorIsFinal(error: unknown): boolean {
  for (let e = error as Record<string, unknown> | undefined, depth = 0; e && depth < 10; depth++) {
    const code = String(e.type ?? e.code ?? "");
    if (finalKafkaCodes.has(code)) return true;
    if (/Authentication|Authorization/.test(String(e.name ?? ""))) return true;
    if (finalKafkaText.test(String(e.message ?? ""))) return true;
    e = (e.cause ?? e.originalError) as Record<string, unknown> | undefined;
  }
  return false;
}

/** Runs `work`; a Kafka error no retry can fix comes out as a {@link NonRetriableError}. */
export async function finalOrRetriable<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (!kafkaErrorIsFinal(error)) throw error;
    throw new NonRetriableError(`Kafka: ${(error as Error).message}`, { cause: error });
  }
}

/** Creates the client; kafkajs' own log lines go through our logger. */
export function createKafka(conn: KafkaConnection, log: Logger, clientSuffix = ""): Kafka {
  const config: KafkaConfig = {
    clientId: `${conn.kafkaClientId}${clientSuffix ? "-" + clientSuffix : ""}`,
    brokers: brokerList(conn),
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log: entry }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry;
      // Bounded retries are deliberate: a broker that stays away must stop the worker, and the
      // stores' idempotent upserts absorb the rare duplicate a retried send could make.
      if (message.startsWith("Limiting retries for the idempotent producer")) return;
      // kafkajs reports each retriable protocol error as an error; the runtime reports what
      // is fatal, so these are warnings.
      const ctx = { component: `kafkajs.${namespace}`, kafkaLevel: level, ...rest };
      log.warn(message, ctx);
    },
  };
  if (conn.kafkaSsl) {
    config.ssl = conn.kafkaSslCaFile ? { ca: [Deno.readTextFileSync(conn.kafkaSslCaFile)] } : true;
  }
  if (conn.kafkaSaslMechanism !== "none") {
    config.sasl = {
      mechanism: conn.kafkaSaslMechanism,
      username: conn.kafkaSaslUsername,
      password: conn.kafkaSaslPassword,
    } as SASLOptions;
  }
  return new KafkaClient(config);
}

/** kafkajs mis-encodes a plain Uint8Array (the broker rejects the whole batch): wrap it. */
export function asKafkaValue<V extends string | Uint8Array | null>(
  value: V,
): string | Buffer | null {
  return value === null || typeof value === "string"
    ? value
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * Opens an idempotent producer (acks=all, one request in flight per connection), so a retried
 * send never duplicates a record in the log, with the library KAFKA_PRODUCER names.
 */
export async function openProducer(
  kafka: Kafka,
  conn: KafkaConnection,
): Promise<RecordProducer> {
  if (conn.kafkaProducer === "platformatic") {
    const { openPlatformaticProducer } = await import("./kafka_platformatic.ts");
    const producer = await finalOrRetriable(openPlatformaticProducer(conn));
    return {
      send: (topic, records) => finalOrRetriable(producer.send(topic, records)),
      close: () => producer.close(),
    };
  }
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

const changelogConfig = [
  { name: "cleanup.policy", value: "compact" },
  { name: "segment.bytes", value: String(16 << 20) },
  { name: "segment.ms", value: String(10 * 60_000) },
  { name: "min.cleanable.dirty.ratio", value: "0.1" },
];

/** A topic the project creates: partitions, and compaction for state topics. */
export interface TopicSpec {
  topic: string;
  partitions: number;
  compacted?: boolean;
}

/**
 * Creates `topics` if missing (idempotent; partitions apply to new topics only), then waits until
 * every partition of each has a leader: a topic created a moment ago answers "This server does not
 * host this topic-partition" until its leaders are elected.
 */
export async function ensureTopics(
  kafka: Kafka,
  topics: TopicSpec[],
  leaderTimeoutMs = 60_000,
): Promise<void> {
  const admin = kafka.admin();
  await finalOrRetriable(admin.connect());
  try {
    const existing = new Set(await finalOrRetriable(admin.listTopics()));
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await finalOrRetriable(admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.partitions,
          replicationFactor: -1,
          // Changelogs keep the latest value per key, and are compacted soon (small segments, a
          // low dirty ratio), so a restore reads about one record per key rather than history.
          configEntries: t.compacted ? changelogConfig : [],
        })),
      })).catch((error) => {
        // Two workers creating the same topic at once is fine.
        if (!String((error as Error).message).includes("already exists")) throw error;
      });
    }
    await waitForLeaders(admin, topics.map((t) => t.topic), leaderTimeoutMs);
  } finally {
    await admin.disconnect();
  }
}

/** Polls metadata until every partition of `topics` has a leader; throws after `timeoutMs`. */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let missing = "";
  while (Date.now() < deadline) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics });
      const leaderless = meta.flatMap((t) =>
        t.partitions.length === 0
          ? [`${t.name} (no partitions yet)`]
          : t.partitions.filter((p) => p.leader < 0).map((p) => `${t.name}[${p.partitionId}]`)
      );
      if (leaderless.length === 0) return;
      missing = leaderless.join(", ");
    } catch (error) {
      if (kafkaErrorIsFinal(error)) throw error;
      missing = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`no leader within ${timeoutMs / 1000}s for ${missing}`);
}

/** How many partitions `topic` has (0 when it does not exist). */
export async function partitionCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await finalOrRetriable(admin.connect());
  try {
    if (!(await admin.listTopics()).includes(topic)) return 0;
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]?.partitions.length ?? 0;
  } finally {
    await admin.disconnect();
  }
}

/** Per partition: the high-water mark now and the group's committed offset (-1 if none). */
export async function partitionPositions(
  kafka: Kafka,
  topic: string,
  group: string,
): Promise<Map<number, { high: bigint; committed: bigint }>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const highs = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const byPartition = new Map<number, { high: bigint; committed: bigint }>();
    for (const h of highs) byPartition.set(h.partition, { high: BigInt(h.high), committed: -1n });
    for (const c of committed?.partitions ?? []) {
      const entry = byPartition.get(c.partition);
      if (entry) entry.committed = BigInt(c.offset);
    }
    return byPartition;
  } finally {
    await admin.disconnect();
  }
}

function toRecord(topic: string, partition: number, m: kafkajs.KafkaMessage): KafkaRecord {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const one = Array.isArray(v) ? v[0] : v;
    if (one !== undefined) headers[k] = typeof one === "string" ? one : shortText(one);
  }
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ? shortText(m.key) : null,
    value: m.value ? new Uint8Array(m.value.buffer, m.value.byteOffset, m.value.byteLength) : null,
    headers,
    timestamp: m.timestamp,
  };
}

/**
 * Consumes `topic` in the group. `onBatch` is called per partition slice of at most `batchSize`
 * records; when it resolves, the offset after its last record is committed. When it throws,
 * nothing is committed and the consumer stops fetching (the caller decides what happens next).
 */
export async function consumeBatches(
  kafka: Kafka,
  conn: KafkaConnection,
  options: ConsumeOptions,
  onBatch: (batch: PartitionBatch) => Promise<SliceOutcome>,
  onCommitted: (partition: number, nextOffset: bigint) => void = () => {},
): Promise<BatchConsumer> {
  if (conn.kafkaClient === "platformatic") {
    const { consumePlatformatic } = await import("./kafka_platformatic.ts");
    return await finalOrRetriable(consumePlatformatic(conn, options, onBatch, onCommitted));
  }
  const consumer: Consumer = kafka.consumer({
    groupId: options.group,
    maxWaitTimeInMs: options.batchWindowMs,
    // Let the broker hold the fetch until a batch's worth (roughly) has arrived or the window ends.
    minBytes: Math.min(options.batchSize * 64, 1 << 20),
    maxBytesPerPartition: 1 << 20,
    maxBytes: 4 << 20,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(options.sessionTimeoutMs / 10)),
    retry: { retries: 5, initialRetryTime: 300 },
  });
  let crash: (error: Error) => void = () => {};
  const crashed = new Promise<Error>((resolve) => (crash = resolve));
  let stopping = false;
  // kafkajs restarts the consumer itself after retriable failures (a commit refused during a
  // rebalance, say); only a crash it will not restart from ends the worker.
  consumer.on(consumer.events.CRASH, (event) => {
    if (!stopping && !event.payload.restart) crash(event.payload.error);
  });
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    options.onAssigned?.(event.payload.memberAssignment[options.topic] ?? []);
  });
  // kafkajs' commitOffsets silently does nothing once stop() has begun, so stop() must wait for
  // the slice in flight to be handled and committed before it tells kafkajs to stop.
  const inFlight = new Set<Promise<unknown>>();
  const started = finalOrRetriable((async () => {
    await consumer.connect();
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.concurrency,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const { topic, partition } = batch;
        const messages = batch.messages;
        for (let i = 0; i < messages.length; i += options.batchSize) {
          if (!isRunning() || isStale() || stopping) return;
          const slice = messages.slice(i, i + options.batchSize);
          // A batch may retry for longer than the session timeout (a store down for a while):
          // keep the membership alive meanwhile, or the group would hand the partition away.
          const beat = setInterval(
            () => heartbeat().catch(() => {}),
            Math.max(500, Math.floor(options.sessionTimeoutMs / 4)),
          );
          const work = (async () => {
            const outcome = await onBatch({
              topic,
              partition,
              records: slice.map((m) => toRecord(topic, partition, m)),
              highWatermark: BigInt(batch.highWatermark),
              heartbeat,
              isStale: () => isStale() || !isRunning(),
            });
            if (outcome === false) return false;
            const last = slice[slice.length - 1].offset;
            const next = BigInt(last) + 1n;
            await consumer.commitOffsets([{ topic, partition, offset: next.toString() }]);
            resolveOffset(last);
            onCommitted(partition, next);
            return true;
          })();
          const settled = work.catch(() => {});
          inFlight.add(settled);
          try {
            // A slice left uncommitted ends this batch: its partition belongs to another member.
            if (!(await work)) return;
          } finally {
            clearInterval(beat);
            inFlight.delete(settled);
          }
          await heartbeat();
        }
      },
    });
  })());
  try {
    await started;
  } catch (error) {
    stopping = true;
    await consumer.disconnect().catch(() => {});
    throw error;
  }
  return {
    crashed,
    async stop() {
      stopping = true;
      await Promise.all(inFlight);
      await consumer.stop();
      await consumer.disconnect();
    },
  };
}

/**
 * Every record of `topic` (or of some of its `partitions`), from the beginning up to the
 * high-water marks of now (a throwaway consumer group, deleted afterwards). For changelogs, dead
 * letters and tests.
 */
export async function readToEnd(
  kafka: Kafka,
  topic: string,
  partitions?: readonly number[],
): Promise<KafkaRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const records: KafkaRecord[] = [];
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
      const finished = new Promise<void>((resolve) => (done = resolve));
      await consumer.run({
        autoCommit: false,
        eachBatch: ({ batch }) => {
          if (partitions && !partitions.includes(batch.partition)) return Promise.resolve();
          for (const m of batch.messages) records.push(toRecord(topic, batch.partition, m));
          const last = batch.messages.at(-1);
          const target = remaining.get(batch.partition);
          if (last && target !== undefined && BigInt(last.offset) + 1n >= target) {
            remaining.delete(batch.partition);
          }
          if (remaining.size === 0) done();
          return Promise.resolve();
        },
      });
      await finished;
    } finally {
      await consumer.disconnect();
    }
    await admin.deleteGroups([groupId]).catch(() => {});
    return records;
  } finally {
    await admin.disconnect();
  }
}
