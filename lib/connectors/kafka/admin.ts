/**
 * The admin calls the runtime and the tools need: create topics and wait for their leaders,
 * count partitions, and read a group's positions against the high-water marks.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "../../runtime/config.ts";
 * import { createLogger } from "../../runtime/log.ts";
 * import { createKafka, kafkaOptions } from "./connection.ts";
 * const connection = resolveOptions(kafkaOptions, { env: Deno.env.toObject(), flags: {} });
 * const kafka = createKafka(connection, createLogger("example"));
 * await ensureTopics(kafka, [{ topic: "market.ticks", partitions: 6 }]);
 * ```
 * @module
 */
import type { Admin, Kafka } from "kafkajs";
import { finalOrRetriable, kafkaErrorIsFinal } from "./connection.ts";

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
        // Our own wait below rides out a cluster still forming; kafkajs' gives up on
        // UNKNOWN_TOPIC_OR_PARTITION from a node that has not seen the topic yet.
        waitForLeaders: false,
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

/** A partition's high-water mark now and a group's committed offset (-1 if none). */
export type Positions = Map<number, { high: bigint; committed: bigint }>;

/**
 * Positions read again and again (a drain's poll, a tool's progress) over one admin connection
 * kept until `close()`: connecting fetches the metadata of every topic in the cluster, which a
 * reader connecting for each read would fetch each time — on a broker of 600 topics, 5 MB a read.
 */
export class PositionsReader {
  #admin?: Promise<Admin>;

  constructor(readonly kafka: Kafka) {}

  async read(topic: string, group: string): Promise<Positions> {
    this.#admin ??= connected(this.kafka.admin()).catch((error) => {
      this.#admin = undefined; // the next read connects again
      throw error;
    });
    return await positionsOf(await this.#admin, topic, group);
  }

  async close(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    await (await admin?.catch(() => undefined))?.disconnect();
  }
}

/** Records a group has not committed yet, over every partition. */
export function uncommitted(positions: Positions): number {
  let lag = 0n;
  for (const { high, committed } of positions.values()) {
    lag += high - (committed < 0n ? 0n : committed);
  }
  return Number(lag);
}

async function connected(admin: Admin): Promise<Admin> {
  await admin.connect();
  return admin;
}

async function positionsOf(admin: Admin, topic: string, group: string): Promise<Positions> {
  const highs = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const byPartition: Positions = new Map();
  for (const h of highs) byPartition.set(h.partition, { high: BigInt(h.high), committed: -1n });
  for (const c of committed?.partitions ?? []) {
    const entry = byPartition.get(c.partition);
    if (entry) entry.committed = BigInt(c.offset);
  }
  return byPartition;
}
