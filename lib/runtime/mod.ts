/**
 * The worker runtime: a worker is data (name, trigger, outputs, options, state) plus one handler,
 * and `run()` owns the rest — configuration, connections, batching, commits, retries, dead
 * letters, keyed state, lineage, metrics, health and shutdown — so no worker repeats them. It
 * knows no client library and no domain: triggers and outputs come from `lib/connectors/`.
 *
 * @example
 * ```ts
 * import { defineWorker, invoke, run, str } from "./mod.ts";
 * const hello = defineWorker({
 *   name: "hello",
 *   description: "logs a greeting when invoked",
 *   trigger: invoke(),
 *   outputs: {},
 *   options: { who: str("WHO", "whom to greet", "world") },
 *   httpPort: 9199,
 *   async handle(_event, { options, log }) {
 *     log.info(`hello, ${options.who}`);
 *   },
 * });
 * if (import.meta.main) await run(hello);
 * ```
 * @module
 */
export * from "./define.ts";
export { type Embedding, exitCodes, run, runWorker } from "./run.ts";
export { allOptions } from "./options.ts";
export * from "./config.ts";
export { type KeyedState, keyedState, type KeyedStateSpec } from "./keyed_state.ts";
export { RecordError } from "./record_error.ts";
export { NonRetriableError } from "./non_retriable_error.ts";
export { deadLetterHeaders } from "./dead_letters.ts";
export { lineageHeader } from "./lineage.ts";
export { type BatchPolicy, batchPolicyOptions } from "./batching.ts";
export type { Logger } from "./log.ts";
export { createProgress } from "./progress.ts";
export { sleep } from "./retry.ts";
export type { StreamRecord, StreamTrigger } from "./stream.ts";
