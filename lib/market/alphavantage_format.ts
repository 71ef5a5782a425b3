/**
 * Alpha Vantage's JSON replies, read without I/O: daily series into source bars, and the bodies
 * it sends instead of data when throttling ("Note", "Information") or rejecting ("Error Message").
 *
 * @example
 * ```ts
 * const reply = readAlphaVantageReply({ Note: "Thank you for using Alpha Vantage!" }, "IBM");
 * reply.kind; // "throttled"
 * ```
 * @module
 */
import type { SourceBar } from "./record.ts";
import { parseIsoTime } from "./time.ts";

export type AlphaVantageReply =
  | { kind: "bars"; bars: SourceBar[] }
  | { kind: "throttled"; message: string }
  | { kind: "error"; message: string };

/** Classifies a reply of TIME_SERIES_DAILY; bars come oldest first. */
export function readAlphaVantageReply(body: unknown, symbol: string): AlphaVantageReply {
  if (typeof body !== "object" || body === null) {
    return { kind: "error", message: "reply is not a JSON object" };
  }
  const obj = body as Record<string, unknown>;
  if (typeof obj["Note"] === "string") return { kind: "throttled", message: obj["Note"] };
  if (typeof obj["Information"] === "string") {
    return { kind: "throttled", message: obj["Information"] };
  }
  if (typeof obj["Error Message"] === "string") {
    return { kind: "error", message: obj["Error Message"] };
  }
  const series = obj["Time Series (Daily)"];
  if (typeof series !== "object" || series === null) {
    return { kind: "error", message: 'reply has no "Time Series (Daily)"' };
  }
  const bars: SourceBar[] = [];
  for (const [date, row] of Object.entries(series as Record<string, Record<string, string>>)) {
    bars.push({
      symbol,
      ts: /^\d{4}-\d{2}-\d{2}$/.test(date) ? parseIsoTime(date) : NaN,
      open: Number(row["1. open"]),
      high: Number(row["2. high"]),
      low: Number(row["3. low"]),
      close: Number(row["4. close"]),
      volume: Number(row["5. volume"]),
    });
  }
  bars.sort((a, b) => a.ts - b.ts);
  return { kind: "bars", bars };
}
