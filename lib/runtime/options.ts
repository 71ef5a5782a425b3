/**
 * The options of a worker: the runtime's own (logging, health port, shutdown, retries, run mode),
 * its trigger's, its outputs' and its own, in that order in `--help`.
 *
 * @example
 * ```ts
 * import { defineWorker, invoke } from "./define.ts";
 * const specs = allOptions(defineWorker({
 *   name: "x", description: "x", trigger: invoke(), outputs: {}, options: {}, httpPort: 0,
 *   handle: () => Promise.resolve(),
 * }));
 * // specs.once.env === "ONCE"
 * ```
 * @module
 */
import { bool, int, oneOf, type OptionSpecs, str } from "./config.ts";
import type { OutputSpec, StreamWorker, Worker } from "./define.ts";

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
  common.serve = bool(
    "SERVE",
    "consume nothing until POST /run on the HTTP port; each run drains like --once (an invoked " +
      "worker runs once) and answers with its totals",
    false,
  );
  if (def.trigger.kind !== "stream") return common;
  const { state } = def as StreamWorker<OptionSpecs, unknown, unknown, unknown>;
  return {
    ...common,
    ...def.trigger.options,
    ...(state ? { [`state:${state.topic.env}`]: state.topic } : {}),
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
