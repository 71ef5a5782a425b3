/**
 * The Kafka topic trigger: the runtime's {@link Stream} on a consumer group, with the consumer of
 * the library KAFKA_CLIENT names, dead letters to the topic the worker names, and keyed state's
 * changelogs. Batch size, batch window and partition concurrency are the worker's defaults and
 * the user's options (AWS Lambda's event-source mapping words).
 *
 * @example
 * ```ts
 * import { topicOption } from "./connection.ts";
 * const trigger = kafkaTopic(topicOption("TICKS_TOPIC", "input topic", "market.ticks"), {
 *   group: "transform",
 *   deadLetters: topicOption("DLQ_TOPIC", "dead-letter topic", "market.dlq"),
 *   batchSize: 2000,
 * });
 * ```
 * @module
 */
import { int, type OptionSpec, str } from "../../runtime/config.ts";
import type { StreamTrigger } from "../../runtime/stream.ts";
import { ensureTopics, PositionsReader } from "./admin.ts";
import { kafkaChangelog } from "./changelog.ts";
import {
  finalOrRetriable,
  kafkaOptions,
  sharedKafka,
  topicPartitions,
  workerConnection,
} from "./connection.ts";
import { openProducer, producerOnDemand } from "./producer.ts";

export interface KafkaTopicSettings {
  /** The consumer group (CONSUMER_GROUP overrides it). */
  group: string;
  /** The dead-letter topic's option. */
  deadLetters: OptionSpec<string>;
  /** Most records per slice (BATCH_SIZE); default 500. */
  batchSize?: number;
  /** Longest wait for a slice to fill (BATCH_WINDOW_MS); default 250. */
  batchWindowMs?: number;
  /** Partitions handled at the same time (PARTITION_CONCURRENCY); default 1. */
  concurrency?: number;
  /** Most bytes a fetch returns (FETCH_MAX_BYTES); default 4 MiB. */
  fetchMaxBytes?: number;
  /** Most bytes a partition adds to a fetch (MAX_PARTITION_FETCH_BYTES); default 1 MiB. */
  partitionFetchMaxBytes?: number;
}

/** The input topic's name in a worker's resolved options (the trigger's `topic` option). */
export function triggerTopic(options: object, topic: OptionSpec<string>): string {
  return (options as Record<string, string>)[`topic:${topic.env}`];
}

/** Consume the topic named by `topic` in a consumer group, in per-partition slices. */
export function kafkaTopic(topic: OptionSpec<string>, settings: KafkaTopicSettings): StreamTrigger {
  const input = `topic:${topic.env}`;
  return {
    kind: "stream",
    options: {
      ...kafkaOptions,
      [input]: topic,
      consumerGroup: str("CONSUMER_GROUP", "Kafka consumer group", settings.group),
      batchSize: int("BATCH_SIZE", "most records per batch", settings.batchSize ?? 500, {
        min: 1,
        max: 100_000,
      }),
      batchWindowMs: int(
        "BATCH_WINDOW_MS",
        "longest wait for a batch to fill",
        settings.batchWindowMs ?? 250,
        { min: 0, max: 60_000 },
      ),
      dlqTopic: settings.deadLetters,
      topicPartitions,
      concurrency: int(
        "PARTITION_CONCURRENCY",
        "partitions handled at the same time (order holds within each)",
        settings.concurrency ?? 1,
        { min: 1, max: 64 },
      ),
      // What one fetch may bring: records decoded at once and held until handled, so the
      // bound of a worker's memory as much as of its speed.
      fetchMaxBytes: int(
        "FETCH_MAX_BYTES",
        "most bytes one fetch returns (Kafka's fetch.max.bytes)",
        settings.fetchMaxBytes ?? 4 << 20,
        { min: 64 << 10, max: 64 << 20 },
      ),
      partitionFetchMaxBytes: int(
        "MAX_PARTITION_FETCH_BYTES",
        "most bytes one partition adds to a fetch (max.partition.fetch.bytes)",
        settings.partitionFetchMaxBytes ?? 1 << 20,
        { min: 64 << 10, max: 64 << 20 },
      ),
      sessionTimeoutMs: int(
        "SESSION_TIMEOUT_MS",
        "how long the group waits for a silent member before reassigning its partitions",
        30_000,
        { min: 6_000, max: 300_000 },
      ),
    },
    async open(ctx) {
      const o = ctx.options;
      const name = o[input] as string;
      const group = o.consumerGroup as string;
      const kafka = sharedKafka(ctx);
      const conn = workerConnection(ctx);
      // Dead letters and changelog entries; the outputs have producers of their own.
      const producer = producerOnDemand(() => openProducer(kafka, conn, ctx.log));
      // The consumer library is loaded only when chosen, and here rather than in the run.
      const platformatic = conn.kafkaClient === "platformatic"
        ? (await import("./platformatic_consumer.ts")).consumePlatformatic
        : undefined;
      const kafkajs = platformatic ? undefined : (await import("./consumer.ts")).consumeKafkajs;
      // A drain reads the group's positions every second.
      const positions = new PositionsReader(kafka);
      return {
        input: name,
        group,
        client: conn.kafkaClient,
        // The input exists with leaders before the group subscribes: a consumer that meets a
        // leaderless partition at start is what made a fresh `up` fail.
        prepare: () => ensureTopics(kafka, [{ topic: name, partitions: o.topicPartitions }]),
        positions: () => positions.read(name, group),
        async consume(onBatch, onCommitted, onAssigned) {
          const settings = {
            topic: name,
            group,
            batchSize: o.batchSize,
            batchWindowMs: o.batchWindowMs,
            sessionTimeoutMs: o.sessionTimeoutMs,
            concurrency: o.concurrency,
            fetchMaxBytes: o.fetchMaxBytes,
            partitionFetchMaxBytes: o.partitionFetchMaxBytes,
            onAssigned,
            log: ctx.log,
          };
          if (platformatic) {
            return await finalOrRetriable(platformatic(conn, settings, onBatch, onCommitted));
          }
          return await kafkajs!(kafka, settings, onBatch, onCommitted);
        },
        deadLetter: (records) => producer.send(o.dlqTopic, records),
        changelog: (changelog) => kafkaChangelog(kafka, producer, changelog),
        async close() {
          await positions.close();
          await producer.close();
        },
      };
    },
  };
}
