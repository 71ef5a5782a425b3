/**
 * Logs on stderr: JSON lines (one object a line with time, level, worker, message and context)
 * for machines, or one readable, coloured line each when stderr is a terminal. Registered secret
 * values are masked in every line, whatever characters they contain.
 *
 * @example
 * ```ts
 * const log = createLogger("transform", "info");
 * log.info("batch done", { topic: "market.ticks", partition: 0, offset: "41" });
 * ```
 * @module
 */
import process from "node:process";

export type LogLevel = "debug" | "info" | "warn" | "error";
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** `auto`: readable on a terminal, JSON otherwise. */
export type LogFormat = "auto" | "json" | "pretty";

export type LogContext = Record<string, unknown>;

/** A structured logger bound to one worker. */
export interface Logger {
  debug(msg: string, ctx?: LogContext): void;
  info(msg: string, ctx?: LogContext): void;
  warn(msg: string, ctx?: LogContext): void;
  error(msg: string, ctx?: LogContext): void;
  /** A logger whose lines all carry `ctx` as well. */
  child(ctx: LogContext): Logger;
}

const secrets = new Set<string>();

/** Masks `value` in every line any logger writes from now on (and in {@link redact}). */
export function registerSecret(value: string): void {
  // Very short values would mask ordinary words; a real secret is longer than this.
  if (value.length >= 4) secrets.add(value);
}

/** `text` with every registered secret replaced by `***`. */
export function redact(text: string): string {
  let out = text;
  for (const value of secrets) out = out.replaceAll(value, "***");
  return out;
}

// The line's own fields: context cannot overwrite them (a clash is kept as `context.<name>`).
const reserved = new Set(["time", "level", "worker", "msg"]);

/**
 * A JSON-safe copy of a context value, with secrets masked in the raw strings (before any
 * escaping, so a secret holding `"` or `\` is still found), bigints as text, errors as their
 * message and cycles cut.
 */
function plain(value: unknown, ancestors: unknown[] = []): unknown {
  if (typeof value === "string") return redact(value);
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return redact(value.message);
  if (value === null || typeof value !== "object") {
    return typeof value === "function" || typeof value === "symbol" ? String(value) : value;
  }
  if (ancestors.includes(value)) return "[circular]";
  if (ancestors.length > 8) return "[nested too deep]";
  const inner = [...ancestors, value];
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => plain(v, inner));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = plain(v, inner);
  return out;
}

/** The fields of one line, in order: time, level, worker, msg, then the context. */
export function logRecord(
  level: LogLevel,
  worker: string,
  msg: string,
  ctx: LogContext,
  now = new Date(),
): Record<string, unknown> {
  const record: Record<string, unknown> = {
    time: now.toISOString(),
    level,
    worker,
    msg: redact(msg),
  };
  for (const [key, value] of Object.entries(ctx)) {
    if (value === undefined) continue;
    record[reserved.has(key) ? `context.${key}` : key] = plain(value);
  }
  return record;
}

const colours: Record<LogLevel, string> = {
  debug: "\x1b[90m",
  info: "\x1b[36m",
  warn: "\x1b[33m",
  error: "\x1b[31m",
};

/** One readable line: `10:00:33.405 INFO  ingest  listening  url=… mode=once`. */
export function prettyLine(record: Record<string, unknown>, colour: boolean): string {
  const { time, level, worker, msg, ...ctx } = record;
  const lvl = String(level).toUpperCase().padEnd(5);
  // Text is quoted only when it holds spaces or quotes; objects and numbers read as JSON.
  const fields = Object.entries(ctx).map(([k, v]) => {
    if (typeof v !== "string") return `${k}=${JSON.stringify(v)}`;
    return `${k}=${/[\s"]/.test(v) || v === "" ? JSON.stringify(v) : v}`;
  }).join(" ");
  const clock = String(time).slice(11, 23);
  if (!colour) return `${clock} ${lvl} ${worker}  ${msg}${fields ? "  " + fields : ""}`;
  const dim = "\x1b[2m", bold = "\x1b[1m", reset = "\x1b[0m";
  const tint = colours[level as LogLevel];
  const head = `${dim}${clock}${reset} ${tint}${lvl}${reset} ${dim}${worker}${reset}`;
  return `${head}  ${bold}${msg}${reset}${fields ? `  ${dim}${fields}${reset}` : ""}`;
}

/** Where lines go and how they look. */
export interface LogOutput {
  format?: LogFormat;
  write?: (line: string) => void;
  /** Whether the destination is a terminal (decides `auto`); default: stderr's. */
  terminal?: boolean;
  /** Colours on a readable line; default: unless NO_COLOR is set. */
  colour?: boolean;
}

function noColour(): boolean {
  try {
    return Deno.noColor || Deno.env.get("NO_COLOR") !== undefined;
  } catch {
    return true;
  }
}

/** Creates a logger; lines below `level` are dropped. */
export function createLogger(
  worker: string,
  level: LogLevel = "info",
  base: LogContext = {},
  output: LogOutput = {},
): Logger {
  const write = output.write ?? ((line: string) => console.error(line));
  const terminal = output.terminal ?? Deno.stderr.isTerminal();
  const pretty = output.format === "pretty" || ((output.format ?? "auto") === "auto" && terminal);
  const colour = output.colour ?? !noColour();
  const emit = (lvl: LogLevel, msg: string, ctx?: LogContext) => {
    if (rank[lvl] < rank[level]) return;
    const record = logRecord(lvl, worker, msg, { ...base, ...ctx });
    write(pretty ? prettyLine(record, colour) : JSON.stringify(record));
  };
  return {
    debug: (msg, ctx) => emit("debug", msg, ctx),
    info: (msg, ctx) => emit("info", msg, ctx),
    warn: (msg, ctx) => emit("warn", msg, ctx),
    error: (msg, ctx) => emit("error", msg, ctx),
    child: (ctx) => createLogger(worker, level, { ...base, ...ctx }, output),
  };
}

// kafkajs' request queue arms its throttle timer with a negative delay when it was never
// throttled; Node (and Deno's Node layer) runs it after 1 ms, which is what kafkajs means.
const harmlessWarnings = new Set(["TimeoutNegativeWarning"]);

/**
 * Node-style process warnings from npm dependencies become log lines (so stderr holds only log
 * lines); known-harmless ones at debug level.
 */
export function logProcessWarnings(log: Logger): void {
  process.removeAllListeners("warning");
  process.on("warning", (warning: Error) => {
    const level = harmlessWarnings.has(warning.name) ? "debug" : "warn";
    log[level]("runtime warning", { warning: warning.name, message: warning.message });
  });
}
