/**
 * How market records travel on Kafka: JSON (the default; schema version and record type in
 * headers) or Avro in the Confluent wire format, through a {@link RecordCodec} the worker opens on
 * a schema registry (a connector). This module maps records to Avro's plain shape (times as epoch
 * milliseconds; ticks and source bars as the branches of one union) and back through the same
 * validation as JSON, so a value is accepted or refused the same way in either format.
 *
 * @example
 * ```ts
 * const { value } = jsonWire.encodeTick({ symbol: "AAPL", ts: Date.UTC(2024, 0, 2), price: 1, size: 1 });
 * ```
 * @module
 */
import { InvalidRecord } from "./invalid_record.ts";
import {
  barFromObject,
  decodeBar,
  encodeBar,
  type Encoded,
  encodeSourceBar,
  headerNames,
  inputFromObject,
} from "./record.ts";
import { decodeStoredBar, type StoredBar, storedBar } from "./stored_bar.ts";
import { decodeTickOrInput, encodeTickBytes } from "./tick_bytes.ts";
import type { IndicatorBar, InputRecord, SourceBar, Tick } from "./types.ts";

/** Encodes plain values to framed bytes and back (Avro on a registry subject). */
export interface RecordCodec {
  encode(value: unknown): Uint8Array;
  decode(value: Uint8Array | null): unknown;
  /** Fetches what decoding `values` needs (their writer schemas). */
  prefetch(values: readonly (Uint8Array | null)[]): Promise<void>;
}

export interface WireFormat {
  readonly name: "json" | "avro";
  encodeTick(t: Tick): Encoded;
  encodeSourceBar(b: SourceBar): Encoded;
  encodeBar(b: IndicatorBar): Encoded;
  /** A record of the input topic; `key` is its Kafka key (the symbol it must name). */
  decodeInput(
    value: Uint8Array | null,
    headers: Record<string, string>,
    key?: string | null,
  ): InputRecord;
  decodeBar(value: Uint8Array | null, headers: Record<string, string>): IndicatorBar;
  /** A bar of `market.bars` (keyed by `key`) decoded and validated into the form stores take. */
  decodeStoredBar(
    value: Uint8Array | null,
    headers: Record<string, string>,
    key?: string | null,
  ): StoredBar;
  /** Before a slice of `topic` is decoded: fetch what decoding it needs (nothing, for JSON). */
  prefetch(topic: "input" | "bars", values: readonly (Uint8Array | null)[]): Promise<void>;
}

export const jsonWire: WireFormat = {
  name: "json",
  encodeTick: encodeTickBytes,
  encodeSourceBar,
  encodeBar,
  decodeInput: decodeTickOrInput,
  decodeBar,
  decodeStoredBar,
  prefetch: () => Promise.resolve(),
};

// Avro's union branches on the ticks topic, by full name.
const TICK = "market.Tick";
const SOURCE_BAR = "market.SourceBar";

const headersOf = (type: string) => Object.freeze({ [headerNames.recordType]: type });
const tickHeaders = headersOf("tick");
const barHeaders = headersOf("bar");
const indicatorHeaders = headersOf("bar-indicators");

/** An epoch-milliseconds time as the ISO text the validation reads; garbage stays garbage. */
function wireIsoText(value: unknown): unknown {
  if (typeof value !== "number") return value;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "invalid" : date.toISOString();
}

function plainObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidRecord(`${what} is not a record`, undefined, "not-an-object");
  }
  return value as Record<string, unknown>;
}

/**
 * Avro through `codecs`: `input` for the ticks topic (a union of Tick and SourceBar), `bars` for
 * the bars topic. A worker opens the ones it uses.
 */
export function avroWire(codecs: { input?: RecordCodec; bars?: RecordCodec }): WireFormat {
  const codec = (name: keyof typeof codecs) => {
    const c = codecs[name];
    if (!c) throw new Error(`no Avro codec for the ${name} topic was opened`);
    return c;
  };
  return {
    name: "avro",
    encodeTick: (t) => ({
      key: t.symbol,
      value: codec("input").encode({
        [TICK]: { symbol: t.symbol, ts: t.ts, price: t.price, size: t.size },
      }),
      headers: tickHeaders,
    }),
    encodeSourceBar: (b) => ({
      key: b.symbol,
      value: codec("input").encode({
        [SOURCE_BAR]: {
          symbol: b.symbol,
          ts: b.ts,
          open: b.open,
          high: b.high,
          low: b.low,
          close: b.close,
          volume: b.volume,
          interval: b.interval ?? "1d",
        },
      }),
      headers: barHeaders,
    }),
    encodeBar: (b) => ({
      key: b.symbol,
      value: codec("bars").encode(b),
      headers: indicatorHeaders,
    }),
    decodeInput(value) {
      const union = plainObject(codec("input").decode(value), "the input");
      const [branch] = Object.keys(union);
      const obj = plainObject(union[branch], branch);
      const fields: Record<string, unknown> = { ...obj, ts: wireIsoText(obj.ts) };
      if (branch === TICK) return inputFromObject("tick", fields);
      if (branch === SOURCE_BAR) {
        // Daily is the default: a daily bar reads as it does from JSON (no interval).
        if (fields.interval === "1d") delete fields.interval;
        return inputFromObject("bar", fields);
      }
      throw new InvalidRecord(`unknown record ${branch}`, undefined, "unknown-record-type");
    },
    decodeBar(value) {
      const obj = plainObject(codec("bars").decode(value), "the bar");
      return barFromObject({ ...obj, start: wireIsoText(obj.start) });
    },
    decodeStoredBar(value, headers) {
      return storedBar(this.decodeBar(value, headers));
    },
    prefetch: (topic, values) => codec(topic).prefetch(values),
  };
}
