/**
 * Progress of a long run: on a terminal, a bar with rate and ETA redrawn in place; otherwise a
 * log line every few seconds, so CI logs and `docker logs` stay readable.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const progress = createProgress("replay", 5105, createLogger("ingest"));
 * progress.add(100);
 * progress.done();
 * ```
 * @module
 */
import type { Logger } from "./log.ts";

export interface Progress {
  add(n: number): void;
  done(): void;
}

/** `total` may be unknown (null): then the bar shows the count and rate only. */
export function createProgress(
  label: string,
  total: number | null,
  log: Logger,
  opts: { tty?: boolean; everyMs?: number } = {},
): Progress {
  const tty = opts.tty ?? Deno.stderr.isTerminal();
  const everyMs = opts.everyMs ?? (tty ? 200 : 5000);
  const started = performance.now();
  let count = 0;
  const encoder = new TextEncoder();
  const render = (final: boolean) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? count / seconds : 0;
    const eta = total !== null && rate > 0 ? Math.max(0, (total - count) / rate) : null;
    if (tty) {
      const width = 30;
      const filled = total ? Math.min(width, Math.round((count / total) * width)) : 0;
      const bar = total ? `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ` : "";
      const pct = total ? `${((count / total) * 100).toFixed(1)}% ` : "";
      const line = `\r${label} ${bar}${pct}${count}${total ? "/" + total : ""} ` +
        `${rate.toFixed(0)}/s${eta !== null ? ` ETA ${eta.toFixed(0)}s` : ""}\x1b[K`;
      Deno.stderr.writeSync(encoder.encode(final ? line + "\n" : line));
    } else {
      log.info(final ? `${label} done` : `${label} progress`, {
        count,
        total,
        ratePerSecond: Math.round(rate),
        etaSeconds: eta === null ? null : Math.round(eta),
      });
    }
  };
  // A timer marks each period as due rather than add() reading the clock: at a few hundred
  // thousand records a second, a reading a record was 3% of an ingest's CPU. Unreferenced, it
  // never keeps the process alive.
  let due = false;
  const timer = setInterval(() => (due = true), everyMs);
  Deno.unrefTimer(timer);
  return {
    add(n) {
      count += n;
      if (!due) return;
      due = false;
      render(false);
    },
    done: () => {
      clearInterval(timer);
      render(true);
    },
  };
}
