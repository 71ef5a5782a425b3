import assert from "node:assert/strict";
import {
  type BarConfig,
  barKey,
  buildBars,
  type IndicatorBar,
  type SymbolState,
} from "../../lib/market/bars.ts";
import { defaultPeriods } from "../../lib/market/indicators.ts";
import { periodStart } from "../../lib/market/intervals.ts";
import type { InputRecord } from "../../lib/market/record.ts";
import { syntheticTicks } from "../../lib/market/synthetic.ts";
import { barDocument, barTables } from "../../lib/market/tables.ts";

const cfg: BarConfig = {
  tickIntervals: ["1m", "5m", "1h"],
  barIntervals: ["1d", "1w", "1mo"],
  periods: defaultPeriods,
};
const day = (iso: string, o: number, h: number, l: number, c: number, v: number): InputRecord => ({
  kind: "bar",
  symbol: "X",
  ts: Date.parse(`${iso}T00:00:00Z`),
  open: o,
  high: h,
  low: l,
  close: c,
  volume: v,
});
const tick = (iso: string, price: number, size: number): InputRecord => ({
  kind: "tick",
  symbol: "T",
  ts: Date.parse(iso),
  price,
  size,
});
const find = (bars: IndicatorBar[], interval: string, startIso: string) =>
  bars.find((b) => b.interval === interval && b.start === Date.parse(startIso));

Deno.test("period starts: weeks begin Monday 00:00 UTC, months on the 1st", () => {
  assert.equal(
    periodStart("1w", Date.parse("2024-01-07T23:59:00Z")),
    Date.parse("2024-01-01T00:00:00Z"),
  );
  assert.equal(
    periodStart("1w", Date.parse("2024-01-08T00:00:00Z")),
    Date.parse("2024-01-08T00:00:00Z"),
  );
  assert.equal(
    periodStart("1w", Date.parse("2021-01-01T12:00:00Z")),
    Date.parse("2020-12-28T00:00:00Z"),
  );
  assert.equal(
    periodStart("1mo", Date.parse("2024-02-29T10:00:00Z")),
    Date.parse("2024-02-01T00:00:00Z"),
  );
  assert.equal(
    periodStart("5m", Date.parse("2024-01-01T10:07:59Z")),
    Date.parse("2024-01-01T10:05:00Z"),
  );
  assert.equal(
    periodStart("1h", Date.parse("2024-01-01T10:59:59Z")),
    Date.parse("2024-01-01T10:00:00Z"),
  );
});

Deno.test("daily bars roll up into weeks and months across a year boundary", () => {
  const records = [
    day("2023-12-27", 10, 12, 9, 11, 100),
    day("2023-12-28", 11, 15, 10, 14, 200),
    day("2023-12-29", 14, 14, 8, 9, 300),
    day("2024-01-02", 9, 10, 7, 8, 400),
    day("2024-01-03", 8, 13, 8, 12, 500),
  ];
  const { bars } = buildBars(new Map(), records, cfg);
  const week52 = find(bars, "1w", "2023-12-25T00:00:00Z")!;
  assert.deepEqual(
    [week52.open, week52.high, week52.low, week52.close, week52.volume],
    [10, 15, 8, 9, 600],
  );
  const week1 = find(bars, "1w", "2024-01-01T00:00:00Z")!;
  assert.deepEqual([week1.open, week1.high, week1.low, week1.close, week1.volume], [
    9,
    13,
    7,
    12,
    900,
  ]);
  const dec = find(bars, "1mo", "2023-12-01T00:00:00Z")!;
  assert.deepEqual([dec.open, dec.high, dec.low, dec.close, dec.volume], [10, 15, 8, 9, 600]);
  const jan = find(bars, "1mo", "2024-01-01T00:00:00Z")!;
  assert.deepEqual([jan.open, jan.high, jan.low, jan.close, jan.volume], [9, 13, 7, 12, 900]);
  assert.equal(bars.filter((b) => b.interval === "1d").length, 5);
  assert.equal(jan.trades, null);
  assert.equal(jan.vwap, null);
  close(jan.ret, 12 / 9 - 1);
});

function close(a: number | null, b: number) {
  assert.ok(a !== null && Math.abs(a - b) < 1e-12, `expected ${b}, got ${a}`);
}

