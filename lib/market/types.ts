/**
 * The market's record shapes, shared by the wire codec (`record.ts`), the bar builder (`bars.ts`)
 * and the sources: ticks, source bars, and bars with indicators. Types only, so every module
 * can import them without importing each other.
 *
 * @example
 * ```ts
 * import type { Tick } from "./types.ts";
 * const tick: Tick = { symbol: "AAPL", ts: Date.UTC(2024, 0, 2, 14, 30), price: 185.6, size: 100 };
 * ```
 * @module
 */
import type { Indicators } from "./indicators.ts";
import type { Interval } from "./intervals.ts";

/** A trade: price and size at a time (ms since the epoch, UTC). */
export interface Tick {
  symbol: string;
  ts: number;
  price: number;
  size: number;
}

/** OHLCV of one period as a source reports it (for example a daily row of a CSV). */
export interface SourceBar {
  symbol: string;
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /** The source's granularity: only this interval and coarser ones are built from it (1d when absent). */
  interval?: SourceInterval;
}

/** Granularities a bar source can have. */
export const SOURCE_INTERVALS = ["1d", "1w", "1mo"] as const satisfies readonly Interval[];
export type SourceInterval = (typeof SOURCE_INTERVALS)[number];

export type InputRecord = ({ kind: "tick" } & Tick) | ({ kind: "bar" } & SourceBar);

/** One bar of one symbol and interval; `start` is the period start (ms, UTC). */
export interface Bar {
  symbol: string;
  interval: Interval;
  start: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /** trades in the bar (bars from ticks); null for bars built from source bars */
  trades: number | null;
  /** Σ price·size / Σ size (bars from ticks with volume); null otherwise */
  vwap: number | null;
}

/** A bar with its indicators: the record of `market.bars` and a row of each store. */
export type IndicatorBar = Bar & Indicators;
