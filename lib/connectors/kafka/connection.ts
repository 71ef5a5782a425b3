/**
 * The Kafka connection: the options every Kafka-using worker reads, the kafkajs client (its log
 * lines through ours), and which client errors no retry can fix.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "../../runtime/config.ts";
 * import { createLogger } from "../../runtime/log.ts";
 * const connection = resolveOptions(kafkaOptions, { env: Deno.env.toObject(), flags: {} });
 * const kafka = createKafka(connection, createLogger("example"));
 * ```
 * @module
 */
import kafkajs from "./kafkajs.ts";
import type { Kafka, KafkaConfig, LogEntry, SASLOptions } from "kafkajs";
import { bool, int, name, oneOf, secret, str } from "../../runtime/config.ts";
import type { RuntimeContext } from "../../runtime/define.ts";
import type { Logger } from "../../runtime/log.ts";
import { NonRetriableError } from "../../runtime/non_retriable_error.ts";
import { brokerList, type KafkaConnection } from "./client.ts";

const { Kafka: KafkaClient, logLevel } = kafkajs;

/** Connection options every Kafka-using worker reads. */
export const kafkaOptions = {
  kafkaBrokers: str("KAFKA_BROKERS", "comma-separated bootstrap brokers", "127.0.0.1:9092"),
  kafkaClientId: str(
    "KAFKA_CLIENT_ID",
    "client id prefix sent to the brokers (default: the worker's name)",
    "",
  ),
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
    // With our produce path (kafkajs_produce.ts) kafkajs takes less than half the CPU a record
    // @platformatic/kafka does, and a worker that loads no second client holds ≈ 25–40 MiB less:
    // see bench/history.md.
    "kafkajs",
  ),
};

/** The topic-name option of a trigger or output (allow-listed characters only). */
export const topicOption = (env: string, help: string, fallback: string) =>
  name(env, help, fallback);

/** Partitions of the topics a worker creates (its input, its outputs). */
export const topicPartitions = int(
  "TOPIC_PARTITIONS",
  "partitions of topics this worker creates",
  6,
  { min: 1, max: 1000 },
);

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
    clientId: [conn.kafkaClientId, clientSuffix].filter(Boolean).join("-") || "kafkajs",
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

/** A worker's connection settings: its client id names the worker (after the prefix, if any). */
export function workerConnection(ctx: RuntimeContext): KafkaConnection {
  const conn = ctx.options as KafkaConnection;
  const prefix = conn.kafkaClientId;
  return { ...conn, kafkaClientId: prefix ? `${prefix}-${ctx.worker}` : ctx.worker };
}

/** The process's one kafkajs client, shared by the trigger and every Kafka output. */
export function sharedKafka(ctx: RuntimeContext): Kafka {
  return ctx.shared("kafkajs", () => createKafka(workerConnection(ctx), ctx.log));
}
