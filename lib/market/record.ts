/**
 * The records on the wire: ticks and daily bars in (`market.ticks`), bars with indicators out
 * (`market.bars`). JSON payloads; the schema version and record type travel in Kafka headers.
 * Validation names the failing field and throws a {@link InvalidRecord}.
 *
 * @example
 * ```ts
 * const { key, value, headers } = encodeTick({ symbol: "AAPL", ts: Date.UTC(2024, 0, 2), price: 185.2, size: 100 });
 * const tick = decodeInput(new TextEncoder().encode(value), headers); // { kind: "tick", ... }
 * ```
 * @module
 */
import { readFlatObject } from "./flat_json.ts";
import { InvalidRecord } from "./invalid_record.ts";
import { isoTime, parseIsoTime } from "./time.ts";
import {
  type IndicatorBar,
  type InputRecord,
  SOURCE_INTERVALS,
  type SourceBar,
  type SourceInterval,
  type Tick,
} from "./types.ts";
import { type Interval, INTERVALS } from "./intervals.ts";

/** The only schema version this code reads and writes. */
export const SCHEMA_VERSION = "1";
export const headerNames = {
  schemaVersion: "schema-version",
  recordType: "record-type",
} as const;

export type { InputRecord, SourceBar, SourceInterval, Tick } from "./types.ts";
export { SOURCE_INTERVALS } from "./types.ts";

// 1900..2199 covers any market history and catches seconds-vs-milliseconds mix-ups.
const MIN_TS = Date.UTC(1900, 0, 1);
const MAX_TS = Date.UTC(2200, 0, 1);
/** Whether a record's time is in the years records may have (1900–2199). */
export const inRecordYears = (ts: number) => ts >= MIN_TS && ts < MAX_TS;
const SYMBOL_PATTERN = /^[A-Za-z0-9^.=_-]{1,20}$/;
// Symbols that passed: the byte readers meet a partition's few keys record after record.
const validSymbols = new Set<string>();

/** Whether `text` is a symbol: 1–20 of A-Z a-z 0-9 ^ . = _ - */
export function isSymbol(text: string): boolean {
  if (validSymbols.has(text)) return true;
  if (!SYMBOL_PATTERN.test(text)) return false;
  if (validSymbols.size >= 10_000) validSymbols.clear();
  validSymbols.add(text);
  return true;
}

// Each validator takes the field's value, read by the caller under its own name: a property read
// with one constant name stays a fast, monomorphic load, where `obj[name]` over a dozen names did
// not. A field that is absent reads as undefined (JSON never holds undefined).
function present(value: unknown, name: string): unknown {
  if (value === undefined) {
    throw new InvalidRecord(`missing field ${name}`, name, `missing-${name}`);
  }
  return value;
}

function finite(value: unknown, name: string): number {
  present(value, name);
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new InvalidRecord(`${name} must be a finite number`, name);
  }
  return value;
}

function positive(value: unknown, name: string): number {
  const n = finite(value, name);
  if (n <= 0) throw new InvalidRecord(`${name} must be positive, got ${n}`, name);
  return n;
}

function nonNegative(value: unknown, name: string): number {
  const n = finite(value, name);
  if (n < 0) throw new InvalidRecord(`${name} must not be negative, got ${n}`, name);
  return n;
}

function symbol(value: unknown): string {
  present(value, "symbol");
  if (typeof value !== "string" || !isSymbol(value)) {
    throw new InvalidRecord("symbol must be 1-20 of A-Z a-z 0-9 ^ . = _ -", "symbol");
  }
  return value;
}

/** A record's time (`ts`, or a bar's `start` under `name`), as epoch milliseconds. */
function timestamp(value: unknown, name = "ts"): number {
  present(value, name);
  const ts = typeof value === "string" && value.includes("T") ? parseIsoTime(value) : NaN;
  if (Number.isNaN(ts)) throw new InvalidRecord("ts must be an ISO-8601 UTC timestamp", "ts");
  if (!inRecordYears(ts)) {
    throw new InvalidRecord(`ts ${value} is outside 1900-2199`, "ts", "out-of-range-ts");
  }
  return ts;
}

/** Checks a tick's fields; throws InvalidRecord naming the first bad one. */
export function validateTick(obj: Record<string, unknown>): { kind: "tick" } & Tick {
  return {
    kind: "tick",
    symbol: symbol(obj.symbol),
    ts: timestamp(obj.ts),
    price: positive(obj.price, "price"),
    size: nonNegative(obj.size, "size"),
  };
}

function sourceInterval(obj: Record<string, unknown>): { interval?: SourceInterval } {
  if (obj.interval === undefined) return {};
  if (!(SOURCE_INTERVALS as readonly unknown[]).includes(obj.interval)) {
    throw new InvalidRecord(`interval must be one of ${SOURCE_INTERVALS.join(", ")}`, "interval");
  }
  return { interval: obj.interval as SourceInterval };
}

