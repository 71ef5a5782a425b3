/**
 * Cron schedules, parsed and evaluated by croner (maintained, no dependencies): five fields,
 * names (`MON`, `JAN`), `@daily`/`@hourly`/…, `L`, `W` and `#`, Vixie's rule that a day matching
 * either restricted day field runs, and a time zone (daylight-saving changes included). Waits
 * longer than a timer can hold (24.8 days) are slept in pieces.
 *
 * @example
 * ```ts
 * const close = parseSchedule("30 16 * * MON-FRI", "America/New_York");
 * close.next(new Date("2024-03-08T00:00:00Z")); // 2024-03-08T21:30:00Z (EST)
 * close.next(new Date("2024-03-11T00:00:00Z")); // 2024-03-11T20:30:00Z (EDT)
 * ```
 * @module
 */
import { Cron } from "croner";
import { sleep } from "./retry.ts";

/** A parsed schedule: when it next fires after a moment, or null when it never will again. */
export interface Schedule {
  source: string;
  timezone: string;
  next(after: Date): Date | null;
}

/** Parses a cron expression in `timezone` (IANA name); throws an Error saying what is wrong. */
export function parseSchedule(source: string, timezone = "UTC"): Schedule {
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
  } catch {
    throw new Error(`unknown time zone "${timezone}" (an IANA name such as America/New_York)`);
  }
  let cron: Cron;
  try {
    cron = new Cron(source.trim(), { timezone, paused: true, mode: "5-part" });
  } catch (error) {
    throw new Error((error as Error).message.replace(/^CronPattern: /, ""));
  }
  if (cron.nextRun(new Date()) === null) throw new Error(`"${source}" never fires`);
  return {
    source,
    timezone,
    next: (after) => cron.nextRun(after),
  };
}

/** Time as the scheduler sees it; tests inject one that moves without waiting. */
export interface Clock {
  now(): number;
  /** Resolves after `ms` (never more than {@link longestTimerMs}), or early on abort. */
  timer(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now(), timer: sleep };

/** setTimeout holds a signed 32-bit delay: anything longer fires at once. */
export const longestTimerMs = 2 ** 31 - 1;

/** Resolves when the clock reaches `at` (or on abort), in pieces a timer can hold. */
export async function sleepUntil(
  at: number,
  signal?: AbortSignal,
  clock: Clock = systemClock,
): Promise<void> {
  while (!signal?.aborted) {
    const left = at - clock.now();
    if (left <= 0) return;
    await clock.timer(Math.min(left, longestTimerMs), signal);
  }
}

/**
 * Runs `runOnce` at each time the schedule fires until `signal` aborts or `runOnce` returns
 * false; a time that passes while a run is going is skipped (no catch-up burst).
 */
export async function runOnSchedule(
  schedule: Schedule,
  runOnce: (at: Date) => Promise<boolean>,
  opts: { signal: AbortSignal; clock?: Clock; onWait?: (at: Date) => void },
): Promise<void> {
  const clock = opts.clock ?? systemClock;
  while (!opts.signal.aborted) {
    const at = schedule.next(new Date(clock.now()));
    if (at === null) return;
    opts.onWait?.(at);
    await sleepUntil(at.getTime(), opts.signal, clock);
    if (opts.signal.aborted) return;
    if (!(await runOnce(at))) return;
  }
}
