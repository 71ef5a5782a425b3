/**
 * Ticks as JSON bytes, both ways — the record ingest writes and transform reads a million times.
 *
 * Written: the bytes of {@link encodeTick}'s text, put straight into a byte array (the symbol's
 * bytes kept, the time's digits written from its milliseconds), where the text would be made,
 * measured and encoded again by the producer. A tick this cannot write exactly as
 * `JSON.stringify` would (a symbol to escape or outside ASCII, a number that is not finite, a
 * time outside years 0–9999) is written by `encodeTick`.
 *
 * Read: its symbol is the record's key when the bytes say so (no new text), its time is read from
 * the digits of its wire form (no text, no date parser; a day's midnight kept while the day stays
 * the same). It gives what {@link decodeInput} gives — the same checks, the same numbers — and
 * anything it is not sure of (another form of time, an unknown field, an escape, a value out of
 * range) goes to `decodeInput`, which also names the error.
 *
 * @example
 * ```ts
 * const { key, value, headers } = encodeTickBytes({ symbol: "AAPL", ts: Date.UTC(2024, 0, 2), price: 185.2, size: 100 });
 * decodeTickOrInput(value as Uint8Array, headers, key); // { kind: "tick", symbol: "AAPL", … }
 * ```
 * @module
 */
import { asciiBytes, flatTokens, isDigit, numberAt, sameBytes, textOr } from "./flat_json.ts";
import {
  decodeInput,
  type Encoded,
  encodeTick,
  headerNames,
  type InputRecord,
  inRecordYears,
  isSymbol,
  jsonHeaders,
  SCHEMA_VERSION,
} from "./record.ts";
import { Slab } from "./slab.ts";
import { clockOf, isRealDay } from "./time.ts";
import type { Tick } from "./types.ts";

const OPEN_BYTES = asciiBytes('{"symbol":"');
const TS_BYTES = asciiBytes('","ts":"');
const PRICE_BYTES = asciiBytes('","price":');
const SIZE_BYTES = asciiBytes(',"size":');
const FIXED_BYTES = OPEN_BYTES.length + TS_BYTES.length + 24 + PRICE_BYTES.length +
  SIZE_BYTES.length + 1;
const TICK_HEADERS = jsonHeaders("tick");
const DAY_MS = 86_400_000;
// Years 0–9999 have the four-digit form; toISOString writes others with a sign.
const LAST_MS = Date.UTC(10000, 0, 1);

const tickSlab = new Slab();
// A symbol's bytes inside JSON quotes, or null when JSON.stringify would escape it.
const symbolBytes = new Map<string, Uint8Array | null>();
let writtenDay = NaN;
const writtenDayBytes = new Uint8Array(11); // YYYY-MM-DDT
const clock = new Int32Array(4);

/** A tick for the input topic, as encodeTick's JSON in bytes. */
export function encodeTickBytes(t: Tick): Encoded {
  const { symbol, ts, price, size } = t;
  let name = symbolBytes.get(symbol);
  if (name === undefined) {
    if (symbolBytes.size >= 10_000) symbolBytes.clear();
    name = plainAscii(symbol) ? asciiBytes(symbol) : null;
    symbolBytes.set(symbol, name);
  }
  if (
    name === null || !Number.isSafeInteger(ts) || ts < 0 || ts >= LAST_MS ||
    !Number.isFinite(price) || !Number.isFinite(size)
  ) return encodeTick(t);
  const priceText = String(price), sizeText = String(size);
  const out = tickSlab.take(FIXED_BYTES + name.length + priceText.length + sizeText.length);
  let at = put(out, 0, OPEN_BYTES);
  at = put(out, at, name);
  at = put(out, at, TS_BYTES);
  at = putTime(out, at, ts);
  at = put(out, at, PRICE_BYTES);
  at = putText(out, at, priceText);
  at = put(out, at, SIZE_BYTES);
  at = putText(out, at, sizeText);
  out[at] = 0x7d; // }
  return { key: symbol, value: out, headers: TICK_HEADERS };
}

/** Printable ASCII without a quote or a backslash: what JSON.stringify writes as it is. */
function plainAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

function put(out: Uint8Array, at: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) out[at + i] = bytes[i];
  return at + bytes.length;
}

/** ASCII text (a number's). */
function putText(out: Uint8Array, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
  return at + text.length;
}

