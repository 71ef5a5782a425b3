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

/** indicatorsFor as it was first written: the next state built by advance(), its windows sliced. */
function slicedIndicators(
  s: ReturnType<typeof newIndicatorState>,
  close: number,
  periods: IndicatorPeriods,
  perYear: number | null,
): Indicators {
  const mean = (v: number[]) => v.reduce((sum, x) => sum + x, 0) / v.length;
  const std = (v: number[]) => {
    if (v.length < 2) return null;
    const m = mean(v);
    return Math.sqrt(v.reduce((sq, x) => sq + (x - m) * (x - m), 0) / (v.length - 1));
  };
  const next = advance(s, close, periods);
  const prev = s.closes.length > 0 ? s.closes[s.closes.length - 1] : null;
  const window = (n: number) => next.count >= n ? next.closes.slice(-n) : null;
  const smaWindow = window(periods.sma);
  const zWindow = window(periods.zscore);
  let zscore: number | null = null;
  if (zWindow) {
    const sd = std(zWindow);
    if (sd !== null && sd > 0) zscore = (close - mean(zWindow)) / sd;
  }
  let volatility: number | null = null;
  if (next.logRets.length >= periods.volatility && next.count > periods.volatility) {
    const sd = std(next.logRets.slice(-periods.volatility));
    if (sd !== null) volatility = perYear === null ? sd : sd * Math.sqrt(perYear);
  }
  const rsi = next.avgGain !== null && next.avgLoss !== null
    ? (next.avgGain + next.avgLoss === 0 ? 0 : (100 * next.avgGain) / (next.avgGain + next.avgLoss))
    : null;
  return {
    ret: prev === null ? null : close / prev - 1,
    logRet: prev === null ? null : Math.log(close / prev),
    sma: smaWindow ? mean(smaWindow) : null,
    ema: next.ema,
    rsi,
    volatility,
    zscore,
  };
}

Deno.test("an open bar's indicators are, bit for bit, those of the next state's sliced windows", () => {
  let seed = 20261207;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let round = 0; round < 200; round++) {
    const periods = p({
      sma: 1 + Math.floor(rnd() * 25),
      ema: 1 + Math.floor(rnd() * 25),
      rsi: 1 + Math.floor(rnd() * 20),
      volatility: 1 + Math.floor(rnd() * 25),
      zscore: 1 + Math.floor(rnd() * 25),
    });
    const perYear = rnd() < 0.5 ? null : 252;
    let state = newIndicatorState();
    let price = 50 + rnd() * 100;
    for (let bar = 0; bar < 60; bar++) {
      // Flat runs too: no spread, no gains or losses.
      price = rnd() < 0.2 ? price : price * (1 + (rnd() - 0.5) / 20);
      for (let version = 0; version < 3; version++) {
        const close = version === 2 ? price : price * (1 + (rnd() - 0.5) / 100);
        assert.deepEqual(
          indicatorsFor(state, close, periods, perYear),
          slicedIndicators(state, close, periods, perYear),
          `round ${round}, bar ${bar}`,
        );
      }
      state = advance(state, price, periods);
    }
  }
});
