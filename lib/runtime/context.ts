/**
 * What the runtime hands the triggers and outputs it opens: the worker's name, its resolved
 * options, log, metrics, stop signal, and a place for a client they share (one Kafka client for
 * the trigger and every Kafka output).
 *
 * @example
 * ```ts
 * const greeting: OutputSpec<Output & { say(text: string): void }> = {
 *   options: {},
 *   open: (ctx) =>
 *     Promise.resolve({
 *       say: (text: string) => ctx.log.info(text),
 *       close: () => Promise.resolve(),
 *     }),
 * };
 * ```
 * @module
 */
import type { OptionSpecs } from "./config.ts";
import type { Logger } from "./log.ts";
import type { WorkerMetrics } from "./metrics.ts";

// deno-lint-ignore no-explicit-any
export type AnyValues = Record<string, any>;

/** What the runtime hands a trigger or an output when it opens it. */
export interface RuntimeContext {
  worker: string;
  /** The output's key in the worker's `outputs` (its metric label); the worker name for a trigger. */
  name: string;
  options: AnyValues;
  log: Logger;
  metrics: WorkerMetrics;
  signal: AbortSignal;
  /** One value per `key` for the whole process, shared by trigger and outputs (a client). */
  shared<T>(key: string, create: () => T): T;
}

/** What an opened output may offer: `flush()` writes what it batched, before a commit or exit. */
export interface Output {
  close(): Promise<void>;
  flush?(): Promise<void>;
}

/** An output: the options it reads, and how to open it. */
export interface OutputSpec<C extends Output> {
  options: OptionSpecs;
  open(ctx: RuntimeContext): Promise<C>;
}
