/**
 * Kafka for workers and tools: the topic trigger, the output, the connection options, the admin
 * calls and the reader. The client libraries (kafkajs, @platformatic/kafka) stay behind these.
 *
 * @example
 * ```ts
 * import { kafkaOutput, kafkaTopic, topicOption } from "./mod.ts";
 * const trigger = kafkaTopic(topicOption("IN_TOPIC", "input", "in"), {
 *   group: "echo",
 *   deadLetters: topicOption("DLQ_TOPIC", "dead-letter topic", "in.dlq"),
 * });
 * const out = kafkaOutput(topicOption("OUT_TOPIC", "output", "out"));
 * ```
 * @module
 */
export { kafkaTopic, type KafkaTopicSettings, triggerTopic } from "./trigger.ts";
export { type KafkaOutput, kafkaOutput } from "./output.ts";
export {
  createKafka,
  finalOrRetriable,
  kafkaErrorIsFinal,
  kafkaOptions,
  topicOption,
  topicPartitions,
} from "./connection.ts";
export {
  ensureTopics,
  partitionCount,
  type Positions,
  PositionsReader,
  type TopicSpec,
  uncommitted,
} from "./admin.ts";
export { readToEnd } from "./reader.ts";
export { openProducer } from "./producer.ts";
export {
  brokerList,
  type KafkaConnection,
  type KafkaRecord,
  type OutgoingRecord,
  produceRequests,
  type RecordProducer,
  shortText,
  utf8Length,
} from "./client.ts";
