/**
 * Bar intervals and their period starts in UTC: minutes and hours are floored, days start at
 * 00:00, weeks on Monday 00:00, months on the first of the calendar month.
 *
 * @example
 * ```ts
 * periodStart("1w", Date.UTC(2024, 0, 3)); // Date.UTC(2024, 0, 1), a Monday
 * ```
 * @module
 */

export const INTERVALS = ["1m", "5m", "15m", "1h", "1d", "1w", "1mo"] as const;
export type Interval = (typeof INTERVALS)[number];

const fixedMs: Partial<Record<Interval, number>> = {
  "1m": 60_000,
  "5m": 300_000,
  "15m": 900_000,
  "1h": 3_600_000,
  "1d": 86_400_000,
};

/** Parses an interval name; throws an Error listing the valid ones. */
export function parseInterval(text: string): Interval {
  if ((INTERVALS as readonly string[]).includes(text)) return text as Interval;
  throw new Error(`unknown interval "${text}" (one of ${INTERVALS.join(", ")})`);
}

/** Start of the period that contains `ts` (ms since the epoch). */
export function periodStart(interval: Interval, ts: number): number {
  const fixed = fixedMs[interval];
  if (fixed !== undefined) return Math.floor(ts / fixed) * fixed;
  const d = new Date(ts);
  if (interval === "1mo") return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  // 1w: back to Monday. getUTCDay() is 0 for Sunday, so Sunday goes back 6 days.
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  const sinceMonday = (d.getUTCDay() + 6) % 7;
  return day - sinceMonday * 86_400_000;
}

/** Whether `interval` is `than` or coarser (a monthly source builds monthly bars, not daily). */
export function atLeastAsCoarse(interval: Interval, than: Interval): boolean {
  return INTERVALS.indexOf(interval) >= INTERVALS.indexOf(than);
}

/** Periods a year, for annualising volatility; intraday intervals are not annualised. */
export function periodsPerYear(interval: Interval): number | null {
  if (interval === "1d") return 252;
  if (interval === "1w") return 52;
  if (interval === "1mo") return 12;
  return null;
}
