/**
 * The worker runtime: a worker is data (name, trigger, outputs, options) plus one handler, and
 * `run()` owns the rest — configuration, connections, batching, commits, retries, dead letters,
 * metrics, health and shutdown — so no worker repeats them.
 *
 * @example
 * ```ts
 * import { topicOption } from "./kafka.ts";
 * export const echo = defineWorker({
 *   name: "echo",
 *   description: "copies one topic to another",
 *   trigger: kafkaTopic(topicOption("IN_TOPIC", "input", "in"), { group: "echo" }),
 *   outputs: { out: kafkaOutput(topicOption("OUT_TOPIC", "output", "out")) },
 *   options: {},
 *   httpPort: 9199,
 *   decode: (record) => record.value ?? new Uint8Array(),
 *   async handle(batch, { outputs }) {
 *     await outputs.out.send(batch.map((m) => ({ key: m.record.key ?? "", value: m.value })));
 *   },
 * });
 * if (import.meta.main) await run(echo);
 * ```
 * @module
 */
import type { Kafka } from "kafkajs";
import { parseCommandLine } from "./cli.ts";
import {
  bool,
  ConfigError,
  helpText,
  int,
  oneOf,
  type OptionSpec,
  type OptionSpecs,
  type OptionValues,
  resolveOptions,
  secretValues,
  str,
} from "./config.ts";
import { serveWorkerHttp } from "./http.ts";
import {
  type BatchConsumer,
  consumeBatches,
  type ConsumeOptions,
  createKafka,
  ensureTopics,
  type KafkaConnection,
  kafkaOptions,
  type KafkaRecord,
  openProducer,
  type OutgoingRecord,
  type PartitionBatch,
  partitionPositions,
  type RecordProducer,
  type SliceOutcome,
  topicOption,
} from "./kafka.ts";
import {
  createLogger,
  type LogFormat,
  type Logger,
  type LogLevel,
  logProcessWarnings,
  registerSecret,
} from "./log.ts";
import { createMetrics, runTotals, type WorkerMetrics } from "./metrics.ts";
import { RecordError } from "./record_error.ts";
import { isNonRetriable } from "./non_retriable_error.ts";
import { type KeyedState, type KeyedStateSpec, StateStore, type StateView } from "./keyed_state.ts";
import { backoffDelay, RetriesExhausted, retry, type RetryPolicy, sleep } from "./retry.ts";
import { parseSchedule, runOnSchedule, type Schedule } from "./schedule.ts";

// deno-lint-ignore no-explicit-any
type AnyValues = Record<string, any>;

/** What the runtime hands an output when it opens it. */
export interface RuntimeContext {
  worker: string;
  options: AnyValues;
  log: Logger;
  metrics: WorkerMetrics;
  /** The shared Kafka client (created lazily on first use). */
  kafka(): Kafka;
  signal: AbortSignal;
}

/** An output: the options it reads, and how to open it. The opened value needs `close()`. */
export interface OutputSpec<C extends { close(): Promise<void> }> {
  options: OptionSpecs;
  open(ctx: RuntimeContext): Promise<C>;
}

const topicPartitions = int("TOPIC_PARTITIONS", "partitions of topics this worker creates", 6, {
  min: 1,
  max: 1000,
});

