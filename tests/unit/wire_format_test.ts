import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import avro from "avsc";
import { avroWire, jsonWire, type RecordCodec } from "../../lib/market/wire_format.ts";
import type { IndicatorBar, SourceBar, Tick } from "../../lib/market/types.ts";

/** A codec over avsc alone (no registry, no framing): the mapping is what is under test. */
function codec(schema: unknown): RecordCodec {
  const type = avro.Type.forSchema(schema as avro.Schema, { wrapUnions: "auto" });
  return {
    encode: (value) => new Uint8Array(type.toBuffer(value)),
    decode: (value) => type.fromBuffer(Buffer.from(value!)),
    prefetch: () => Promise.resolve(),
  };
}
const read = (name: string) => JSON.parse(Deno.readTextFileSync(`schemas/${name}.avsc`));
const wire = avroWire({
  input: codec([read("tick"), read("source_bar")]),
  bars: codec(read("bar")),
});
const bytes = (v: string | Uint8Array) => typeof v === "string" ? new TextEncoder().encode(v) : v;

const tick: Tick = { symbol: "AAPL", ts: Date.UTC(2024, 0, 2, 14, 30), price: 185.25, size: 100 };
const daily: SourceBar = {
  symbol: "SP500",
  ts: Date.UTC(2020, 0, 2),
  open: 3244.67,
  high: 3258.14,
  low: 3235.53,
  close: 3257.85,
  volume: 3458250000,
};
const bar: IndicatorBar = {
  symbol: "SP500",
  interval: "1w",
  start: Date.UTC(2019, 11, 30),
  open: 1,
  high: 3,
  low: 0.5,
  close: 2,
  volume: 10,
  trades: 4,
  vwap: 1.5,
  ret: 0.01,
  logRet: null,
  sma: 1.9,
  ema: null,
  rsi: 55,
  volatility: null,
  zscore: -0.3,
};

Deno.test("Avro and JSON decode to the same records: ticks, daily and weekly source bars, bars", () => {
  for (const format of [jsonWire, wire]) {
    const t = format.encodeTick(tick);
    assert.deepEqual(format.decodeInput(bytes(t.value), { ...t.headers, "schema-version": "1" }), {
      kind: "tick",
      ...tick,
    });
    for (const b of [daily, { ...daily, interval: "1w" as const }]) {
      const e = format.encodeSourceBar(b);
      assert.deepEqual(
        format.decodeInput(bytes(e.value), { ...e.headers, "schema-version": "1" }),
        { kind: "bar", ...b },
        format.name,
      );
    }
    const e = format.encodeBar(bar);
    assert.deepEqual(
      format.decodeBar(bytes(e.value), { ...e.headers, "schema-version": "1" }),
      bar,
    );
  }
  assert.ok(bytes(wire.encodeBar(bar).value).length < bytes(jsonWire.encodeBar(bar).value).length);
});

Deno.test("Avro records break the same rules as JSON ones, with the same reasons", () => {
  const bad: [Partial<IndicatorBar>, string][] = [
    [{ close: NaN }, "invalid-close"],
    [{ volume: -1 }, "invalid-volume"],
    [{ symbol: "no spaces allowed" }, "invalid-symbol"],
    [{ start: 8.7e15 }, "invalid-ts"],
    [{ high: 0.1 }, "high-below-low"],
  ];
  for (const [change, reason] of bad) {
    // JSON cannot even encode a time past year 275760; Avro's long can.
    for (const format of change.start ? [wire] : [jsonWire, wire]) {
      const e = format.encodeBar({ ...bar, ...change });
      assert.throws(
        () => format.decodeBar(bytes(e.value), { ...e.headers, "schema-version": "1" }),
        (error: { reason?: string }) => error.reason === reason,
        `${format.name}: ${JSON.stringify(change)} → ${reason}`,
      );
    }
  }
});
