/**
 * Technical indicators over a bar series, with TA-Lib's conventions, as an incremental state
 * that advances one closed bar at a time (so batching and restarts cannot change a result):
 *
 * - return and log return against the previous close;
 * - SMA(n) of closes;
 * - EMA(n), α = 2/(n+1), seeded by the SMA of the first n closes;
 * - RSI(n), Wilder smoothing seeded by the simple means of the first n gains and losses;
 *   100·G/(G+L), and 0 when both are 0 (as TA-Lib);
 * - volatility(n): sample standard deviation (n−1) of the last n log returns, times √(periods a
 *   year) when the interval has one;
 * - z-score(n): (close − SMA(n)) / sample standard deviation of the last n closes.
 *
 * Warm-up values are null, never 0.
 *
 * @example
 * ```ts
 * const periods = defaultPeriods;
 * let state = newIndicatorState();
 * for (const close of [100, 101, 99.5, 102]) {
 *   const values = indicatorsFor(state, close, periods, 252);
 *   state = advance(state, close, periods);
 * }
 * ```
 * @module
 */

export interface IndicatorPeriods {
  sma: number;
  ema: number;
  rsi: number;
  volatility: number;
  zscore: number;
}

export const defaultPeriods: IndicatorPeriods = {
  sma: 20,
  ema: 20,
  rsi: 14,
  volatility: 20,
  zscore: 20,
};

export interface Indicators {
  ret: number | null;
  logRet: number | null;
  sma: number | null;
  ema: number | null;
  rsi: number | null;
  volatility: number | null;
  zscore: number | null;
}

/** Everything the next bar's indicators need from the closed bars before it. JSON-safe. */
export interface IndicatorState {
  /** closed bars seen */
  count: number;
  /** the last closes, newest last (as many as the longest window needs) */
  closes: number[];
  /** the last log returns, newest last */
  logRets: number[];
  /** EMA after the last closed bar; null during warm-up */
  ema: number | null;
  /** Wilder averages after the last closed bar; null during warm-up */
  avgGain: number | null;
  avgLoss: number | null;
  /** sums of gains and losses during RSI warm-up */
  gainSum: number;
  lossSum: number;
}

export function newIndicatorState(): IndicatorState {
  return {
    count: 0,
    closes: [],
    logRets: [],
    ema: null,
    avgGain: null,
    avgLoss: null,
    gainSum: 0,
    lossSum: 0,
  };
}

