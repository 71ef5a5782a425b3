/**
 * A bar's stored form: its deterministic id and the one JSON document both stores take (the
 * tables read their columns from its fields, Elasticsearch indexes it under the id).
 *
 * From a JSON bar on the wire it is made straight from the payload's bytes: the bar is checked as
 * {@link decodeBar} checks it and each value's bytes are copied into the document under its
 * stored name — no text, no parsed object, no serialization, which were most of what the sink
 * spent on a bar and most of its garbage. Anything this reader is not sure of (an unknown field,
 * an escape, a value out of range, a negative zero, `trades` not in plain digits) goes the general
 * way: `decodeBar`, which also names the error, then {@link storedBar}. A value's bytes are its
 * JSON number text as the producer wrote it: PostgreSQL and Elasticsearch read the same double
 * from it as `JSON.parse` does (all three round correctly).
 *
 * @example
 * ```ts
 * import { encodeBar } from "./record.ts";
 * import type { IndicatorBar } from "./types.ts";
 * declare const bar: IndicatorBar;
 * const { value, headers } = encodeBar(bar);
 * const { id, doc } = decodeStoredBar(new TextEncoder().encode(value), headers);
 * // id "SP500|1d|2000-01-03T00:00:00.000Z", doc the bytes of {"symbol":"SP500",…}
 * ```
 * @module
 */
import {
  asciiBytes,
  fieldIndex,
  flatTokens,
  isDigit,
  literal,
  numberAt,
  sameBytes,
  text,
  textOr,
} from "./flat_json.ts";
import { INTERVALS } from "./intervals.ts";
import { checkSchemaVersion, decodeBar, headerNames, inRecordYears, isSymbol } from "./record.ts";
import { barDocument } from "./tables.ts";
import { Slab } from "./slab.ts";
import { parseIsoTime } from "./time.ts";
import type { IndicatorBar } from "./types.ts";
import { InvalidRecord } from "./invalid_record.ts";

/** A bar as the stores take it: `id` (symbol|interval|start) and its document's JSON. */
export interface StoredBar {
  id: string;
  symbol: string;
  /** the document's JSON, as bytes (read from the wire) or text (made from a bar) */
  doc: Uint8Array | string;
}

/** A validated bar's stored form (the general way: its document serialized). */
export function storedBar(bar: IndicatorBar): StoredBar {
  const { id, doc } = barDocument(bar);
  return { id, symbol: bar.symbol, doc: JSON.stringify(doc) };
}

/** Decodes and validates one JSON record of `market.bars` (keyed by `key`) into its stored form. */
export function decodeStoredBar(
  value: Uint8Array | null,
  headers: Record<string, string>,
  key: string | null = null,
): StoredBar {
  checkSchemaVersion(headers);
  if (headers[headerNames.recordType] !== "bar-indicators") {
    throw new InvalidRecord("record-type must be bar-indicators", undefined, "unknown-record-type");
  }
  return (value && readStoredBar(value, key)) ?? storedBar(decodeBar(value, headers));
}

// The wire's fields in the document's order.
const FIELDS = [
  "symbol",
  "interval",
  "start",
  "open",
  "high",
  "low",
  "close",
  "volume",
  "trades",
  "vwap",
  "ret",
  "logRet",
  "sma",
  "ema",
  "rsi",
  "volatility",
  "zscore",
] as const;
// The document's names are barDocument's, field for field in this order (a bar's every field).
const DOC_NAMES = Object.keys(
  barDocument(Object.fromEntries(FIELDS.map((f) => [f, 0])) as never).doc,
);
if (DOC_NAMES.length !== FIELDS.length) throw new Error("a bar's document and its fields differ");
// What goes before each value in the document: `{"symbol":`, `,"interval":`, …
const PREFIXES = DOC_NAMES.map((name, k) => asciiBytes(`${k === 0 ? "{" : ","}"${name}":`));
const PREFIX_BYTES = PREFIXES.reduce((sum, p) => sum + p.length, 0);
const SYMBOL = 0, INTERVAL = 1, START = 2, OPEN = 3, HIGH = 4, LOW = 5, CLOSE = 6, VOLUME = 7;
const TRADES = 8;
const QUOTE = 0x22;
// A whole number of up to 15 digits is a safe integer; longer ones go the general way.
const MAX_TRADES_DIGITS = 15;

// Documents are cut from shared slabs: one allocation for many bars instead of one each.
const slab = new Slab();

// Where each field's value is in the payload (its JSON token, quotes included), per read.
const from = new Int32Array(FIELDS.length);
const to = new Int32Array(FIELDS.length);
// The field at each position of the last payload read.
const order = new Int8Array(FIELDS.length).fill(-1);
// Per interval, the last `start` read: as bytes, as its time, and the id's text after the symbol
// (`|1m|2024-01-02T14:30:00.000Z`). A slice's bars of one interval share a few starts, and its
// intervals interleave.
const lastStartBytes = INTERVALS.map(() => new Uint8Array(24));
const lastStartTs = INTERVALS.map(() => NaN);
const idSuffix = INTERVALS.map(() => "");

/**
 * The stored form read from the bytes, or undefined when the general way must decide. `key` is
 * the record's key, the symbol it must name: when the payload's symbol is that text, it is used.
 */