/** Checks a source bar: positive prices, low ≤ open, close ≤ high, volume ≥ 0. */
export function validateSourceBar(obj: Record<string, unknown>): SourceBar {
  const bar = {
    symbol: symbol(obj.symbol),
    ts: timestamp(obj.ts),
    open: positive(obj.open, "open"),
    high: positive(obj.high, "high"),
    low: positive(obj.low, "low"),
    close: positive(obj.close, "close"),
    volume: nonNegative(obj.volume, "volume"),
    ...sourceInterval(obj),
  };
  checkRange(bar);
  return bar;
}

/** low ≤ open, close ≤ high. */
function checkRange(bar: Pick<SourceBar, "open" | "high" | "low" | "close">): void {
  if (bar.high < bar.low) {
    throw new InvalidRecord(`high ${bar.high} is below low ${bar.low}`, "high", "high-below-low");
  }
  for (const name of ["open", "close"] as const) {
    if (bar[name] < bar.low || bar[name] > bar.high) {
      throw new InvalidRecord(
        `${name} ${bar[name]} is outside [low ${bar.low}, high ${bar.high}]`,
        name,
        `${name}-outside-range`,
      );
    }
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });

// The fields of the input's record types as encoded here: such payloads are read without
// JSON.parse (their prices have few digits).
const tickFields = ["symbol", "ts", "price", "size"];
const sourceBarFields = ["symbol", "ts", "open", "high", "low", "close", "volume", "interval"];

/**
 * Parses a payload as a JSON object; invalid UTF-8, bad JSON or a non-object is a InvalidRecord.
 * A flat object of the expected `fields` is read from the bytes directly (the same object).
 */
export function parseJsonObject(
  value: Uint8Array | null,
  fields: readonly string[] = [],
): Record<string, unknown> {
  if (value === null || value.length === 0) {
    throw new InvalidRecord("empty payload", undefined, "empty");
  }
  if (value.length > 64 * 1024) {
    throw new InvalidRecord(
      `payload of ${value.length} bytes exceeds 64 KiB`,
      undefined,
      "too-large",
    );
  }
  const flat = readFlatObject(value, fields);
  if (flat) return flat;
  let text: string;
  try {
    text = decoder.decode(value);
  } catch {
    throw new InvalidRecord("payload is not valid UTF-8", undefined, "invalid-utf8");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidRecord("payload is not valid JSON", undefined, "invalid-json");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidRecord("payload must be a JSON object", undefined, "not-an-object");
  }
  return parsed as Record<string, unknown>;
}

/**
 * Records are keyed by symbol so that one symbol stays in one partition, in order; a record whose
 * key names another symbol would break that, so it is rejected.
 */
export function checkKey(key: string | null, symbol: string): void {
  if (key !== symbol) {
    throw new InvalidRecord(
      `key ${JSON.stringify((key ?? "null").slice(0, 40))} is not the symbol ${symbol}`,
      "key",
      "key-mismatch",
    );
  }
}

/** Checks the schema-version header; unknown or missing versions are record errors. */
export function checkSchemaVersion(headers: Record<string, string>): void {
  const version = headers[headerNames.schemaVersion];
  if (version === undefined) {
    throw new InvalidRecord("missing schema-version header", undefined, "missing-schema-version");
  }
  if (version !== SCHEMA_VERSION) {
    throw new InvalidRecord(
      `unknown schema version ${JSON.stringify(version.slice(0, 20))}`,
      undefined,
      "unknown-schema-version",
    );
  }
}

/** Decodes and validates one record of the input topic. */
export function decodeInput(
  value: Uint8Array | null,
  headers: Record<string, string>,
): InputRecord {
  checkSchemaVersion(headers);
  const type = headers[headerNames.recordType];
  const fields = type === "tick" ? tickFields : type === "bar" ? sourceBarFields : undefined;
  return inputFromObject(type, parseJsonObject(value, fields));
}

/** Validates an input record's fields (however it was encoded) as the record `type`. */
export function inputFromObject(
  type: string | undefined,
  obj: Record<string, unknown>,
): InputRecord {
  if (type === "tick") return validateTick(obj);
  if (type === "bar") return { kind: "bar", ...validateSourceBar(obj) };
  throw new InvalidRecord(
    `unknown record type ${JSON.stringify(String(type).slice(0, 20))}`,
    undefined,
    "unknown-record-type",
  );
}

/** An encoded record: key, value (JSON text or Avro bytes), headers. */
export interface Encoded {
  key: string;
  value: string | Uint8Array;
  headers: Readonly<Record<string, string>>;
}