function mean(values: number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** The state after one more closed bar with close `close`. Pure: returns a new state. */
export function advance(s: IndicatorState, close: number, p: IndicatorPeriods): IndicatorState {
  const prev = s.closes.length > 0 ? s.closes[s.closes.length - 1] : null;
  const count = s.count + 1;
  const keepCloses = Math.max(p.sma, p.ema, p.zscore, 1);
  const closes = [...s.closes, close].slice(-keepCloses);
  const logRets = prev === null
    ? s.logRets
    : [...s.logRets, Math.log(close / prev)].slice(-p.volatility);

  let ema = s.ema;
  if (count === p.ema) ema = mean(closes.slice(-p.ema));
  else if (count > p.ema && ema !== null) ema = emaStep(ema, close, p.ema);

  let { avgGain, avgLoss, gainSum, lossSum } = s;
  if (prev !== null) {
    const change = close - prev;
    const gain = change > 0 ? change : 0;
    const loss = change < 0 ? -change : 0;
    const changes = count - 1;
    if (changes < p.rsi) {
      gainSum += gain;
      lossSum += loss;
    } else if (changes === p.rsi) {
      gainSum += gain;
      lossSum += loss;
      avgGain = gainSum / p.rsi;
      avgLoss = lossSum / p.rsi;
    } else {
      avgGain = (avgGain! * (p.rsi - 1) + gain) / p.rsi;
      avgLoss = (avgLoss! * (p.rsi - 1) + loss) / p.rsi;
    }
  }
  return { count, closes, logRets, ema, avgGain, avgLoss, gainSum, lossSum };
}

function emaStep(prevEma: number, close: number, n: number): number {
  const alpha = 2 / (n + 1);
  return alpha * close + (1 - alpha) * prevEma;
}

function rsiValue(avgGain: number, avgLoss: number): number {
  const total = avgGain + avgLoss;
  return total === 0 ? 0 : (100 * avgGain) / total;
}

/**
 * Indicators of a bar closing at `close`, given the state of the closed bars before it.
 * Equal to what {@link advance} would yield, without changing the state: the open bar's values
 * are provisional and final once it closes with the same close.
 *
 * An open bar's values are computed for every version of it published, far more often than a
 * bar closes, so this reads its windows in place — the last n − 1 closes of the state and then
 * `close` — instead of building the next state and slicing it (those arrays were a third of all a
 * transform allocated at 200 symbols). Sums run in the same order, so every value is the same.
 */
export function indicatorsFor(
  s: IndicatorState,
  close: number,
  p: IndicatorPeriods,
  perYear: number | null,
): Indicators {
  const closes = s.closes;
  const prev = closes.length > 0 ? closes[closes.length - 1] : null;
  const count = s.count + 1;
  // Where the window of the last n values ends with `close`: the last n − 1 of the state's.
  const withClose = (n: number) => Math.max(0, closes.length - (n - 1));

  let zscore: number | null = null;
  if (count >= p.zscore) {
    const from = withClose(p.zscore);
    const std = tailStd(closes, from, close);
    if (std !== null && std > 0) zscore = (close - tailMean(closes, from, close)) / std;
  }

  let volatility: number | null = null;
  if (count > p.volatility) {
    const logRets = s.logRets;
    // The next state's log returns: one more when there is a previous close.
    const std = prev === null
      ? (logRets.length >= p.volatility
        ? tailStd(logRets, logRets.length - p.volatility, null)
        : null)
      : (logRets.length + 1 >= p.volatility
        ? tailStd(logRets, Math.max(0, logRets.length - (p.volatility - 1)), Math.log(close / prev))
        : null);
    if (std !== null) volatility = perYear === null ? std : std * Math.sqrt(perYear);
  }

  let ema = s.ema;
  if (count === p.ema) ema = tailMean(closes, withClose(p.ema), close);
  else if (count > p.ema && ema !== null) ema = emaStep(ema, close, p.ema);

  // RSI after this bar, as advance() would leave its averages.
  let { avgGain, avgLoss } = s;
  if (prev !== null) {
    const change = close - prev;
    const gain = change > 0 ? change : 0;
    const loss = change < 0 ? -change : 0;
    const changes = count - 1;
    if (changes === p.rsi) {
      avgGain = (s.gainSum + gain) / p.rsi;
      avgLoss = (s.lossSum + loss) / p.rsi;
    } else if (changes > p.rsi) {
      avgGain = (avgGain! * (p.rsi - 1) + gain) / p.rsi;
      avgLoss = (avgLoss! * (p.rsi - 1) + loss) / p.rsi;
    }
  }

  return {
    ret: prev === null ? null : close / prev - 1,
    logRet: prev === null ? null : Math.log(close / prev),
    sma: count >= p.sma ? tailMean(closes, withClose(p.sma), close) : null,
    ema,
    rsi: avgGain !== null && avgLoss !== null ? rsiValue(avgGain, avgLoss) : null,
    volatility,
    zscore,
  };
}

/** The mean of `values[from…]` and then `last` (when not null), summed in that order. */
function tailMean(values: readonly number[], from: number, last: number | null): number {
  let sum = 0;
  for (let i = from; i < values.length; i++) sum += values[i];
  if (last === null) return sum / (values.length - from);
  sum += last;
  return sum / (values.length - from + 1);
}

/** The sample standard deviation (n − 1) of `values[from…]` and then `last`; null under 2 values. */
function tailStd(values: readonly number[], from: number, last: number | null): number | null {
  const n = values.length - from + (last === null ? 0 : 1);
  if (n < 2) return null;
  const m = tailMean(values, from, last);
  let sq = 0;
  for (let i = from; i < values.length; i++) sq += (values[i] - m) * (values[i] - m);
  if (last !== null) sq += (last - m) * (last - m);
  return Math.sqrt(sq / (n - 1));
}
