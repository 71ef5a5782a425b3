/**
 * JSON-lines logs on stderr: one object a line with time, level, worker, message and context
 * (topic, partition, offset, ...). Registered secret values are masked in every line.
 *
 * @example
 * ```ts
 * const log = createLogger("transform", "info");
 * log.info("batch done", { topic: "market.ticks", partition: 0, offset: "41" });
 * ```
 * @module
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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

/** Creates a logger; lines below `level` are dropped. */
export function createLogger(
  worker: string,
  level: LogLevel = "info",
  base: LogContext = {},
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  const emit = (lvl: LogLevel, msg: string, ctx?: LogContext) => {
    if (rank[lvl] < rank[level]) return;
    const line = JSON.stringify(
      { time: new Date().toISOString(), level: lvl, worker, msg, ...base, ...ctx },
      (_key, value) => {
        if (typeof value === "bigint") return value.toString();
        if (value instanceof Error) return value.message;
        return value;
      },
    );
    write(redact(line));
  };
  return {
    debug: (msg, ctx) => emit("debug", msg, ctx),
    info: (msg, ctx) => emit("info", msg, ctx),
    warn: (msg, ctx) => emit("warn", msg, ctx),
    error: (msg, ctx) => emit("error", msg, ctx),
    child: (ctx) => createLogger(worker, level, { ...base, ...ctx }, write),
  };
}