Deno.test("ticks make 1m and 5m bars with trade counts and VWAP = Σ price·size / Σ size", () => {
  const { bars } = buildBars(new Map(), [
    tick("2024-01-02T10:00:10Z", 10, 1),
    tick("2024-01-02T10:00:50Z", 12, 3),
    tick("2024-01-02T10:01:05Z", 11, 2),
  ], cfg);
  const m0 = find(bars, "1m", "2024-01-02T10:00:00Z")!;
  assert.deepEqual([m0.open, m0.high, m0.low, m0.close, m0.volume, m0.trades], [
    10,
    12,
    10,
    12,
    4,
    2,
  ]);
  close(m0.vwap, 11.5);
  const m1 = find(bars, "1m", "2024-01-02T10:01:00Z")!;
  assert.deepEqual([m1.open, m1.close, m1.volume, m1.trades, m1.vwap], [11, 11, 2, 1, 11]);
  const five = find(bars, "5m", "2024-01-02T10:00:00Z")!;
  assert.deepEqual([five.open, five.high, five.low, five.close, five.volume, five.trades], [
    10,
    12,
    10,
    11,
    6,
    3,
  ]);
  close(five.vwap, 68 / 6);
});

Deno.test("a repeated timestamp is a duplicate, an older one is late; neither changes a bar", () => {
  const first = buildBars(new Map(), [
    tick("2024-01-02T10:00:10Z", 10, 1),
    tick("2024-01-02T10:00:20Z", 11, 1),
  ], cfg);
  const again = buildBars(first.states, [
    tick("2024-01-02T10:00:20Z", 99, 5),
    tick("2024-01-02T10:00:15Z", 1, 5),
    tick("2024-01-02T10:00:30Z", 12, 1),
  ], cfg);
  assert.deepEqual(again.outcomes, ["duplicate", "late", "applied"]);
  const m = find(again.bars, "1m", "2024-01-02T10:00:00Z")!;
  assert.deepEqual([m.high, m.low, m.close, m.volume, m.trades], [12, 10, 12, 3, 3]);
});

Deno.test("the input states are never changed by a batch (a failed batch can be retried)", () => {
  const first = buildBars(new Map(), [tick("2024-01-02T10:00:10Z", 10, 1)], cfg);
  const snapshot = structuredClone(first.states);
  buildBars(first.states, [tick("2024-01-02T10:03:10Z", 10, 1)], cfg);
  assert.deepEqual(first.states, snapshot);
});

/** The stores keep the last version of each bar: replay emissions into a map. */
function finalBars(records: InputRecord[], batchSize: number): Map<string, IndicatorBar> {
  let states: Map<string, SymbolState> = new Map();
  const out = new Map<string, IndicatorBar>();
  for (let i = 0; i < records.length; i += batchSize) {
    const result = buildBars(states, records.slice(i, i + batchSize), cfg);
    for (const b of result.bars) out.set(`${b.symbol}|${b.interval}|${b.start}`, b);
    states = new Map([...states, ...result.states]);
    // What the transform persists is JSON: a round trip must not change anything.
    states = new Map(JSON.parse(JSON.stringify([...states])));
  }
  return out;
}

Deno.test("final bars do not depend on batch boundaries or a JSON state round trip", () => {
  const gen = syntheticTicks({
    seed: 7,
    symbols: 3,
    start: Date.parse("2024-01-02T09:00:00Z"),
    stepMs: 1500,
  });
  const records: InputRecord[] = Array.from(
    { length: 3000 },
    () => ({ kind: "tick", ...gen.next().value! }),
  );
  const whole = finalBars(records, records.length);
  assert.ok(whole.size > 100);
  for (const size of [1, 37, 500]) {
    assert.deepEqual(finalBars(records, size), whole, `batch size ${size}`);
  }
});

Deno.test("a bar's document holds every column of the tables it is written to, by name", () => {
  const gen = syntheticTicks({
    seed: 3,
    symbols: 1,
    start: Date.parse("2024-01-02T09:00:00Z"),
    stepMs: 60_000,
  });
  const records: InputRecord[] = Array.from({ length: 200 }, () => ({
    kind: "tick",
    ...gen.next().value!,
  }));
  const bars = buildBars(new Map(), records, cfg).bars;
  assert.ok(bars.some((b) => b.ret !== null), "some bars with indicators");
  for (const bar of bars) {
    const { id, doc } = barDocument(bar);
    assert.equal(id, barKey(bar));
    assert.equal(doc.period_start, new Date(bar.start).toISOString());
    for (const { table, columns } of barTables) {
      for (const [column] of columns) {
        assert.ok(column in doc, `${table}.${column} in the document`);
      }
    }
    // The same values as the bar's fields of the (camel-case) same name.
    assert.deepEqual(
      [doc.open, doc.close, doc.volume, doc.trades, doc.log_ret, doc.zscore],
      [bar.open, bar.close, bar.volume, bar.trades, bar.logRet, bar.zscore],
    );
  }
});
