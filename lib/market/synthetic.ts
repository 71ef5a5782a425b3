/**
 * Seeded synthetic ticks for load tests: each symbol's price follows geometric Brownian motion,
 * sizes are drawn from 1..1000, and the same seed gives the same stream.
 *
 * @example
 * ```ts
 * const ticks = syntheticTicks({ seed: 42, symbols: 3, start: Date.UTC(2024, 0, 2), stepMs: 100 });
 * ticks.next().value; // { symbol: "SYN000", ts: ..., price: ..., size: ... }
 * ```
 * @module
 */
import type { Tick } from "./record.ts";

/** mulberry32: a small, fast, seedable PRNG; uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SyntheticOptions {
  seed: number;
  symbols: number;
  /** first tick's time, ms UTC */
  start: number;
  /** time between consecutive ticks (round-robin over symbols) */
  stepMs: number;
  /** annual drift and volatility of the GBM */
  drift?: number;
  volatility?: number;
  initialPrice?: number;
}

/** An endless, deterministic tick stream; take as many as needed. */
export function* syntheticTicks(o: SyntheticOptions): Generator<Tick> {
  const random = seededRandom(o.seed);
  const gaussian = () => {
    // Box-Muller; 1 - u keeps the logarithm finite.
    const u = 1 - random(), v = random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const mu = o.drift ?? 0.05, sigma = o.volatility ?? 0.2;
  const prices = Array.from(
    { length: o.symbols },
    (_, i) => (o.initialPrice ?? 100) * (1 + i / 100),
  );
  const names = prices.map((_, i) => `SYN${String(i).padStart(3, "0")}`);
  // Each symbol moves once per round of ticks.
  const dt = (o.stepMs * o.symbols) / (365 * 86_400_000);
  for (let n = 0;; n++) {
    const i = n % o.symbols;
    prices[i] *= Math.exp((mu - sigma * sigma / 2) * dt + sigma * Math.sqrt(dt) * gaussian());
    yield {
      symbol: names[i],
      ts: o.start + n * o.stepMs,
      price: Math.round(prices[i] * 10_000) / 10_000,
      size: 1 + Math.floor(random() * 1000),
    };
  }
}