export function readStoredBar(bytes: Uint8Array, key: string | null = null): StoredBar | undefined {
  if (!flatTokens(bytes, FIELDS, order, from, to)) return undefined;

  // symbol, interval, start: strings as decodeBar accepts them, start in its wire form.
  if (bytes[from[SYMBOL]] !== QUOTE || bytes[from[INTERVAL]] !== QUOTE) return undefined;
  const symbol = textOr(key, bytes, from[SYMBOL] + 1, to[SYMBOL] - 1);
  if (!isSymbol(symbol)) return undefined;
  const interval = fieldIndex(INTERVALS, bytes, from[INTERVAL] + 1, to[INTERVAL] - 1);
  if (interval < 0) return undefined;
  // "YYYY-MM-DDThh:mm:ss.sssZ", the only form whose text the document can keep as it is.
  const s = from[START];
  if (to[START] - s !== 26 || bytes[s] !== QUOTE || bytes[s + 24] !== 0x5a) return undefined;
  if (!sameBytes(lastStartBytes[interval], bytes, s + 1)) {
    const start = text(bytes, s + 1, s + 25);
    lastStartTs[interval] = parseIsoTime(start);
    lastStartBytes[interval].set(bytes.subarray(s + 1, s + 25));
    idSuffix[interval] = `|${INTERVALS[interval]}|${start}`;
  }
  const ts = lastStartTs[interval];
  if (Number.isNaN(ts) || !inRecordYears(ts)) return undefined;

  // Prices positive, low ≤ open, close ≤ high, volume ≥ 0; trades plain digits or null; the
  // indicators finite or null. Nothing negative-zero: JSON.stringify would write it as 0.
  // Prices in plain decimals are compared as decimals, digit by digit: no number read (most
  // have 17 digits, past the exact fast path). Rounding to a double keeps their order, so what
  // holds here holds for the values decodeBar reads; the rest (an exponent, a sign, an order
  // that holds only after rounding) goes the general way.
  for (let k = OPEN; k <= CLOSE; k++) if (!positiveDecimal(bytes, k)) return undefined;
  if (!isDigit(bytes[from[VOLUME]]) || !finiteOrNull(bytes, from[VOLUME], to[VOLUME])) {
    return undefined;
  }
  if (
    compare(bytes, HIGH, LOW) < 0 || compare(bytes, OPEN, LOW) < 0 ||
    compare(bytes, OPEN, HIGH) > 0 || compare(bytes, CLOSE, LOW) < 0 ||
    compare(bytes, CLOSE, HIGH) > 0
  ) return undefined;
  if (!plainCount(bytes, from[TRADES], to[TRADES])) return undefined;
  for (let k = TRADES + 1; k < FIELDS.length; k++) {
    if (!finiteOrNull(bytes, from[k], to[k])) return undefined;
  }

  let length = PREFIX_BYTES + 1;
  for (let k = 0; k < FIELDS.length; k++) length += to[k] - from[k];
  const doc = slab.take(length);
  let at = 0;
  for (let k = 0; k < FIELDS.length; k++) {
    const prefix = PREFIXES[k];
    for (let m = 0; m < prefix.length; m++) doc[at++] = prefix[m];
    for (let m = from[k]; m < to[k]; m++) doc[at++] = bytes[m];
  }
  doc[at] = 0x7d; // }
  return { id: symbol + idSuffix[interval], symbol, doc };
}

/**
 * Whether field k is a decimal in plain digits (no sign, no exponent) of under 300 characters with
 * a digit other than 0: finite and positive as a double too.
 */
function positiveDecimal(bytes: Uint8Array, k: number): boolean {
  const start = from[k], end = to[k];
  if (end - start >= 300) return false;
  let nonZero = false;
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c > 0x30 && c <= 0x39) nonZero = true;
    else if (c !== 0x30 && c !== 0x2e) return false;
  }
  return nonZero;
}

/** The order of the plain decimals of fields a and b: below, at or above 0 as a <, =, > b. */
function compare(bytes: Uint8Array, a: number, b: number): number {
  const a0 = from[a], a1 = to[a], b0 = from[b], b1 = to[b];
  const aPoint = pointOf(bytes, a0, a1), bPoint = pointOf(bytes, b0, b1);
  // JSON writes no leading zero: the longer whole part is the greater.
  if (aPoint - a0 !== bPoint - b0) return (aPoint - a0) - (bPoint - b0);
  for (let i = 0; i < aPoint - a0; i++) {
    const d = bytes[a0 + i] - bytes[b0 + i];
    if (d !== 0) return d;
  }
  // The fractions, the shorter one read on with zeros.
  for (let x = aPoint + 1, y = bPoint + 1; x < a1 || y < b1; x++, y++) {
    const d = (x < a1 ? bytes[x] : 0x30) - (y < b1 ? bytes[y] : 0x30);
    if (d !== 0) return d;
  }
  return 0;
}

/** Where the decimal point of `bytes[start, end)` is (`end` when it has none). */
function pointOf(bytes: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) if (bytes[i] === 0x2e) return i;
  return end;
}

/** null, or a whole number in plain digits that is a safe integer. */
function plainCount(bytes: Uint8Array, start: number, end: number): boolean {
  if (literal(bytes, start, "null")) return true;
  if (end - start > MAX_TRADES_DIGITS) return false;
  for (let i = start; i < end; i++) if (!isDigit(bytes[i])) return false;
  return true;
}

/** null, or a JSON number that is finite and not a negative zero. */
function finiteOrNull(bytes: Uint8Array, start: number, end: number): boolean {
  const c = bytes[start];
  if (c !== 0x2d && !isDigit(c)) return literal(bytes, start, "null");
  let exponent = false;
  let nonZero = false;
  for (let i = start; i < end; i++) {
    const d = bytes[i];
    if (d === 0x65 || d === 0x45) {
      exponent = true;
      break;
    }
    if (d > 0x30 && d <= 0x39) nonZero = true;
  }
  if (c === 0x2d && !nonZero) return false;
  // Without an exponent a number of fewer than 309 digits is finite; with one, read it.
  return exponent ? Number.isFinite(numberAt(bytes, start, end)) : end - start < 300;
}