/** A record encoded as JSON. */
export interface JsonEncoded extends Encoded {
  value: string;
}

// One frozen headers object per record type, shared by every record of that type.
const typeHeaders = new Map<string, Readonly<Record<string, string>>>();

/** The headers of a JSON record of `type`: one frozen object, the same for every record. */
export function jsonHeaders(type: string): Readonly<Record<string, string>> {
  let headers = typeHeaders.get(type);
  if (!headers) {
    headers = Object.freeze({
      [headerNames.schemaVersion]: SCHEMA_VERSION,
      [headerNames.recordType]: type,
    });
    typeHeaders.set(type, headers);
  }
  return headers;
}

function encode(type: string, key: string, body: Record<string, unknown>): JsonEncoded {
  return { key, value: JSON.stringify(body), headers: jsonHeaders(type) };
}

/** A tick for the input topic, keyed by symbol so one symbol stays in one partition, in order. */
export function encodeTick(t: Tick): JsonEncoded {
  return encode("tick", t.symbol, {
    symbol: t.symbol,
    ts: isoTime(t.ts),
    price: t.price,
    size: t.size,
  });
}

/** A source bar for the input topic, keyed by symbol. */
export function encodeSourceBar(b: SourceBar): JsonEncoded {
  return encode("bar", b.symbol, {
    symbol: b.symbol,
    ts: isoTime(b.ts),
    open: b.open,
    high: b.high,
    low: b.low,
    close: b.close,
    volume: b.volume,
    // Daily is the default: daily records stay as they always were on the wire.
    ...(b.interval && b.interval !== "1d" ? { interval: b.interval } : {}),
  });
}

/** A bar with indicators for `market.bars`, keyed by symbol (per-symbol order holds downstream). */
export function encodeBar(b: IndicatorBar): JsonEncoded {
  return encode("bar-indicators", b.symbol, {
    ...b,
    start: isoTime(b.start),
  });
}

function nullableFinite(value: unknown, name: string): number | null {
  present(value, name);
  if (value === null) return null;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new InvalidRecord(`${name} must be a finite number or null`, name);
  }
  return value;
}

/** A trade count: null, or a whole number ≥ 0 that fits a bigint column and a `long` field. */
function tradeCount(value: unknown): number | null {
  const n = nullableFinite(value, "trades");
  if (n !== null && (!Number.isSafeInteger(n) || n < 0)) {
    throw new InvalidRecord("trades must be a whole number from 0 to 2^53", "trades");
  }
  return n;
}

/** Decodes and validates one record of `market.bars` (the sink's input). */
export function decodeBar(value: Uint8Array | null, headers: Record<string, string>): IndicatorBar {
  checkSchemaVersion(headers);
  if (headers[headerNames.recordType] !== "bar-indicators") {
    throw new InvalidRecord("record-type must be bar-indicators", undefined, "unknown-record-type");
  }
  // Bars carry full-precision indicators: their numbers are not exact in one step, and JSON.parse
  // reads them faster than the flat reader can through their text.
  return barFromObject(parseJsonObject(value));
}

/** Validates a bar's fields (however it was encoded). */
export function barFromObject(obj: Record<string, unknown>): IndicatorBar {
  const interval = present(obj.interval, "interval");
  if (typeof interval !== "string" || !(INTERVALS as readonly string[]).includes(interval)) {
    throw new InvalidRecord(`interval must be one of ${INTERVALS.join(", ")}`, "interval");
  }
  const start = timestamp(obj.start, "start");
  // The OHLCV checks of a source bar, in its order; then the rest (as the record names them).
  const bar: IndicatorBar = {
    symbol: symbol(obj.symbol),
    interval: interval as Interval,
    start,
    open: positive(obj.open, "open"),
    high: positive(obj.high, "high"),
    low: positive(obj.low, "low"),
    close: positive(obj.close, "close"),
    volume: nonNegative(obj.volume, "volume"),
    trades: null,
    vwap: null,
    ret: null,
    logRet: null,
    sma: null,
    ema: null,
    rsi: null,
    volatility: null,
    zscore: null,
  };
  checkRange(bar);
  bar.trades = tradeCount(obj.trades);
  bar.vwap = nullableFinite(obj.vwap, "vwap");
  bar.ret = nullableFinite(obj.ret, "ret");
  bar.logRet = nullableFinite(obj.logRet, "logRet");
  bar.sma = nullableFinite(obj.sma, "sma");
  bar.ema = nullableFinite(obj.ema, "ema");
  bar.rsi = nullableFinite(obj.rsi, "rsi");
  bar.volatility = nullableFinite(obj.volatility, "volatility");
  bar.zscore = nullableFinite(obj.zscore, "zscore");
  return bar;
}
