/**
 * ISO-8601 times as the sources, the wire format and the API write them. Impossible calendar
 * days are rejected rather than rolled over (JavaScript's own parsers read 2000-02-31 as 2 March).
 *
 * @example
 * ```ts
 * parseIsoTime("2024-01-02");           // 2024-01-02T00:00:00Z in ms
 * parseIsoTime("2024-01-02T14:30:00Z"); // that instant
 * parseIsoTime("2024-02-30");           // NaN
 * isoTime(Date.UTC(2024, 0, 2, 14, 30)); // "2024-01-02T14:30:00.000Z"
 * ```
 * @module
 */

const iso =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

const monthDays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether year-month-day names a real calendar day. */
export function isRealDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : monthDays[month - 1]);
}

/** The number of `length` digits at `at`, or NaN. */
function digits(text: string, at: number, length: number): number {
  let n = 0;
  for (let i = at; i < at + length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return NaN;
    n = n * 10 + c;
  }
  return n;
}

const twoDigits = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
const threeDigits = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
const DAY_MS = 86_400_000;
// The last day formatted: records come in time order, so the day part is nearly always it.
let lastDay = NaN;
let lastDayText = "";

/**
 * `new Date(ms).toISOString()`, the same text, without a Date: formatting one was three
 * quarters of encoding a tick. The day part is formatted by `Date` when the day changes.
 */
export function isoTime(ms: number): string {
  if (!Number.isSafeInteger(ms)) return new Date(ms).toISOString(); // (throws as it does)
  const day = Math.floor(ms / DAY_MS);
  if (day !== lastDay) {
    const text = new Date(day * DAY_MS).toISOString();
    lastDayText = text.slice(0, text.indexOf("T") + 1);
    lastDay = day;
  }
  clockOf(ms - day * DAY_MS, clock);
  return `${lastDayText}${twoDigits[clock[0]]}:${twoDigits[clock[1]]}:${twoDigits[clock[2]]}.${
    threeDigits[clock[3]]
  }Z`;
}

const clock = new Int32Array(4);

/** Hour, minute, second and millisecond of `msOfDay` (0 ≤ it < a day), into `into`. */
export function clockOf(msOfDay: number, into: Int32Array): void {
  let rest = msOfDay;
  const millis = rest % 1000;
  rest = (rest - millis) / 1000;
  const second = rest % 60;
  rest = (rest - second) / 60;
  const minute = rest % 60;
  into[0] = (rest - minute) / 60;
  into[1] = minute;
  into[2] = second;
  into[3] = millis;
}

/**
 * `YYYY-MM-DDThh:mm:ss.sssZ`, the form every record on the wire has (`toISOString()`), read
 * without a regular expression: it is on transform's hot path, once per tick.
 */
function wireTime(text: string): number {
  if (
    text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84 ||
    text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58 || text.charCodeAt(19) !== 46
  ) return NaN;
  const year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  const hour = digits(text, 11, 2), minute = digits(text, 14, 2), second = digits(text, 17, 2);
  const ms = digits(text, 20, 3);
  if (!isRealDay(year, month, day) || hour > 23 || minute > 59 || second > 59) return NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/**
 * Milliseconds since the epoch of `YYYY-MM-DD` (UTC midnight) or
 * `YYYY-MM-DDThh:mm[:ss[.fff]]` with `Z` or an offset; NaN when it is neither, or impossible.
 */
export function parseIsoTime(text: string): number {
  if (text.length === 24 && text.charCodeAt(23) === 90) return wireTime(text);
  const m = iso.exec(text);
  if (!m || !isRealDay(Number(m[1]), Number(m[2]), Number(m[3]))) return NaN;
  if (m[4] === undefined) return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59) return NaN;
  return Date.parse(text);
}
