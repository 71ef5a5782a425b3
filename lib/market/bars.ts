/**
 * OHLCV bars from ticks (1m, 5m, 1h ...) and from source bars (1d, 1w, 1mo), with indicators,
 * as a pure function of (state, records) → (bars, new state). A batch never mutates the state it
 * was given, so a failed batch can be retried from the same state, and the same records give
 * the same bars whatever the batch boundaries.
 *
 * Per symbol and interval the newest bar is open; it is emitted with provisional indicators
 * at the end of each batch that touched it, and again, final, when the next period begins.
 * Since every emission is an upsert on (symbol, interval, start), the stores end with the final
 * values.
 *
 * Order: records of a symbol must come with increasing timestamps. One with the symbol's latest
 * timestamp is a duplicate and dropped; an older one is late and rejected (dead letter): bars and
 * indicators after it are never rewritten.
 *
 * @example
 * ```ts
 * import { defaultPeriods } from "./indicators.ts";
 * const records = [{ kind: "tick" as const, symbol: "AAPL", ts: Date.UTC(2024, 0, 2, 14, 30), price: 185.6, size: 100 }];
 * const config = { tickIntervals: ["1m" as const], barIntervals: [], periods: defaultPeriods };
 * const result = buildBars(new Map(), records, config);
 * result.bars;    // IndicatorBar[] to publish
 * result.states;  // the symbols' new states, to keep once the bars are published
 * ```
 * @module
 */
import {
  advance,
  type IndicatorPeriods,
  indicatorsFor,
  type IndicatorState,
  newIndicatorState,
} from "./indicators.ts";
import { atLeastAsCoarse, type Interval, periodsPerYear, periodStart } from "./intervals.ts";
import { isoTime } from "./time.ts";
import type { Bar, IndicatorBar, InputRecord } from "./types.ts";

export type { Bar, IndicatorBar } from "./types.ts";

interface OpenBar extends Bar {
  /** Σ price·size so far, for VWAP */
  pv: number;
}

/** One symbol's series for one interval. */
export interface SeriesState {
  open: OpenBar | null;
  indicators: IndicatorState;
}

/** Everything kept per symbol between batches. JSON-safe. */
export interface SymbolState {
  lastTs: number;
  series: Partial<Record<Interval, SeriesState>>;
}

export interface BarConfig {
  tickIntervals: Interval[];
  barIntervals: Interval[];
  periods: IndicatorPeriods;
}

export type Outcome = "applied" | "duplicate" | "late";

export interface BuildResult {
  bars: IndicatorBar[];
  /** New states of the symbols this batch touched. */
  states: Map<string, SymbolState>;
  /** Per input record, in order. */
  outcomes: Outcome[];
}

/** Identity of a bar in every store; `isoStart` when the caller has formatted the start already. */
export function barKey(
  b: Pick<Bar, "symbol" | "interval" | "start">,
  isoStart = isoTime(b.start),
): string {
  return `${b.symbol}|${b.interval}|${isoStart}`;
}

function finalise(series: SeriesState, cfg: BarConfig): IndicatorBar {
  const { pv: _pv, ...bar } = series.open!;
  return {
    ...bar,
    ...indicatorsFor(series.indicators, bar.close, cfg.periods, periodsPerYear(bar.interval)),
  };
}

function startBar(rec: InputRecord, interval: Interval, start: number): OpenBar {
  if (rec.kind === "tick") {
    return {
      symbol: rec.symbol,
      interval,
      start,
      open: rec.price,
      high: rec.price,
      low: rec.price,
      close: rec.price,
      volume: rec.size,
      trades: 1,
      pv: rec.price * rec.size,
      vwap: rec.size > 0 ? rec.price : null,
    };
  }
  return {
    symbol: rec.symbol,
    interval,
    start,
    open: rec.open,
    high: rec.high,
    low: rec.low,
    close: rec.close,
    volume: rec.volume,
    trades: null,
    pv: 0,
    vwap: null,
  };
}

function merge(bar: OpenBar, rec: InputRecord): void {
  if (rec.kind === "tick") {
    bar.high = Math.max(bar.high, rec.price);
    bar.low = Math.min(bar.low, rec.price);
    bar.close = rec.price;
    bar.volume += rec.size;
    bar.trades = (bar.trades ?? 0) + 1;
    bar.pv += rec.price * rec.size;
    bar.vwap = bar.volume > 0 ? bar.pv / bar.volume : null;
  } else {
    bar.high = Math.max(bar.high, rec.high);
    bar.low = Math.min(bar.low, rec.low);
    bar.close = rec.close;
    bar.volume += rec.volume;
  }
}

/** A deep copy; by hand, because structuredClone was a tenth of the transform's time. */
function cloneState(s: SymbolState): SymbolState {
  const series: SymbolState["series"] = {};
  for (const [interval, one] of Object.entries(s.series) as [Interval, SeriesState][]) {
    series[interval] = {
      open: one.open && { ...one.open },
      indicators: {
        ...one.indicators,
        closes: [...one.indicators.closes],
        logRets: [...one.indicators.logRets],
      },
    };
  }
  return { lastTs: s.lastTs, series };
}

/**
 * Applies `records` (already validated, in partition order) to `states`. Returns the bars to
 * publish, the touched symbols' new states and each record's outcome. `states` is not changed.
 */
export function buildBars(
  states: ReadonlyMap<string, SymbolState>,
  records: InputRecord[],
  cfg: BarConfig,
): BuildResult {
  const changed = new Map<string, SymbolState>();
  const emitted = new Map<string, IndicatorBar>();
  // Each series once, in the order first touched (without a key string per tick and interval).
  const touched = new Set<SeriesState>();
  const outcomes: Outcome[] = [];
  for (const rec of records) {
    let state = changed.get(rec.symbol);
    if (!state) {
      const prior = states.get(rec.symbol);
      state = prior ? cloneState(prior) : { lastTs: -Infinity, series: {} };
      changed.set(rec.symbol, state);
    }
    if (rec.ts === state.lastTs) {
      outcomes.push("duplicate");
      continue;
    }
    if (rec.ts < state.lastTs) {
      outcomes.push("late");
      continue;
    }
    state.lastTs = rec.ts;
    outcomes.push("applied");
    const intervals = rec.kind === "tick"
      ? cfg.tickIntervals
      : cfg.barIntervals.filter((i) => atLeastAsCoarse(i, rec.interval ?? "1d"));
    for (const interval of intervals) {
      const series = state.series[interval] ??= { open: null, indicators: newIndicatorState() };
      const start = periodStart(interval, rec.ts);
      if (series.open && series.open.start === start) {
        merge(series.open, rec);
      } else {
        if (series.open) {
          // The period ended: its bar is final, and the indicator state moves past it.
          const done = finalise(series, cfg);
          emitted.set(barKey(done), done);
          series.indicators = advance(series.indicators, done.close, cfg.periods);
        }
        series.open = startBar(rec, interval, start);
      }
      touched.add(series);
    }
  }
  for (const series of touched) {
    const bar = finalise(series, cfg);
    emitted.set(barKey(bar), bar);
  }
  // JSON cannot hold -Infinity; a symbol whose every record was rejected stays unchanged.
  for (const [symbol, state] of changed) {
    if (state.lastTs === -Infinity) changed.delete(symbol);
  }
  return { bars: [...emitted.values()], states: changed, outcomes };
}
