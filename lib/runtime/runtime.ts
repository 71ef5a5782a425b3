/**
 * The lifecycle of a running worker: serve health and metrics, open the trigger and outputs
 * (retrying while servers come up), run the mode (continuous, --once, --schedule, invoked or
 * HTTP), stop on SIGINT/SIGTERM after the work in flight, close everything and log one
 * structured `stopped` line with the run's totals: exit code, records in, records out per output,
 * dead letters, and the run's wall and CPU seconds (after connecting, until done) — what tools
 * such as the bench read, rather than parsing messages.
 *
 * @example
 * ```ts
 * import { defineWorker, invoke } from "./define.ts";
 * const hello = defineWorker({
 *   name: "hello", description: "says hello", trigger: invoke(), outputs: {}, options: {},
 *   httpPort: 0, handle: async (_event, { log }) => log.info("hello"),
 * });
 * const options = { logLevel: "info", logFormat: "json", httpHost: "127.0.0.1", httpPort: 0,
 *   shutdownTimeoutMs: 1000, maxRetryAttempts: 3, retryBaseMs: 10 };
 * const code = await new Runtime(hello, options).start();
 * ```
 * @module
 */
import process from "node:process";
import type {
  AnyValues,
  HandlerContext,
  HttpWorker,
  InvokeWorker,
  Output,
  OutputSpec,
  RuntimeContext,
  StreamWorker,
  Worker,
} from "./define.ts";
import { ConfigError } from "./config.ts";
import { causeOf } from "./non_retriable_error.ts";
import { serveWorkerHttp } from "./http.ts";
import { invocationEndpoint, type RunBounds, type RunReport, RunScope } from "./invocation.ts";
import { lagEndpoint } from "./lag.ts";
import { StateStore } from "./keyed_state.ts";
import type { Lifecycle } from "./lifecycle.ts";
import {
  createLogger,
  type LogFormat,
  type Logger,
  type LogLevel,
  logProcessWarnings,
  redact,
} from "./log.ts";
import { createMetrics, runTotals, type WorkerMetrics } from "./metrics.ts";
import { retry, type RetryPolicy } from "./retry.ts";
import { runOnSchedule, type Schedule } from "./schedule.ts";
import { flushOutputs, sliceHandler } from "./slice.ts";
import type { Stream } from "./stream.ts";
import { consumeStream } from "./stream_loop.ts";

const round3 = (n: number) => Math.round(n * 1000) / 1000;

const cpuSeconds = (usage: { user: number; system: number }) => (usage.user + usage.system) / 1e6;

/** Exit codes: 0 done, 1 gave up (retries exhausted, server unreachable), 2 bad configuration. */
export const exitCodes = { ok: 0, failed: 1, config: 2 } as const;

export class Runtime implements Lifecycle {
  readonly log: Logger;
  readonly metrics: WorkerMetrics;
  readonly halted: Promise<void>;
  #stop = new AbortController();
  #halt: () => void = () => {};
  #outputs: Record<string, Output> = {};
  #shared = new Map<string, unknown>();
  #stream?: Stream;
  #state?: StateStore;
  #ready = false;
  // A continuous stream worker is ready once it holds partitions and their state, not when it
  // has connected: records sent before would only wait, and a rolling update would move on.
  #awaitingAssignment = false;
  #fatal?: Error;
  #invocation: (request: Request) => Promise<Response>;

