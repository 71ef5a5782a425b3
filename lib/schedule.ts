/**
 * Cron schedules: five fields (minute hour day-of-month month day-of-week), evaluated in UTC.
 * Supports `*`, lists `a,b`, ranges `a-b` and steps `*\/n`, `a-b/n`; day-of-week 0 or 7 is
 * Sunday. As in Vixie cron, when both day fields are restricted a day matching either runs.
 *
 * @example
 * ```ts
 * const every5 = parseCron("*\/5 * * * *");
 * nextRun(every5, new Date("2024-01-01T00:02:00Z")); // 2024-01-01T00:05:00Z
 * ```
 * @module
 */

export interface Cron {
  source: string;
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  dayRestricted: boolean;
  weekdayRestricted: boolean;
}

const fields = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day-of-week", min: 0, max: 7 },
] as const;

function parseField(text: string, field: (typeof fields)[number]): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!match) throw new Error(`bad ${field.name} field "${text}"`);
    const step = match[4] ? Number(match[4]) : 1;
    let lo: number = field.min, hi: number = field.max;
    if (match[2] !== undefined) {
      lo = Number(match[2]);
      hi = match[3] !== undefined ? Number(match[3]) : (match[4] ? field.max : lo);
    }
    if (lo < field.min || hi > field.max || lo > hi || step < 1) {
      throw new Error(`${field.name} field "${text}" is out of range ${field.min}-${field.max}`);
    }
    for (let v: number = lo; v <= hi; v += step) {
      out.add(field.name === "day-of-week" && v === 7 ? 0 : v);
    }
  }
  return out;
}

/** Parses a five-field cron expression; throws an Error saying which field is wrong. */
export function parseCron(source: string): Cron {
  const parts = source.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error(`expected 5 fields, got ${parts.length}`);
  const [minutes, hours, days, months, weekdays] = parts.map((p, i) => parseField(p, fields[i]));
  return {
    source,
    minutes,
    hours,
    days,
    months,
    weekdays,
    dayRestricted: parts[2] !== "*",
    weekdayRestricted: parts[4] !== "*",
  };
}

function dayMatches(cron: Cron, date: Date): boolean {
  const dom = cron.days.has(date.getUTCDate());
  const dow = cron.weekdays.has(date.getUTCDay());
  if (cron.dayRestricted && cron.weekdayRestricted) return dom || dow;
  return dom && dow;
}

/** The first minute strictly after `after` that the schedule fires. */
export function nextRun(cron: Cron, after: Date): Date {
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  // Five years of minutes bounds the search; an impossible date such as Feb 30 ends it.
  const limit = after.getTime() + 5 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!cron.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0);
    } else if (!dayMatches(cron, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0);
    } else if (!cron.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0);
    } else if (!cron.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1);
    } else {
      return t;
    }
  }
  throw new Error(`schedule "${cron.source}" never fires`);
}
