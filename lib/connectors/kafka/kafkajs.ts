/**
 * kafkajs, loaded after its record-batch decoding, its fetch batch and its per-record produce
 * work are replaced (`kafkajs_record_batch.ts`, `kafkajs_batch.ts`, `kafkajs_produce.ts`). Every
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
import { installFetchBatch } from "./kafkajs_batch.ts";
import { installRecordBatchDecoder } from "./kafkajs_record_batch.ts";
import { installProducePath } from "./kafkajs_produce.ts";

installRecordBatchDecoder();
installFetchBatch();
installProducePath();
// Loaded here, not by a static import: a static import would run kafkajs before the lines above.
const { default: kafkajs } = await import("kafkajs");
export default kafkajs;