  constructor(readonly def: Worker, readonly options: AnyValues, readonly schedule?: Schedule) {
    this.log = createLogger(def.name, options.logLevel as LogLevel, {}, {
      format: options.logFormat as LogFormat,
    });
    logProcessWarnings(this.log);
    this.metrics = createMetrics(def.name);
    this.halted = new Promise((resolve) => (this.#halt = resolve));
    this.#invocation = invocationEndpoint(
      def.name,
      this.log,
      (bounds) => this.invoked(bounds),
      () => this.ready,
    );
  }

  get worker(): string {
    return this.def.name;
  }

  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  get fatal(): Error | undefined {
    return this.#fatal;
  }

  fail(error: Error) {
    this.#fatal ??= error;
    this.#halt();
  }

  get ready(): boolean {
    return this.#ready && !this.signal.aborted;
  }

  setReady(value: boolean) {
    this.#ready = value;
    this.metrics.ready.set(this.ready ? 1 : 0);
  }

  /** Asks the worker to stop: the work in flight finishes (up to the shutdown timeout). */
  stop(reason: string) {
    if (this.signal.aborted) return;
    this.log.info("stop requested, draining", { signal: reason });
    this.setReady(false);
    this.#stop.abort();
    this.#halt();
  }

  context(): HandlerContext<AnyValues, Record<string, unknown>> {
    return {
      options: this.options,
      outputs: this.#outputs as never,
      log: this.log,
      metrics: this.metrics,
      signal: this.signal,
    };
  }

  runtimeContext(name: string): RuntimeContext {
    return {
      worker: this.def.name,
      name,
      options: this.options,
      log: this.log,
      metrics: this.metrics,
      signal: this.signal,
      shared: <T>(key: string, create: () => T): T => {
        if (!this.#shared.has(key)) this.#shared.set(key, create());
        return this.#shared.get(key) as T;
      },
    };
  }

  /** Runs until done, stopped or failed; resolves to the exit code. */
  async start(external?: AbortSignal): Promise<number> {
    const { def, options, log } = this;
    const signals: [Deno.Signal, () => void][] = (["SIGINT", "SIGTERM"] as const).map((
      signal,
    ) => [signal, () => this.stop(signal)]);
    for (const [signal, handler] of signals) Deno.addSignalListener(signal, handler);
    const onAbort = () => this.stop("abort");
    external?.addEventListener("abort", onAbort);
    if (external?.aborted) onAbort();

    let server: Deno.HttpServer | undefined;
    try {
      server = serveWorkerHttp({
        hostname: options.httpHost,
        port: options.httpPort,
        metrics: this.metrics,
        isReady: () => this.ready,
        handler: def.trigger.kind === "http"
          ? (request) =>
            (def as HttpWorker<never, unknown>).handle(request, this.context() as never)
          : (request) => this.route(request),
        onListen: (addr) =>
          log.info("listening", { url: `http://${addr.hostname}:${addr.port}`, mode: this.mode() }),
      });
    } catch (error) {
      log.error("cannot serve /metrics", { error, port: options.httpPort });
      for (const [signal, handler] of signals) Deno.removeSignalListener(signal, handler);
      return exitCodes.failed;
    }

    let code: number = exitCodes.ok;
    // The run's window — after connecting, until done — in wall and CPU time, for the last line.
    let run: { at: number; cpu: NodeJS.CpuUsage } | undefined;
    try {
      await this.connect();
      this.#awaitingAssignment = def.trigger.kind === "stream" && this.mode() === "continuous";
      this.setReady(!this.#awaitingAssignment);
      run = { at: performance.now(), cpu: process.cpuUsage() };
      await this.dispatch();
      if (this.#fatal) throw this.#fatal;
    } catch (error) {
      // A refused setting (an incompatible schema) ends the worker like a bad option: exit 2.
      const config = causeOf(error, ConfigError);
      code = config ? exitCodes.config : exitCodes.failed;
      this.metrics.errors.inc({ kind: "fatal" });
      log.error(`stopping: ${(error as Error).message}`, { error: (error as Error).name });
      // A refused setting reads like a bad option: one line on stderr naming it.
      if (config) console.error(`${def.name}: configuration error: ${redact(config.message)}`);
    } finally {
      this.setReady(false);
      await this.closeAll();
      await server.shutdown();
      for (const [signal, handler] of signals) Deno.removeSignalListener(signal, handler);
      external?.removeEventListener("abort", onAbort);
    }
    const window = run && {
      runSeconds: round3((performance.now() - run.at) / 1000),
      cpuSeconds: round3(cpuSeconds(process.cpuUsage(run.cpu))),
    };
    log.info("stopped", { exitCode: code, ...await runTotals(this.metrics), ...window });
    return code;
  }

  /** Routes beyond health and metrics: `/run` when serving, `/lag` of a stream worker. */
  async route(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/lag" && this.#stream) return await lagEndpoint(this.#stream)(request);
    if (path === "/run" && this.options.serve) {
      return await this.#invocation(request);
    }
    return new Response("not found\n", { status: 404 });
  }

  mode(): string {
    if (this.def.trigger.kind === "http") return "http";
    if (this.options.serve) return "serve (POST /run)";
    if (this.options.once) return "once";
    if (this.schedule) return `schedule ${this.schedule.source} (${this.schedule.timezone})`;
    return this.def.trigger.kind === "stream" ? "continuous" : "once";
  }

  /** Opens outputs, the trigger and setup, retrying with backoff; unreachable servers end it. */
  async connect() {
    const { def, options, log } = this;
    const policy = this.retryPolicy("connect");
    for (const [key, spec] of Object.entries(def.outputs as Record<string, OutputSpec<Output>>)) {
      this.#outputs[key] = await retry(
        () => spec.open(this.runtimeContext(key)),
        policy,
        `opening output ${key}`,
      );
    }
    if (def.trigger.kind === "stream") {
      const { trigger, state } = def as StreamWorker<never, unknown, unknown, unknown>;
      this.#stream = await retry(
        () => trigger.open(this.runtimeContext(def.name)),
        policy,
        "connecting to the input",
      );
      if (state) {
        const changelog = this.#stream.changelog(options[`state:${state.topic.env}`]);
        await retry(() => changelog.open(), policy, "connecting to the state changelog");
        this.#state = new StateStore(changelog, log);
      }
    }
    if (def.setup) await retry(() => def.setup!(this.context() as never), policy, "setup");
    log.info("connected", { outputs: Object.keys(this.#outputs) });
  }

  async dispatch() {
    const { def } = this;
    if (def.trigger.kind === "http" || this.options.serve) {
      await this.halted;
      return;
    }
    const once = async (at = new Date()) => {
      if (def.trigger.kind === "stream") await this.drain(true);
      else await this.invoke(at);
    };
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
      signal: this.signal,
      onWait: (at) => this.log.info("next scheduled run", { at: at.toISOString() }),
    });
    if (!this.signal.aborted && !this.#fatal) {
      this.log.info("the schedule has no further runs", { schedule: schedule.source });
    }
  }

  /** One run of `POST /run`: its own failure scope, its totals, where a stream got to. */
  async invoked(bounds: RunBounds): Promise<RunReport> {
    const before = await runTotals(this.metrics);
    const scope = new RunScope(this);
    let bounded: boolean | undefined;
    try {
      if (this.def.trigger.kind === "stream") bounded = await this.drain(true, scope, bounds);
      else await this.invoke(new Date(), { from: bounds.from, until: bounds.until });
      if (scope.fatal) throw scope.fatal;
    } finally {
      if (!this.signal.aborted) this.setReady(true);
    }
    const after = await runTotals(this.metrics);
    const recordsOut: Record<string, number> = {};
    for (const [output, n] of Object.entries(after.recordsOut)) {
      recordsOut[output] = n - (before.recordsOut[output] ?? 0);
    }
    const report: RunReport = {
      recordsIn: after.recordsIn - before.recordsIn,
      recordsOut,
      deadLetters: after.deadLetters - before.deadLetters,
    };
    if (this.#stream) {
      const positions = await this.#stream.positions().catch(() => undefined);
      if (positions) {
        report.offsets = Object.fromEntries(
          [...positions].map(([p, { committed }]) => [p, String(committed)]),
        );
      }
      report.bounded = bounded;
    }
    return report;
  }

  async invoke(scheduledAt: Date, interval: { from?: Date; until?: Date } = {}) {
    const def = this.def as InvokeWorker<never, unknown>;
    const work = (async () => {
      await def.handle({ scheduledAt, ...interval }, this.context() as never);
      await flushOutputs(this.#outputs);
    })();
    await this.withShutdownTimeout(work);
  }

  /**
   * Consumes the stream; with `untilEnd`, stops at the end offsets seen at start (or a bound);
   * resolves to whether a bound ended it.
   */
  async drain(untilEnd: boolean, life: Lifecycle = this, bounds: RunBounds = {}): Promise<boolean> {
    const stream = this.#stream!;
    const state = this.#state;
    const onSlice = sliceHandler(life, this.def as never, stream, this.#outputs, state);
    return await consumeStream(life, stream, onSlice, {
      // The changelog takes the input's partition count: the input must exist first.
      prepared: state && (() =>
        retry(
          () => state.prepare(stream.input),
          life.retryPolicy("preparing the state changelog"),
          "preparing the state changelog",
        )),
      untilEnd,
      onAssigned: (partitions) => {
        const restored = state?.assigned(partitions) ?? Promise.resolve();
        if (!this.#awaitingAssignment) return;
        restored.then(() => {
          if (!this.#awaitingAssignment || life.fatal) return;
          this.#awaitingAssignment = false;
          this.setReady(true);
        });
      },
      maxRecords: bounds.maxRecords,
      until: bounds.until?.getTime(),
    });
  }

  async withShutdownTimeout(work: Promise<unknown>) {
    const signal = this.signal;
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

  retryPolicy(what: string): RetryPolicy {
    return {
      attempts: this.options.maxRetryAttempts,
      baseMs: this.options.retryBaseMs,
      signal: this.signal,
      onRetry: (error, attempt, delayMs) =>
        this.log.warn(`${what} failed, retrying`, {
          error,
          attempt,
          delayMs: Math.round(delayMs),
        }),
    };
  }

  async closeAll() {
    for (const [key, output] of Object.entries(this.#outputs)) {
      try {
        await output.close();
      } catch (error) {
        this.log.warn("closing output failed", { output: key, error });
      }
    }
    await this.#stream?.close().catch(() => {});
  }
}
