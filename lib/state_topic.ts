/**
 * Worker state kept in a compacted Kafka topic: one JSON value per key, the latest wins. It
 * survives restarts and moves with partitions between replicas, and needs no other server.
 *
 * @example
 * ```ts
 * outputs: { state: stateTopic(topicOption("TRANSFORM_STATE_TOPIC", "rolling state", "market.transform.state")) },
 * // in the handler:
 * const all = await outputs.state.load();
 * await outputs.state.put([{ key: "market.ticks:0", value: { nextOffset: "42" } }]);
 * ```
 * @module
 */
import type { OptionSpec } from "./config.ts";
import {
  ensureTopics,
  type KafkaConnection,
  kafkaOptions,
  openProducer,
  readTopicToEnd,
} from "./kafka.ts";
import type { OutputSpec } from "./worker.ts";

export interface StateTopic {
  topic: string;
  /** Every key's latest value, read from the start of the topic. */
  load(): Promise<Map<string, unknown>>;
  /** Writes values; resolves once the brokers acknowledged. */
  put(entries: { key: string; value: unknown }[]): Promise<void>;
  close(): Promise<void>;
}

/** A state-topic output; the topic is created compacted if it does not exist. */
export function stateTopic(topic: OptionSpec<string>): OutputSpec<StateTopic> {
  return {
    options: { [`topic:${topic.env}`]: topic, ...kafkaOptions },
    async open(ctx) {
      const name = ctx.options[`topic:${topic.env}`] as string;
      const kafka = ctx.kafka();
      await ensureTopics(kafka, [{ topic: name, partitions: 1, compacted: true }]);
      const producer = await openProducer(kafka, ctx.options as KafkaConnection);
      const decoder = new TextDecoder();
      return {
        topic: name,
        async load() {
          const raw = await readTopicToEnd(kafka, name);
          const out = new Map<string, unknown>();
          for (const [key, value] of raw) out.set(key, JSON.parse(decoder.decode(value)));
          return out;
        },
        put: (entries) =>
          producer.send(name, entries.map((e) => ({ key: e.key, value: JSON.stringify(e.value) }))),
        close: () => producer.close(),
      };
    },
  };
}
