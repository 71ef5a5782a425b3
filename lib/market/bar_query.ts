/**
 * The query API's parameters, validated without I/O: each problem names its parameter, so the
 * API can answer 400 with an `application/problem+json` body.
 *
 * @example
 * ```ts
 * const q = parseBarQuery(new URLSearchParams("symbol=SP500&from=2024-02-30"), new Set(["SP500"]));
 * if ("problem" in q) q.problem.param; // "from"
 * ```
 * @module
 */
import { type Interval, INTERVALS } from "./intervals.ts";
import { parseIsoTime } from "./time.ts";

export const MAX_LIMIT = 5000;
export const DEFAULT_LIMIT = 500;
/** Longest range one request may span for intraday intervals (one year). */
export const MAX_INTRADAY_RANGE_MS = 366 * 86_400_000;

export interface BarQuery {
  symbol: string;
  interval: Interval;
  from: number;
  to: number;
  limit: number;
  /** period start (ms) after which this page begins; null for the first page */
  after: number | null;
  format: "json" | "csv";
}

export interface Problem {
  param: string;
  detail: string;
}

/** Opaque cursor for keyset pagination: the last period start of the previous page. */
export function encodeCursor(periodStart: number): string {
  return btoa(`v1:${periodStart}`).replace(/=+$/, "").replaceAll("+", "-").replaceAll("/", "_");
}

export function decodeCursor(cursor: string): number | null {
  try {
    const text = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const match = /^v1:(-?\d{1,15})$/.exec(text);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Parses and checks `symbol, interval, from, to, limit, cursor, format`. */
export function parseBarQuery(
  params: URLSearchParams,
  knownSymbols: ReadonlySet<string>,
  accept = "",
): BarQuery | { problem: Problem } {
  const fail = (param: string, detail: string) => ({ problem: { param, detail } });
  for (const key of params.keys()) {
    if (!["symbol", "interval", "from", "to", "limit", "cursor", "format"].includes(key)) {
      return fail(key, `unknown parameter ${key}`);
    }
  }
  const symbol = params.get("symbol");
  if (!symbol) return fail("symbol", "symbol is required");
  if (!knownSymbols.has(symbol)) {
    return fail("symbol", `unknown symbol ${JSON.stringify(symbol.slice(0, 40))}`);
  }
  const interval = params.get("interval") ?? "1d";
  if (!(INTERVALS as readonly string[]).includes(interval)) {
    return fail("interval", `interval must be one of ${INTERVALS.join(", ")}`);
  }
  const from = params.has("from") ? parseIsoTime(params.get("from")!) : Date.UTC(1900, 0, 1);
  if (Number.isNaN(from)) return fail("from", "from must be YYYY-MM-DD or an ISO-8601 UTC time");
  const to = params.has("to") ? parseIsoTime(params.get("to")!) : Date.UTC(2200, 0, 1);
  if (Number.isNaN(to)) return fail("to", "to must be YYYY-MM-DD or an ISO-8601 UTC time");
  if (from > to) return fail("from", "from is after to");
  if (
    ["1m", "5m", "15m", "1h"].includes(interval) && params.has("from") &&
    to - from > MAX_INTRADAY_RANGE_MS
  ) {
    return fail("to", "intraday ranges are limited to one year per request");
  }
  let limit = DEFAULT_LIMIT;
  if (params.has("limit")) {
    const raw = params.get("limit")!;
    if (!/^\d+$/.test(raw) || Number(raw) < 1) {
      return fail("limit", "limit must be a positive integer");
    }
    limit = Number(raw);
    if (limit > MAX_LIMIT) return fail("limit", `limit must be at most ${MAX_LIMIT}`);
  }
  let after: number | null = null;
  if (params.has("cursor")) {
    after = decodeCursor(params.get("cursor")!);
    if (after === null) return fail("cursor", "cursor is not one this API issued");
  }
  const format = params.get("format") ?? (accept.includes("text/csv") ? "csv" : "json");
  if (format !== "json" && format !== "csv") return fail("format", "format must be json or csv");
  return { symbol, interval: interval as Interval, from, to, limit, after, format };
}

/** CSV of rows with the given columns (RFC 4180 quoting where needed). */
/** The next page's address: the same path and query, with `cursor` set to `next`. */
export function nextPageLink(url: URL, next: string): string {
  const params = new URLSearchParams(url.searchParams);
  params.set("cursor", next);
  return `${url.pathname}?${params}`;
}

export function toCsv(columns: string[], rows: Record<string, unknown>[]): string {
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return "";
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [columns.join(","), ...rows.map((r) => columns.map((c) => cell(r[c])).join(","))].join(
    "\n",
  ) + "\n";
}