/** Kafka output: `send()` produces keyed records and resolves when the brokers acknowledged. */
export interface KafkaOutput {
  topic: string;
  send(records: OutgoingRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** A keyed Kafka producer output on the topic named by `topic` (an option, so it is configurable). */
export function kafkaOutput(topic: OptionSpec<string>): OutputSpec<KafkaOutput> {
  return {
    options: { [`topic:${topic.env}`]: topic, ...kafkaOptions, topicPartitions },
    async open(ctx) {
      const name = ctx.options[`topic:${topic.env}`] as string;
      await ensureTopics(ctx.kafka(), [{ topic: name, partitions: ctx.options.topicPartitions }]);
      const producer = await openProducer(ctx.kafka(), ctx.options as KafkaConnection);
      return {
        topic: name,
        async send(records) {
          // A broker away for longer than kafkajs' own retries: back off and try again. A resend
          // after a lost acknowledgement can repeat records; consumers dedup by key and time.
          await retry(() => producer.send(name, records), {
            attempts: ctx.options.maxRetryAttempts,
            baseMs: ctx.options.retryBaseMs,
            signal: ctx.signal,
            onRetry: (error, attempt, delayMs) =>
              ctx.log.warn("produce failed, retrying", {
                topic: name,
                error,
                attempt,
                delayMs: Math.round(delayMs),
              }),
          }, `producing to ${name}`);
          ctx.metrics.recordsOut.inc({ output: name }, records.length);
        },
        close: () => producer.close(),
      };
    },
  };
}

/** Consume a Kafka topic in a consumer group, in batches. */
export interface KafkaTrigger {
  kind: "kafka";
  topic: OptionSpec<string>;
  group: string;
  batchSize: number;
  batchWindowMs: number;
  concurrency: number;
}

/** Run the handler when invoked: once, or on each `--schedule` tick. */
export interface InvokeTrigger {
  kind: "invoke";
}

/** Serve HTTP requests with the handler (beside /metrics, /healthz and /readyz). */
export interface HttpTrigger {
  kind: "http";
}

export type Trigger = KafkaTrigger | InvokeTrigger | HttpTrigger;

/** Kafka topic trigger; batch size and window are defaults the user can override. */
export function kafkaTopic(
  topic: OptionSpec<string>,
  opts: { group: string; batchSize?: number; batchWindowMs?: number; concurrency?: number },
): KafkaTrigger {
  return {
    kind: "kafka",
    topic,
    group: opts.group,
    batchSize: opts.batchSize ?? 500,
    batchWindowMs: opts.batchWindowMs ?? 250,
    concurrency: opts.concurrency ?? 1,
  };
}

/** Invocation trigger (sources such as a CSV replay or a polled API). */
export function invoke(): InvokeTrigger {
  return { kind: "invoke" };
}

/** HTTP trigger (the query API). */
export function http(): HttpTrigger {
  return { kind: "http" };
}

/** A consumed record, decoded, with where it came from. */
export interface Message<T> {
  value: T;
  record: KafkaRecord;
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
  /** Sends one consumed record to the dead-letter topic (Kafka trigger only). */
  deadLetter(record: KafkaRecord, error: RecordError): Promise<void>;
  /** The partition slice being handled, dead letters included (Kafka trigger only). */
  source?: BatchSource;
  /** The keyed state of the slice's partition (Kafka workers that declare `state`). */
  // deno-lint-ignore no-explicit-any
  state: KeyedState<any>;
}

/** Where a batch came from: one topic-partition, offsets first..last inclusive. */
export interface BatchSource {
  topic: string;
  partition: number;
  firstOffset: bigint;
  lastOffset: bigint;
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

export interface KafkaWorker<S extends OptionSpecs, O, T> extends Common<S, O> {
  trigger: KafkaTrigger;
  /** Keyed state the runtime keeps for the handler (see lib/keyed_state.ts). */
  // deno-lint-ignore no-explicit-any
  state?: KeyedStateSpec<any>;
  /** Per record; a thrown RecordError sends that record to the dead-letter topic. */
  decode(record: KafkaRecord, options: OptionValues<S>): T;
  handle(batch: Message<T>[], ctx: HandlerContext<OptionValues<S>, O>): Promise<void>;
}

export interface InvokeWorker<S extends OptionSpecs, O> extends Common<S, O> {
  trigger: InvokeTrigger;
  handle(event: { scheduledAt: Date }, ctx: HandlerContext<OptionValues<S>, O>): Promise<void>;
}

export interface HttpWorker<S extends OptionSpecs, O> extends Common<S, O> {
  trigger: HttpTrigger;
  handle(request: Request, ctx: HandlerContext<OptionValues<S>, O>): Promise<Response>;
}

// deno-lint-ignore no-explicit-any
export type Worker = KafkaWorker<any, any, any> | InvokeWorker<any, any> | HttpWorker<any, any>;

/** Declares a worker; the identity function that gives the handler its types. */
export function defineWorker<
  S extends OptionSpecs,
  // deno-lint-ignore no-explicit-any
  O extends Record<string, OutputSpec<any>>,
  T,
>(def: KafkaWorker<S, O, T>): KafkaWorker<S, O, T>;
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

/** Options of the runtime itself, shared by every worker. */
function runtimeOptions(def: Worker): OptionSpecs {
  const common: OptionSpecs = {
    logLevel: oneOf("LOG_LEVEL", "log level", ["debug", "info", "warn", "error"] as const, "info"),
    logFormat: oneOf(
      "LOG_FORMAT",
      "log lines: readable on a terminal and JSON otherwise (auto), or always json / pretty",
      ["auto", "json", "pretty"] as const,
      "auto",
    ),
    httpHost: str("HTTP_HOST", "address for /metrics, /healthz, /readyz", "127.0.0.1"),
    httpPort: int("HTTP_PORT", "port for /metrics, /healthz, /readyz", def.httpPort, {
      min: 0,
      max: 65535,
    }),
    shutdownTimeoutMs: int(
      "SHUTDOWN_TIMEOUT_MS",
      "how long a stop waits for the batch in flight",
      15_000,
      { min: 0 },
    ),
    maxRetryAttempts: int(
      "MAX_RETRY_ATTEMPTS",
      "tries of a failing batch or connection before the worker stops",
      8,
      { min: 1 },
    ),
    retryBaseMs: int("RETRY_BASE_MS", "first backoff delay (doubles, with jitter)", 250, {
      min: 1,
    }),
  };
  if (def.trigger.kind === "http") return common;
  common.once = bool("ONCE", "drain the input up to its end at start, then exit 0", false);
  common.schedule = str(
    "SCHEDULE",
    "cron expression (5 fields, names, @daily, L/W/#): run a drain on each tick",
    "",
  );
  common.scheduleTz = str("SCHEDULE_TZ", "time zone of SCHEDULE (IANA name)", "UTC");
  if (def.trigger.kind !== "kafka") return common;
  const { state } = def as KafkaWorker<OptionSpecs, unknown, unknown>;
  return {
    ...common,
    ...kafkaOptions,
    [`topic:${def.trigger.topic.env}`]: def.trigger.topic,
    consumerGroup: str("CONSUMER_GROUP", "Kafka consumer group", def.trigger.group),
    batchSize: int("BATCH_SIZE", "most records per batch", def.trigger.batchSize, {
      min: 1,
      max: 100_000,
    }),
    batchWindowMs: int(
      "BATCH_WINDOW_MS",
      "longest wait for a batch to fill",
      def.trigger.batchWindowMs,
      { min: 0, max: 60_000 },
    ),
    dlqTopic: topicOption("DLQ_TOPIC", "dead-letter topic", "market.dlq"),
    topicPartitions,
    ...(state ? { [`topic:${state.topic.env}`]: state.topic } : {}),
    concurrency: int(
      "PARTITION_CONCURRENCY",
      "partitions handled at the same time (order holds within each)",
      def.trigger.concurrency,
      { min: 1, max: 64 },
    ),
    sessionTimeoutMs: int(
      "SESSION_TIMEOUT_MS",
      "how long the group waits for a silent member before reassigning its partitions",
      30_000,
      { min: 6_000, max: 300_000 },
    ),
  };
}

/** Every option of a worker: runtime, trigger, outputs and its own. */
export function allOptions(def: Worker): OptionSpecs {
  const specs: OptionSpecs = { ...runtimeOptions(def) };
  for (const output of Object.values(def.outputs as Record<string, OutputSpec<never>>)) {
    Object.assign(specs, output.options);
  }
  return { ...specs, ...def.options };
}

/** Headers a dead letter carries, named like Kafka Connect's error context headers. */
export const deadLetterHeaders = {
  reason: "dlq.reason",
  message: "dlq.message",
  topic: "dlq.topic",
  partition: "dlq.partition",
  offset: "dlq.offset",
  worker: "dlq.worker",
  failedAt: "dlq.failed_at",
} as const;

/** Exit codes: 0 done, 1 gave up (retries exhausted, server unreachable), 2 bad configuration. */
export const exitCodes = { ok: 0, failed: 1, config: 2 } as const;

/**
 * Runs a worker as a process: parses config (exit 2 on a bad value), serves health and metrics,
 * opens outputs, runs the trigger until done or signalled, and exits.
 */
export async function run(def: Worker, args: string[] = Deno.args): Promise<never> {
  const code = await runWorker(def, args);
  Deno.exit(code);
}

/** {@link run} without exiting: resolves to the exit code (for embedding and tests). */
export async function runWorker(def: Worker, args: string[]): Promise<number> {
  const specs = allOptions(def);
  const switches = Object.values(specs).filter((s) => s.isSwitch).map((s) =>
    s.env.toLowerCase().replaceAll("_", "-")
  );
  let options: AnyValues;
  let schedule: Schedule | undefined;
  try {
    const { flags } = parseCommandLine(args, [...switches, "help"]);
    if (flags.help) {
      console.log(helpText(`${def.name}: ${def.description}`, specs, helpFlags(def)));
      return exitCodes.ok;
    }
    options = resolveOptions(specs, { env: Deno.env.toObject(), flags });
    if (options.schedule) {
      try {
        schedule = parseSchedule(options.schedule, options.scheduleTz);
      } catch (error) {
        const which = /time zone/.test((error as Error).message) ? "SCHEDULE_TZ" : "SCHEDULE";
        throw new ConfigError(`${which}: ${(error as Error).message}`);
      }
      if (options.once) throw new ConfigError("ONCE and SCHEDULE cannot be used together");
    }
  } catch (error) {
    console.error(`${def.name}: configuration error: ${(error as Error).message}`);
    return exitCodes.config;
  }
  for (const value of secretValues(specs, options)) registerSecret(value);
  return await new Runtime(def, options, schedule).start();
}

function helpFlags(def: Worker): string[] {
  const lines = ["  --help                       print this and exit"];
  if (def.trigger.kind !== "http") {
    lines.push("  (--once and --schedule select the run mode; default: run continuously)");
  }
  return lines;
}

const noState: KeyedState<unknown> = {
  get() {
    throw new Error("this worker declares no state");
  },
  set() {
    throw new Error("this worker declares no state");
  },
};

class Runtime {
  readonly log: Logger;
  readonly metrics: WorkerMetrics;
  readonly stopController = new AbortController();
  #kafka?: Kafka;
  #outputs: Record<string, { close(): Promise<void> }> = {};
  /** Produces dead letters and the state changelog (outputs have producers of their own). */
  #producer?: RecordProducer;
  #state?: StateStore;
  #ready = false;
  #consumer?: BatchConsumer;
  #fatal?: Error;
  #wake: () => void = () => {};

  constructor(readonly def: Worker, readonly options: AnyValues, readonly schedule?: Schedule) {
    this.log = createLogger(def.name, options.logLevel as LogLevel, {}, {
      format: options.logFormat as LogFormat,
    });
    logProcessWarnings(this.log);
    this.metrics = createMetrics(def.name);
  }

  kafka(): Kafka {
    this.#kafka ??= createKafka(this.options as KafkaConnection, this.log, this.def.name);
    return this.#kafka;
  }

  get ready() {
    return this.#ready && !this.stopController.signal.aborted;
  }

  set ready(value: boolean) {
    this.#ready = value;
    this.metrics.ready.set(this.ready ? 1 : 0);
  }

  context(
    source?: BatchSource,
    state: KeyedState<unknown> = noState,
  ): HandlerContext<AnyValues, Record<string, unknown>> {
    return {
      source,
      state,
      options: this.options,
      outputs: this.#outputs as never,
      log: this.log,
      metrics: this.metrics,
      signal: this.stopController.signal,
      deadLetter: (record, error) => this.deadLetter(record, error),
    };
  }

  async start(): Promise<number> {
    const { def, options, log } = this;
    const onSignal = (signal: Deno.Signal) => () => {
      if (this.stopController.signal.aborted) return;
      log.info("stop requested, draining", { signal });
      this.ready = false;
      this.stopController.abort();
      this.#wake();
    };
    const signals: [Deno.Signal, () => void][] = [
      ["SIGINT", onSignal("SIGINT")],
      ["SIGTERM", onSignal("SIGTERM")],
    ];
    for (const [signal, handler] of signals) Deno.addSignalListener(signal, handler);

    let server: Deno.HttpServer | undefined;
    try {
      server = serveWorkerHttp({
        hostname: options.httpHost,
        port: options.httpPort,
        metrics: this.metrics,
        isReady: () => this.ready,
        handler: def.trigger.kind === "http"
          ? (request) => (def as HttpWorker<OptionSpecs, unknown>).handle(request, this.context())
          : undefined,
        onListen: (addr) =>
          log.info("listening", { url: `http://${addr.hostname}:${addr.port}`, mode: this.mode() }),
      });
    } catch (error) {
      log.error("cannot serve /metrics", { error, port: options.httpPort });
      return exitCodes.failed;
    }

    let code: number = exitCodes.ok;
    try {
      await this.connect();
      this.ready = true;
      await this.dispatch();
      if (this.#fatal) throw this.#fatal;
    } catch (error) {
      code = exitCodes.failed;
      this.metrics.errors.inc({ kind: "fatal" });
      log.error(`stopping: ${(error as Error).message}`, {
        error: (error as Error).name,
      });
    } finally {
      this.ready = false;
      await this.closeAll();
      await server.shutdown();
      for (const [signal, handler] of signals) Deno.removeSignalListener(signal, handler);
    }
    log.info("stopped", { exitCode: code, ...await runTotals(this.metrics) });
    return code;
  }

  mode(): string {
    if (this.def.trigger.kind === "http") return "http";
    if (this.options.once) return "once";
    if (this.schedule) return `schedule ${this.schedule.source} (${this.schedule.timezone})`;
    return this.def.trigger.kind === "kafka" ? "continuous" : "once";
  }

  /** Opens outputs and runs setup, retrying with backoff; unreachable servers end the worker. */
  async connect() {
    const { def, options, log } = this;
    const ctx: RuntimeContext = {
      worker: def.name,
      options,
      log,
      metrics: this.metrics,
      kafka: () => this.kafka(),
      signal: this.stopController.signal,
    };
    const policy = this.retryPolicy("connect");
    for (const [key, spec] of Object.entries(def.outputs as Record<string, OutputSpec<never>>)) {
      this.#outputs[key] = await retry(() => spec.open(ctx), policy, `opening output ${key}`);
    }
    if (def.trigger.kind === "kafka") {
      this.#producer = await retry(
        () => openProducer(this.kafka(), this.options as KafkaConnection),
        policy,
        "connecting to Kafka",
      );
      const { state } = def as KafkaWorker<OptionSpecs, unknown, unknown>;
      if (state) {
        const changelog = options[`topic:${state.topic.env}`] as string;
        this.#state = new StateStore(changelog, this.kafka(), this.#producer, log);
      }
    }
    if (def.setup) await retry(() => def.setup!(this.context() as never), policy, "setup");
    log.info("connected", { outputs: Object.keys(this.#outputs) });
  }

  async dispatch() {
    const { def } = this;
    if (def.trigger.kind === "http") {
      await new Promise<void>((resolve) => {
        if (this.stopController.signal.aborted) resolve();
        this.stopController.signal.addEventListener("abort", () => resolve());
      });
      return;
    }
    const once = (at = new Date()) =>
      def.trigger.kind === "kafka" ? this.drain(true) : this.invoke(at);
    if (this.schedule) {
      await this.onSchedule(this.schedule, once);
    } else if (this.options.once || def.trigger.kind === "invoke") {
      await once();
    } else {
      await this.drain(false);
    }
  }

  /** Cron loop: each tick runs one drain; a tick that comes while one runs is skipped. */
  async onSchedule(schedule: Schedule, runOnce: (at: Date) => Promise<void>) {
    await runOnSchedule(schedule, async (at) => {
      const started = Date.now();
      await runOnce(at);
      if (this.#fatal) return false;
      this.log.info("scheduled run done", { ms: Date.now() - started });
      return true;
    }, {
      signal: this.stopController.signal,
      onWait: (at) => this.log.info("next scheduled run", { at: at.toISOString() }),
    });
    if (!this.stopController.signal.aborted && !this.#fatal) {
      this.log.info("the schedule has no further runs", { schedule: schedule.source });
    }
  }

  async invoke(scheduledAt: Date) {
    const def = this.def as InvokeWorker<OptionSpecs, unknown>;
    const work = def.handle({ scheduledAt }, this.context());
    await this.withShutdownTimeout(work);
  }

  /** Waits for `work`; after a stop request, at most the shutdown timeout. */
  async withShutdownTimeout(work: Promise<unknown>) {
    const signal = this.stopController.signal;
    let abandoned = false;
    const timeout = new Promise<void>((resolve) => {
      const arm = () =>
        setTimeout(() => {
          abandoned = true;
          resolve();
        }, this.options.shutdownTimeoutMs);
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (signal.aborted) timer = arm();
      else signal.addEventListener("abort", () => (timer = arm()), { once: true });
      work.finally(() => {
        clearTimeout(timer);
        resolve();
      }).catch(() => {});
    });
    await Promise.race([work, timeout]);
    if (abandoned) {
      this.log.warn("shutdown timeout: in-flight work abandoned uncommitted", {
        timeoutMs: this.options.shutdownTimeoutMs,
      });
    }
  }

  /** The retry policy of connections and Kafka reads: bounded, aborted by a stop. */
  retryPolicy(what: string): RetryPolicy {
    return {
      attempts: this.options.maxRetryAttempts,
      baseMs: this.options.retryBaseMs,
      signal: this.stopController.signal,
      onRetry: (error, attempt, delayMs) =>
        this.log.warn(`${what} failed, retrying`, {
          error,
          attempt,
          delayMs: Math.round(delayMs),
        }),
    };
  }

  /** Consumes the trigger topic; with `untilEnd`, stops at the high-water marks seen at start. */
  async drain(untilEnd: boolean) {
    const def = this.def as KafkaWorker<OptionSpecs, unknown, unknown>;
    const { options, log } = this;
    const topic = options[`topic:${def.trigger.topic.env}`] as string;
    const group = options.consumerGroup as string;
    const kafka = this.kafka();
    // The input exists with leaders before the group subscribes: a consumer that meets a
    // leaderless partition at start is what made a fresh `up` fail.
    await retry(
      () => ensureTopics(kafka, [{ topic, partitions: options.topicPartitions }]),
      this.retryPolicy("preparing the input topic"),
      `preparing topic ${topic}`,
    );
    if (this.#state) {
      await retry(
        () => this.#state!.prepare(topic),
        this.retryPolicy("preparing the state changelog"),
        "preparing the state changelog",
      );
    }
    let remaining: Map<number, bigint> | undefined;
    if (untilEnd) {
      const positions = await retry(
        () => partitionPositions(kafka, topic, group),
        this.retryPolicy("reading high-water marks"),
        "reading high-water marks",
      );
      remaining = new Map();
      for (const [partition, { high, committed }] of positions) {
        if (committed < high && high > 0n) remaining.set(partition, high);
      }
      log.info("draining to high-water marks", {
        topic,
        partitions: Object.fromEntries([...remaining].map(([p, h]) => [p, h.toString()])),
      });
      if (remaining.size === 0) return;
    }
    const done = () => this.stopController.signal.aborted || !!this.#fatal || remaining?.size === 0;
    const finished = new Promise<void>((resolve) => (this.#wake = resolve));
    // Other replicas of the group may finish partitions for us; poll the group's commits too.
    const poll = untilEnd
      ? setInterval(() => this.refreshRemaining(topic, group, remaining!), 1000)
      : 0;
    // Failures in a row; any committed slice resets the count.
    let failures = 0;
    try {
      while (!done()) {
        const failure = await this.consumeUntilFailure(
          def,
          {
            topic,
            group,
            batchSize: options.batchSize,
            batchWindowMs: options.batchWindowMs,
            sessionTimeoutMs: options.sessionTimeoutMs,
            concurrency: options.concurrency,
          },
          finished,
          (partition, next) => {
            failures = 0;
            const target = remaining?.get(partition);
            if (target !== undefined && next >= target) remaining!.delete(partition);
            if (done()) this.#wake();
          },
        );
        if (failure === undefined || done()) break;
        // A broker restarting, a partition without a leader yet, a coordinator moving: the
        // consumer is started again after a backoff; only what no retry can fix ends the worker.
        failures++;
        if (isNonRetriable(failure) || failures >= options.maxRetryAttempts) {
          this.#fatal = isNonRetriable(failure)
            ? failure
            : new RetriesExhausted("consuming " + topic, failures, failure);
          break;
        }
        const delayMs = backoffDelay(failures, options.retryBaseMs);
        this.ready = false;
        this.metrics.errors.inc({ kind: "retriable" });
        log.warn("Kafka consumer failed, starting it again", {
          topic,
          error: failure,
          attempt: failures,
          delayMs: Math.round(delayMs),
        });
        await sleep(delayMs, this.stopController.signal);
      }
    } finally {
      clearInterval(poll);
    }
  }

  /**
   * Runs one consumer until `finished` (done or stopping) or until it fails; resolves with the
   * failure, if any, after the consumer has stopped.
   */
  async consumeUntilFailure(
    def: KafkaWorker<OptionSpecs, unknown, unknown>,
    settings: ConsumeOptions,
    finished: Promise<void>,
    onCommitted: (partition: number, next: bigint) => void,
  ): Promise<Error | undefined> {
    let consumer: BatchConsumer;
    try {
      consumer = await consumeBatches(
        this.kafka(),
        this.options as KafkaConnection,
        settings,
        (batch) => this.handleBatch(def, batch),
        onCommitted,
      );
    } catch (error) {
      return error as Error;
    }
    this.#consumer = consumer;
    this.log.info("consuming", {
      topic: settings.topic,
      group: settings.group,
      client: this.options.kafkaClient,
    });
    const failure = await Promise.race([finished.then(() => undefined), consumer.crashed]);
    this.#consumer = undefined;
    if (failure === undefined) await this.withShutdownTimeout(consumer.stop());
    else await consumer.stop().catch(() => {});
    if (!this.#fatal) this.ready = true;
    return failure;
  }

  async refreshRemaining(topic: string, group: string, remaining: Map<number, bigint>) {
    try {
      const positions = await partitionPositions(this.kafka(), topic, group);
      for (const [partition, target] of remaining) {
        const committed = positions.get(partition)?.committed ?? -1n;
        if (committed >= target) remaining.delete(partition);
      }
      if (remaining.size === 0) this.#wake();
    } catch (error) {
      this.log.debug("could not poll group offsets", { error });
    }
  }

  /** One partition slice: decode (bad → dead letter), handle with retries, then it is committed. */
  async handleBatch(
    def: KafkaWorker<OptionSpecs, unknown, unknown>,
    batch: PartitionBatch,
  ): Promise<SliceOutcome> {
    if (this.#fatal) throw this.#fatal;
    let moved = false;
    const { options, log, metrics } = this;
    const started = performance.now();
    const first = batch.records[0].offset;
    const last = batch.records[batch.records.length - 1].offset;
    const ctx = { topic: batch.topic, partition: batch.partition, offsets: `${first}-${last}` };
    metrics.recordsIn.inc({ topic: batch.topic }, batch.records.length);
    try {
      await retry(async () => {
        // Records below the state's stamp were absorbed before a crash or a rebalance.
        const store = this.#state && await this.#state.partition(batch.partition, BigInt(first));
        const records = store
          ? batch.records.filter((r) => BigInt(r.offset) >= store.next)
          : batch.records;
        const messages: Message<unknown>[] = [];
        const failures: { record: KafkaRecord; error: RecordError }[] = [];
        for (const record of records) {
          try {
            messages.push({ value: def.decode(record, options), record });
          } catch (error) {
            if (!(error instanceof RecordError)) throw error;
            failures.push({ record, error });
          }
        }
        await this.deadLetters(failures);
        const source = {
          topic: batch.topic,
          partition: batch.partition,
          firstOffset: BigInt(first),
          lastOffset: BigInt(last),
        };
        const view: StateView<unknown> | undefined = store && this.#state!.view(store);
        if (messages.length > 0) await def.handle(messages, this.context(source, view) as never);
        // The state moves past this slice only after its outputs (and dead letters) were
        // acknowledged, and before the offsets are committed.
        if (store && records.length > 0) {
          // A partition that moved away meanwhile belongs to its new owner's state: writing
          // ours now could overwrite newer state. The new owner handles the slice again.
          if (batch.isStale()) {
            moved = true;
            this.#state!.forget(batch.partition);
            return;
          }
          await this.#state!.write(batch.partition, store, view!, BigInt(last) + 1n);
        }
      }, {
        attempts: options.maxRetryAttempts,
        baseMs: options.retryBaseMs,
        retryable: (error) => !(error instanceof RecordError),
        onRetry: (error, attempt, delayMs) => {
          batch.heartbeat().catch(() => {});
          metrics.errors.inc({ kind: "retriable" });
          this.ready = false;
          log.warn("batch failed, retrying without commit", {
            ...ctx,
            error,
            attempt,
            delayMs: Math.round(delayMs),
          });
        },
      }, `batch ${batch.topic}[${batch.partition}] ${first}-${last}`);
    } catch (error) {
      // Retries exhausted (or a RecordError thrown for a whole batch): stop rather than spin
      // or skip; nothing was committed, so the batch is redelivered after a restart.
      this.#fatal = error instanceof RetriesExhausted
        ? error
        : new Error(`batch failed: ${(error as Error).message}`);
      this.#wake();
      throw this.#fatal;
    }
    if (moved) {
      log.info("partition moved to another replica mid-slice: left uncommitted", ctx);
      return false;
    }
    this.ready = true;
    const lag = batch.highWatermark - (BigInt(last) + 1n);
    metrics.consumerLag.set(
      { topic: batch.topic, partition: String(batch.partition) },
      Number(lag < 0n ? 0n : lag),
    );
    metrics.batchDuration.observe((performance.now() - started) / 1000);
    metrics.lastSuccess.set(Date.now() / 1000);
    log.debug("batch done", { ...ctx, records: batch.records.length });
  }

  deadLetter(record: KafkaRecord, error: RecordError): Promise<void> {
    return this.deadLetters([{ record, error }]);
  }

  /** Sends dead letters in one produce call; they are acknowledged before the batch commits. */
  async deadLetters(failures: { record: KafkaRecord; error: RecordError }[]) {
    if (failures.length === 0) return;
    const h = deadLetterHeaders;
    const failedAt = new Date().toISOString();
    await this.#producer!.send(
      this.options.dlqTopic,
      failures.map(({ record, error }) => ({
        key: record.key ?? "",
        value: record.value ?? new Uint8Array(),
        headers: {
          ...record.headers,
          [h.reason]: error.reason,
          [h.message]: error.message.slice(0, 1000),
          [h.topic]: record.topic,
          [h.partition]: String(record.partition),
          [h.offset]: record.offset,
          [h.worker]: this.def.name,
          [h.failedAt]: failedAt,
        },
      })),
    );
    for (const { record, error } of failures) {
      this.metrics.deadLetters.inc({ reason: error.reason });
      this.log.warn("dead letter", {
        reason: error.reason,
        message: error.message.slice(0, 200),
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
      });
    }
  }

  async closeAll() {
    if (this.#consumer) await this.withShutdownTimeout(this.#consumer.stop());
    for (const [key, output] of Object.entries(this.#outputs)) {
      try {
        await output.close();
      } catch (error) {
        this.log.warn("closing output failed", { output: key, error });
      }
    }
    await this.#producer?.close().catch(() => {});
  }
}
