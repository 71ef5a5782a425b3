/**
 * What a worker is: data (name, trigger, outputs, options, state) plus one handler. The handler's
 * context is typed by its trigger: a stream handler always has its `source`, `state` and
 * `deadLetter`; an invoked or HTTP handler has none of them.
 *
 * @example
 * ```ts
 * import { str } from "./config.ts";
 * export const hello = defineWorker({
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
 * ```
 * @module
 */
import type { OptionSpecs, OptionValues } from "./config.ts";
import type { OutputSpec } from "./context.ts";
import type { KeyedState, KeyedStateSpec } from "./keyed_state.ts";
import type { Logger } from "./log.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { DeadLetterError } from "./record_error.ts";
import type { StreamRecord, StreamTrigger } from "./stream.ts";

export type { AnyValues, Output, OutputSpec, RuntimeContext } from "./context.ts";

/** Run the handler when invoked: once, or on each `--schedule` tick. */
export interface InvokeTrigger {
  kind: "invoke";
}

/** Serve HTTP requests with the handler (beside /metrics, /healthz and /readyz). */
export interface HttpTrigger {
  kind: "http";
}

export type Trigger = StreamTrigger | InvokeTrigger | HttpTrigger;

/** Invocation trigger (sources such as a CSV replay or a polled API). */
export function invoke(): InvokeTrigger {
  return { kind: "invoke" };
}

/** HTTP trigger (a query API). */
export function http(): HttpTrigger {
  return { kind: "http" };
}

/** A consumed record, decoded, with where it came from. */
export interface Message<T> {
  value: T;
  record: StreamRecord;
}

/** Where a slice came from: one topic-partition, offsets first..last inclusive. */
export interface BatchSource {
  topic: string;
  partition: number;
  firstOffset: bigint;
  lastOffset: bigint;
}

type Opened<O> = { [K in keyof O]: O[K] extends OutputSpec<infer C> ? C : never };

/** What every handler receives. */
export interface HandlerContext<V, O> {
  options: V;
  outputs: Opened<O>;
  log: Logger;
  metrics: WorkerMetrics;
  /** Aborted when the worker is asked to stop. */
  signal: AbortSignal;
}

/** What a stream handler receives besides: its slice's source, state and dead letters. */
export interface StreamContext<V, O, S> extends HandlerContext<V, O> {
  /** The partition slice being handled (dead-lettered and redelivered records included). */
  source: BatchSource;
  /** The keyed state of the slice's partition (workers that declare `state`). */
  state: KeyedState<S>;
  /** Sends one consumed record to the dead-letter topic; the slice goes on. */
  deadLetter(record: StreamRecord, error: DeadLetterError): Promise<void>;
}

interface Common<S extends OptionSpecs, O> {
  name: string;
  description: string;
  options: S;
  outputs: O;
  /** Default HTTP port for /metrics, /healthz, /readyz. */
  httpPort: number;
  /** Runs after outputs are open, before the trigger starts (migrations, state loading). */
  // deno-lint-ignore no-explicit-any
  setup?(ctx: HandlerContext<OptionValues<S>, O>): Promise<any>;
}

export interface StreamWorker<S extends OptionSpecs, O, T, St = never> extends Common<S, O> {
  trigger: StreamTrigger;
  /** Keyed state the runtime keeps for the handler (see keyed_state.ts). */
  state?: KeyedStateSpec<St>;
  /**
   * Before a slice's records are decoded: fetch what decoding needs (an Avro writer schema by
   * id). A failure fails the slice, which is retried without a commit.
   */
  beforeDecode?(records: readonly StreamRecord[], options: OptionValues<S>): Promise<void>;
  /** Per record; a thrown RecordError sends that record to the dead-letter topic. */
  decode(record: StreamRecord, options: OptionValues<S>): T;
  handle(batch: Message<T>[], ctx: StreamContext<OptionValues<S>, O, St>): Promise<void>;
}

/** What an invoked run is told: when, and the data interval an orchestrator asked for. */
export interface InvokeEvent {
  scheduledAt: Date;
  /** Start of the data interval (`POST /run?from=`), inclusive. */
  from?: Date;
  /** End of the data interval (`POST /run?until=`), exclusive. */
  until?: Date;
}

export interface InvokeWorker<S extends OptionSpecs, O> extends Common<S, O> {
  trigger: InvokeTrigger;
  handle(event: InvokeEvent, ctx: HandlerContext<OptionValues<S>, O>): Promise<void>;
}

export interface HttpWorker<S extends OptionSpecs, O> extends Common<S, O> {
  trigger: HttpTrigger;
  handle(request: Request, ctx: HandlerContext<OptionValues<S>, O>): Promise<Response>;
}

export type Worker =
  // deno-lint-ignore no-explicit-any
  | StreamWorker<any, any, any, any>
  // deno-lint-ignore no-explicit-any
  | InvokeWorker<any, any>
  // deno-lint-ignore no-explicit-any
  | HttpWorker<any, any>;

/** Declares a worker; the identity function that gives the handler its types. */
export function defineWorker<
  S extends OptionSpecs,
  // deno-lint-ignore no-explicit-any
  O extends Record<string, OutputSpec<any>>,
  T,
  St = never,
>(def: StreamWorker<S, O, T, St>): StreamWorker<S, O, T, St>;
export function defineWorker<
  S extends OptionSpecs,
  // deno-lint-ignore no-explicit-any
  O extends Record<string, OutputSpec<any>>,
>(def: InvokeWorker<S, O>): InvokeWorker<S, O>;
export function defineWorker<
  S extends OptionSpecs,
  // deno-lint-ignore no-explicit-any
  O extends Record<string, OutputSpec<any>>,
>(def: HttpWorker<S, O>): HttpWorker<S, O>;
export function defineWorker(def: Worker): Worker {
  return def;
}
