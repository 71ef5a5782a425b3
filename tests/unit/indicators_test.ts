import assert from "node:assert/strict";
import {
  advance,
  type IndicatorPeriods,
  type Indicators,
  indicatorsFor,
  newIndicatorState,
} from "../../lib/market/indicators.ts";

/** Indicators of every close of a series, as the transform computes them bar by bar. */
function series(
  closes: number[],
  periods: IndicatorPeriods,
  perYear: number | null = null,
): Indicators[] {
  let state = newIndicatorState();
  return closes.map((close) => {
    const values = indicatorsFor(state, close, periods, perYear);
    state = advance(state, close, periods);
    return values;
  });
}

const p = (o: Partial<IndicatorPeriods>): IndicatorPeriods => ({
  sma: 3,
  ema: 3,
  rsi: 3,
  volatility: 2,
  zscore: 3,
  ...o,
});

const close = (a: number | null, b: number) => {
  assert.ok(a !== null, `expected ${b}, got null`);
  assert.ok(Math.abs(a - b) < 1e-9, `expected ${b}, got ${a}`);
};

Deno.test("simple and log returns against the previous close; null for the first bar", () => {
  const out = series([100, 110, 99], p({}));
  assert.equal(out[0].ret, null);
  assert.equal(out[0].logRet, null);
  close(out[1].ret, 0.1);
  close(out[1].logRet, Math.log(1.1));
  close(out[2].ret, -0.1);
  close(out[2].logRet, Math.log(0.9));
});

Deno.test("SMA(3) is null during warm-up, then the mean of the last 3 closes", () => {
  const out = series([1, 2, 3, 4, 5, 6], p({}));
  assert.deepEqual(out.map((o) => o.sma), [null, null, 2, 3, 4, 5]);
});

Deno.test("EMA(3) is seeded by the SMA of the first 3 closes, then α = 2/(n+1) = 0.5", () => {
  const out = series([1, 2, 3, 4, 5, 6], p({}));
  assert.deepEqual(out.map((o) => o.ema), [null, null, 2, 3, 4, 5]);
  const uneven = series([2, 4, 6, 10], p({}));
  // seed (2+4+6)/3 = 4; then 0.5·10 + 0.5·4 = 7
  assert.deepEqual(uneven.map((o) => o.ema), [null, null, 4, 7]);
});

Deno.test("RSI(3) with Wilder smoothing seeded by simple averages of the first 3 changes", () => {
  // changes +1 −1 +2 +1 −1
  const out = series([10, 11, 10, 12, 13, 12], p({}));
  assert.deepEqual(out.slice(0, 3).map((o) => o.rsi), [null, null, null]);
  close(out[3].rsi, 75); // G = 3/3 = 1, L = 1/3
  close(out[4].rsi, 900 / 11); // G = (2·1 + 1)/3 = 1, L = (2·1/3 + 0)/3 = 2/9
  close(out[5].rsi, 1800 / 31); // G = 2/3, L = (2·2/9 + 1)/3 = 13/27
});

Deno.test("RSI is 100 with only gains and 0 when nothing moves (TA-Lib)", () => {
  assert.equal(series([1, 2, 3, 4], p({}))[3].rsi, 100);
  assert.equal(series([5, 5, 5, 5], p({}))[3].rsi, 0);
});

Deno.test("volatility is the sample std of the last n log returns, annualised by √252 for daily bars", () => {
  const raw = series([100, 110, 99], p({}));
  assert.equal(raw[1].volatility, null);
  const expected = Math.abs(Math.log(1.1) - Math.log(0.9)) / Math.SQRT2;
  close(raw[2].volatility, expected);
  const daily = series([100, 110, 99], p({}), 252);
  close(daily[2].volatility, expected * Math.sqrt(252));
});

Deno.test("z-score of the close over 3 bars uses the sample standard deviation", () => {
  close(series([1, 2, 3], p({}))[2].zscore, 1); // mean 2, s = 1
  close(series([1, 2, 6], p({}))[2].zscore, 3 / Math.sqrt(7)); // mean 3, s = √7
  assert.equal(series([4, 4, 4], p({}))[2].zscore, null, "no spread, no z-score");
});

Deno.test("provisional values of an open bar equal the final values once it closes unchanged", () => {
  const periods = p({});
  let state = newIndicatorState();
  for (const c of [10, 11, 12, 11]) state = advance(state, c, periods);
  const provisional = indicatorsFor(state, 13, periods, 252);
  const again = indicatorsFor(state, 13, periods, 252);
  assert.deepEqual(provisional, again);
  assert.deepEqual(
    state,
    (() => {
      let s = newIndicatorState();
      for (const c of [10, 11, 12, 11]) s = advance(s, c, periods);
      return s;
    })(),
    "computing indicators does not change the state",
  );
});