/** `YYYY-MM-DDThh:mm:ss.sssZ` of `ms` (0 ≤ ms < year 10000), as toISOString writes it. */
function putTime(out: Uint8Array, at: number, ms: number): number {
  const day = Math.floor(ms / DAY_MS);
  if (day !== writtenDay) {
    const text = new Date(day * DAY_MS).toISOString();
    for (let i = 0; i < 11; i++) writtenDayBytes[i] = text.charCodeAt(i);
    writtenDay = day;
  }
  at = put(out, at, writtenDayBytes);
  clockOf(ms - day * DAY_MS, clock);
  at = twoDigits(out, at, clock[0]);
  out[at++] = 0x3a; // :
  at = twoDigits(out, at, clock[1]);
  out[at++] = 0x3a;
  at = twoDigits(out, at, clock[2]);
  out[at++] = 0x2e; // .
  out[at++] = 0x30 + Math.floor(clock[3] / 100);
  at = twoDigits(out, at, clock[3] % 100);
  out[at++] = 0x5a; // Z
  return at;
}

function twoDigits(out: Uint8Array, at: number, n: number): number {
  out[at] = 0x30 + Math.floor(n / 10);
  out[at + 1] = 0x30 + (n % 10);
  return at + 2;
}

/** Decodes an input record (keyed by `key`), a tick from its bytes when it can. */
export function decodeTickOrInput(
  value: Uint8Array | null,
  headers: Record<string, string>,
  key: string | null = null,
): InputRecord {
  if (
    value !== null && headers[headerNames.recordType] === "tick" &&
    headers[headerNames.schemaVersion] === SCHEMA_VERSION
  ) {
    const tick = readTick(value, key);
    if (tick) return tick;
  }
  return decodeInput(value, headers);
}

const FIELDS = ["symbol", "ts", "price", "size"] as const;
const SYMBOL = 0, TS = 1, PRICE = 2, SIZE = 3;
const QUOTE = 0x22;

const from = new Int32Array(FIELDS.length);
const to = new Int32Array(FIELDS.length);
// The field at each position of the last tick read.
const order = new Int8Array(FIELDS.length).fill(-1);
// The last day read.
const lastDay = new Uint8Array(10);
let lastDayMs = NaN;

/** The tick, or undefined when `decodeInput` must decide. */
export function readTick(
  bytes: Uint8Array,
  key: string | null = null,
): { kind: "tick"; symbol: string; ts: number; price: number; size: number } | undefined {
  if (!flatTokens(bytes, FIELDS, order, from, to)) return undefined;
  // symbol and ts are strings, price and size numbers.
  if (bytes[from[SYMBOL]] !== QUOTE || bytes[from[TS]] !== QUOTE) return undefined;
  if (!isNumber(bytes[from[PRICE]]) || !isNumber(bytes[from[SIZE]])) return undefined;

  const symbol = textOr(key, bytes, from[SYMBOL] + 1, to[SYMBOL] - 1);
  if (!isSymbol(symbol)) return undefined;
  const ts = wireTs(bytes, from[TS] + 1, to[TS] - 1);
  if (Number.isNaN(ts) || !inRecordYears(ts)) return undefined;
  const price = numberAt(bytes, from[PRICE], to[PRICE]);
  if (!(price > 0 && price < Infinity)) return undefined;
  const size = numberAt(bytes, from[SIZE], to[SIZE]);
  if (!(size >= 0 && size < Infinity)) return undefined;
  return { kind: "tick", symbol, ts, price, size };
}

const isNumber = (c: number) => c === 0x2d || isDigit(c);

/** `YYYY-MM-DDThh:mm:ss.sssZ` at `bytes[start, end)` in epoch milliseconds, or NaN. */
function wireTs(bytes: Uint8Array, start: number, end: number): number {
  if (
    end - start !== 24 || bytes[start + 10] !== 0x54 || bytes[start + 13] !== 0x3a ||
    bytes[start + 16] !== 0x3a || bytes[start + 19] !== 0x2e || bytes[start + 23] !== 0x5a
  ) return NaN;
  if (Number.isNaN(lastDayMs) || !sameBytes(lastDay, bytes, start)) {
    if (bytes[start + 4] !== 0x2d || bytes[start + 7] !== 0x2d) return NaN;
    const year = digits(bytes, start, 4), month = digits(bytes, start + 5, 2);
    const day = digits(bytes, start + 8, 2);
    if (!isRealDay(year, month, day)) return NaN;
    lastDayMs = Date.UTC(year, month - 1, day);
    lastDay.set(bytes.subarray(start, start + 10));
  }
  const hour = digits(bytes, start + 11, 2), minute = digits(bytes, start + 14, 2);
  const second = digits(bytes, start + 17, 2), millis = digits(bytes, start + 20, 3);
  if (!(hour <= 23 && minute <= 59 && second <= 59 && millis >= 0)) return NaN;
  return lastDayMs + ((hour * 60 + minute) * 60 + second) * 1000 + millis;
}

/** The number written by `length` digits at `at`, or NaN. */
function digits(bytes: Uint8Array, at: number, length: number): number {
  let value = 0;
  for (let m = at; m < at + length; m++) {
    if (!isDigit(bytes[m])) return NaN;
    value = value * 10 + bytes[m] - 0x30;
  }
  return value;
}
