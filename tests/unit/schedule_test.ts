import assert from "node:assert/strict";
import {
  type Clock,
  longestTimerMs,
  parseSchedule,
  runOnSchedule,
  sleepUntil,
} from "../../lib/runtime/schedule.ts";

const iso = (d: Date | null) => d?.toISOString() ?? null;
const next = (expr: string, after: string, tz = "UTC") =>
  iso(parseSchedule(expr, tz).next(new Date(after)));

Deno.test("schedule: fields, steps, names, nicknames and L/W/#", () => {
  assert.equal(next("*/5 * * * *", "2024-01-01T00:02:30Z"), "2024-01-01T00:05:00.000Z");
  assert.equal(next("0 22 * * 1-5", "2024-01-05T22:00:00Z"), "2024-01-08T22:00:00.000Z");
  assert.equal(next("0 22 * * MON-FRI", "2024-01-05T22:00:00Z"), "2024-01-08T22:00:00.000Z");
  assert.equal(next("0 0 * * 7", "2024-01-01T00:00:00Z"), "2024-01-07T00:00:00.000Z");
  assert.equal(next("0 12 29 FEB *", "2023-03-01T00:00:00Z"), "2024-02-29T12:00:00.000Z");
  assert.equal(next("@daily", "2024-01-01T10:00:00Z"), "2024-01-02T00:00:00.000Z");
  assert.equal(next("@hourly", "2024-01-01T10:20:00Z"), "2024-01-01T11:00:00.000Z");
  // the last day of the month, the weekday nearest the 15th (a Saturday here), 2nd Monday
  assert.equal(next("0 0 L * *", "2024-02-03T00:00:00Z"), "2024-02-29T00:00:00.000Z");
  assert.equal(next("0 0 15W * *", "2024-06-01T00:00:00Z"), "2024-06-14T00:00:00.000Z");
  assert.equal(next("0 0 * * MON#2", "2024-01-01T10:00:00Z"), "2024-01-08T00:00:00.000Z");
});

Deno.test("schedule: Vixie's rule — both day fields restricted means either day runs", () => {
  const s = parseSchedule("0 0 1,15 * MON");
  const runs: string[] = [];
  let at = new Date("2024-01-01T10:00:00Z");
  for (let i = 0; i < 5; i++) runs.push(iso(at = s.next(at)!)!.slice(0, 10));
  assert.deepEqual(runs, ["2024-01-08", "2024-01-15", "2024-01-22", "2024-01-29", "2024-02-01"]);
});

Deno.test("schedule: after the US close in New York all year, across daylight-saving changes", () => {
  const close = "30 16 * * MON-FRI";
  // EST (UTC-5) before 10 March 2024, EDT (UTC-4) after; back to EST on 3 November.
  assert.equal(next(close, "2024-03-08T00:00:00Z", "America/New_York"), "2024-03-08T21:30:00.000Z");
  assert.equal(next(close, "2024-03-09T00:00:00Z", "America/New_York"), "2024-03-11T20:30:00.000Z");
  assert.equal(next(close, "2024-11-01T00:00:00Z", "America/New_York"), "2024-11-01T20:30:00.000Z");
  assert.equal(next(close, "2024-11-02T00:00:00Z", "America/New_York"), "2024-11-04T21:30:00.000Z");
});

Deno.test("schedule: bad expressions and zones say what is wrong", () => {
  assert.throws(() => parseSchedule("* * *"), /five/);
  assert.throws(() => parseSchedule("61 * * * *"), /minute/);
  assert.throws(() => parseSchedule("0 0 30 FEB *"), /never fires/);
  assert.throws(() => parseSchedule("0 0 * * *", "Mars/Base"), /unknown time zone "Mars\/Base"/);
});

/**
 * A clock that moves only when a timer is armed, with setTimeout's overflow: a delay beyond
 * 2^31-1 ms fires after 1 ms, as it did for a monthly schedule started on 1 February.
 */
function fakeClock(start: string): Clock & { delays: number[] } {
  let now = new Date(start).getTime();
  const delays: number[] = [];
  return {
    delays,
    now: () => now,
    timer(ms) {
      delays.push(ms);
      now += ms > longestTimerMs ? 1 : ms;
      return Promise.resolve();
    },
  };
}

Deno.test("schedule: a wait longer than 24.8 days is slept in pieces, not fired at once", async () => {
  const clock = fakeClock("2024-02-01T00:00:00Z");
  const march = new Date("2024-03-01T00:00:00Z").getTime(); // 29 days away
  await sleepUntil(march, undefined, clock);
  assert.equal(clock.now(), march);
  assert.ok(clock.delays.length >= 2);
  assert.ok(clock.delays.every((d) => d <= longestTimerMs), String(clock.delays));
});

Deno.test("schedule: a monthly run started on 1 February fires on 1 March, 1 April, … and no sooner", async () => {
  const clock = fakeClock("2024-02-01T00:00:30Z");
  const runs: string[] = [];
  const stop = new AbortController();
  await runOnSchedule(parseSchedule("0 0 1 * *"), (at) => {
    runs.push(`${iso(at)} at ${new Date(clock.now()).toISOString()}`);
    if (runs.length === 3) stop.abort();
    return Promise.resolve(true);
  }, { signal: stop.signal, clock });
  assert.deepEqual(runs, [
    "2024-03-01T00:00:00.000Z at 2024-03-01T00:00:00.000Z",
    "2024-04-01T00:00:00.000Z at 2024-04-01T00:00:00.000Z",
    "2024-05-01T00:00:00.000Z at 2024-05-01T00:00:00.000Z",
  ]);
});

Deno.test("schedule: an abort during the wait ends it without a run", async () => {
  const stop = new AbortController();
  let ran = 0;
  const waiting = runOnSchedule(parseSchedule("0 0 1 1 *"), () => {
    ran++;
    return Promise.resolve(true);
  }, { signal: stop.signal });
  stop.abort();
  await waiting;
  assert.equal(ran, 0);
});
