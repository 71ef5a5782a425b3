/**
 * ISO-8601 times as the sources, the wire format and the API write them. Impossible calendar
 * days are rejected rather than rolled over (JavaScript's own parsers read 2000-02-31 as 2 March).
 *
 * @example
 * ```ts
 * parseIsoTime("2024-01-02");           // 2024-01-02T00:00:00Z in ms
 * parseIsoTime("2024-01-02T14:30:00Z"); // that instant
 * parseIsoTime("2024-02-30");           // NaN
 * ```
 * @module
 */

const iso =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** Whether year-month-day names a real calendar day. */
export function isRealDay(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/**
 * Milliseconds since the epoch of `YYYY-MM-DD` (UTC midnight) or
 * `YYYY-MM-DDThh:mm[:ss[.fff]]` with `Z` or an offset; NaN when it is neither, or impossible.
 */
export function parseIsoTime(text: string): number {
  const m = iso.exec(text);
  if (!m || !isRealDay(Number(m[1]), Number(m[2]), Number(m[3]))) return NaN;
  if (m[4] === undefined) return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59) return NaN;
  return Date.parse(text);
}
