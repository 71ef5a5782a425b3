/**
 * kafkajs, loaded after its record-batch decoder is replaced (`kafkajs_record_batch.ts`). Every
 * value import of kafkajs goes through here (`deno task check` refuses any other); type imports
 * may name "kafkajs" directly.
 *
 * @example
 * ```ts
 * import kafkajs from "./kafkajs.ts";
 * const kafka = new kafkajs.Kafka({ brokers: ["127.0.0.1:9092"] });
 * ```
 * @module
 */
import { installRecordBatchDecoder } from "./kafkajs_record_batch.ts";

installRecordBatchDecoder();
// Loaded here, not by a static import: a static import would run kafkajs before the line above.
const { default: kafkajs } = await import("kafkajs");
export default kafkajs;
