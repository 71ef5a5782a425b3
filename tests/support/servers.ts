/**
 * The real servers the integration and e2e tests talk to (started by `deno task test`, or
 * `deno task infra up`), and fresh, uniquely named topics, databases and indices per test.
 */
import { Client } from "@elastic/elasticsearch";
import kafkajs from "../../lib/connectors/kafka/kafkajs.ts";
// @ts-types="@types/pg"
import pg from "pg";
import { loadComposeEnv } from "./env_file.ts";
import { produceRequests, readToEnd } from "../../lib/connectors/kafka/mod.ts";
import { asKafkaValue } from "../../lib/connectors/kafka/kafkajs_producer.ts";
import { retry } from "../../lib/runtime/retry.ts";

export const env = loadComposeEnv(new URL("../../", import.meta.url));
export const root = new URL("../../", import.meta.url).pathname;
export const brokers = `127.0.0.1:${env.KAFKA_PORT}`;
export const esUrl = `http://127.0.0.1:${env.ELASTICSEARCH_PORT}`;
export const registryUrl = `http://127.0.0.1:${env.SCHEMA_REGISTRY_PORT}/apis/ccompat/v7`;
export const pgPasswordFile = `${root}.native/secrets/postgres_password`;

const howToStart = "start the native servers with `deno task infra up` (or run `deno task test`)";

/** Whether something listens on 127.0.0.1:`port`. */
export async function reachable(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Fails (never skips) with a message saying how to start the server. */
export async function requireServer(
  name: "kafka" | "postgres" | "elasticsearch" | "prometheus" | "schema-registry",
) {
  const port = Number(
    {
      kafka: env.KAFKA_PORT,
      postgres: env.POSTGRES_PORT,
      elasticsearch: env.ELASTICSEARCH_PORT,
      prometheus: env.PROMETHEUS_PORT,
      "schema-registry": env.SCHEMA_REGISTRY_PORT,
    }[name],
  );
  if (!(await reachable(port))) {
    throw new Error(`${name} is not answering on 127.0.0.1:${port}: ${howToStart}`);
  }
}

/** A name no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

const silent = () => () => {};
export const kafka = new kafkajs.Kafka({
  clientId: "tests",
  brokers: [brokers],
  logCreator: silent,
  retry: { retries: 5 },
});

export async function createTopics(topics: string[], partitions = 1): Promise<void> {
  await requireServer("kafka");
  const admin = kafka.admin();
  await admin.connect();
  try {
    // On a broker started a moment ago, the metadata behind kafkajs' wait for leaders may not
    // know the new topics yet ("This server does not host this topic-partition"): ask again.
    await retry(async () => {
      await admin.createTopics({
        waitForLeaders: true,
        topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
      });
      const metadata = await admin.fetchTopicMetadata({ topics });
      const leaderless = metadata.topics.filter((t) => t.partitions.some((p) => p.leader < 0));
      if (leaderless.length > 0) {
        throw Object.assign(new Error(`no leader yet: ${leaderless.map((t) => t.name)}`), {
          retriable: true,
        });
      }
    }, {
      attempts: 12,
      baseMs: 250,
      maxMs: 2_000,
      retryable: (error) => (error as { retriable?: boolean }).retriable === true,
    }, `creating ${topics.join(", ")}`);
  } finally {
    await admin.disconnect();
  }
}

export interface ProducedRecord {
  key: string;
  value: string | Uint8Array | null;
  headers?: Record<string, string>;
  partition?: number;
}

export async function produce(topic: string, records: ProducedRecord[]): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (const chunk of produceRequests(records)) {
      await producer.send({
        topic,
        acks: -1,
        messages: chunk.map((r) => ({
          key: r.key,
          value: asKafkaValue(r.value),
          headers: r.headers,
          partition: r.partition,
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface ConsumedRecord {
  partition: number;
  offset: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** Every record of `topic` up to the current high-water marks, values as text. */
export async function readAll(topic: string): Promise<ConsumedRecord[]> {
  const decoder = new TextDecoder();
  return (await readToEnd(kafka, topic)).map((r) => ({
    partition: r.partition,
    offset: r.offset,
    key: r.key ?? "",
    value: r.value ? decoder.decode(r.value) : "",
    headers: r.headers,
  }));
}

/** The group's committed offset per partition (-1 when none). */
export async function committedOffsets(group: string, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [result] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return new Map(result.partitions.map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

export function pgPassword(): string {
  return Deno.readTextFileSync(pgPasswordFile).trim();
}

/** A fresh database for one test; `drop()` removes it. */
export async function freshDatabase(): Promise<
  { url: string; pool: pg.Pool; drop(): Promise<void> }
> {
  await requireServer("postgres");
  const name = uniqueName("test").replaceAll("-", "_");
  const base = {
    host: "127.0.0.1",
    port: Number(env.POSTGRES_PORT),
    user: env.POSTGRES_USER,
    password: pgPassword(),
  };
  const admin = new pg.Client({ ...base, database: env.POSTGRES_DB });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const pool = new pg.Pool({ ...base, database: name, max: 2 });
  // Fault tests stop the server under this pool; its idle clients must not crash the test.
  pool.on("error", () => {});
  return {
    url: `postgres://${env.POSTGRES_USER}@127.0.0.1:${env.POSTGRES_PORT}/${name}`,
    pool,
    async drop() {
      await pool.end();
      const c = new pg.Client({ ...base, database: env.POSTGRES_DB });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export function elasticsearch(): Client {
  return new Client({ node: esUrl });
}

/** Polls `check` until it returns a truthy value or `ms` pass; then fails with `what`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T> | T,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** `deno task infra up|down <service>`: fault tests stop and start the real servers. */
export async function infra(
  command: "up" | "down",
  service: string,
  extraEnv: Record<string, string> = {},
): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "infra", command, service],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { ES_EXTRA_SETTINGS: Deno.env.get("ES_EXTRA_SETTINGS") ?? "", ...extraEnv },
  }).output();
  if (!out.success) {
    throw new Error(
      `infra ${command} ${service} failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`,
    );
  }
}
