/**
 * What the pieces of a running worker share with its lifecycle: the resolved options, log and
 * metrics, the stop signal, readiness, and the fatal error that ends the run. The consume loop
 * and the slice handler receive this, not the runtime class, so each can be read (and tested)
 * alone.
 *
 * @example
 * ```ts
 * function report(life: Lifecycle) {
 *   if (life.fatal) life.log.error("stopping", { error: life.fatal });
 * }
 * ```
 * @module
 */
import type { AnyValues } from "./define.ts";
import type { Logger } from "./log.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { RetryPolicy } from "./retry.ts";

export interface Lifecycle {
  readonly worker: string;
  readonly options: AnyValues;
  readonly log: Logger;
  readonly metrics: WorkerMetrics;
  /** Aborted when the worker is asked to stop. */
  readonly signal: AbortSignal;
  /** Set once something no retry can fix happened; the run ends with it. */
  readonly fatal?: Error;
  /** Ends the run with `error` (the first one wins). */
  fail(error: Error): void;
  /** /readyz and the `worker_ready` gauge. */
  setReady(ready: boolean): void;
  /** The retry policy of connections: bounded, aborted by a stop, logged. */
  retryPolicy(what: string): RetryPolicy;
  /** Waits for `work`; after a stop request, at most the shutdown timeout. */
  withShutdownTimeout(work: Promise<unknown>): Promise<void>;
  /** Resolves when the worker is asked to stop or fails. */
  readonly halted: Promise<void>;
}
