import assert from "node:assert/strict";
import {
  decodeBar,
  decodeInput,
  encodeBar,
  encodeSourceBar,
  encodeTick,
} from "../../lib/market/record.ts";
import { InvalidRecord } from "../../lib/market/invalid_record.ts";
import { isRecordError } from "../../lib/runtime/record_error.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const barHeaders = { "schema-version": "1", "record-type": "bar" };
const good = {
  symbol: "SP500",
  ts: "2000-01-03T00:00:00.000Z",
  open: 10,
  high: 12,
  low: 9,
  close: 11,
  volume: 5,
};

function rejects(body: unknown, headers: Record<string, string>, reason: RegExp, field?: string) {
  const payload = typeof body === "string"
    ? enc(body)
    : body instanceof Uint8Array
    ? body
    : enc(JSON.stringify(body));
  assert.throws(() => decodeInput(payload, headers), (error: unknown) => {
    assert.ok(error instanceof InvalidRecord, `not an InvalidRecord: ${error}`);
    // What makes the runtime dead-letter the record rather than retry it.
    assert.ok(isRecordError(error));
    assert.match(error.message, reason);
    if (field) assert.equal(error.field, field);
    return true;
  });
}

Deno.test("a tick and a source bar survive encode → decode", () => {
  const t = encodeTick({
    symbol: "AAPL",
    ts: Date.UTC(2024, 0, 2, 14, 30),
    price: 185.25,
    size: 100,
  });
  assert.equal(t.key, "AAPL");
  assert.deepEqual(decodeInput(enc(t.value), t.headers), {
    kind: "tick",
    symbol: "AAPL",
    ts: Date.UTC(2024, 0, 2, 14, 30),
    price: 185.25,
    size: 100,
  });
  const b = encodeSourceBar({ ...good, ts: Date.parse(good.ts) });
  assert.equal(decodeInput(enc(b.value), b.headers).kind, "bar");
});

Deno.test("a tick's JSON is the text JSON.stringify writes for it, whatever its values", () => {
  const symbols = ["AAPL", "BRK.B", 'a"quote', "back\\slash", "caf\u00e9", "\u{1f600}", ""];
  const numbers = [185.25, 0, -0, 1e21, 1e-7, 5e-324, 2 ** 53 + 2, NaN, Infinity, -Infinity, 100];
  for (const symbol of symbols) {
    for (const price of numbers) {
      for (const size of [100, -0, NaN, 0.1 + 0.2]) {
        const ts = Date.UTC(2024, 0, 2, 14, 30, 15, 7);
        const body = { symbol, ts: new Date(ts).toISOString(), price, size };
        assert.equal(encodeTick({ symbol, ts, price, size }).value, JSON.stringify(body));
      }
    }
  }
});

Deno.test("validation names the failing field", async (t) => {
  const cases: [string, unknown, RegExp, string | undefined][] = [
    ["non-positive price", { ...good, open: 0, low: 0 }, /open must be positive/, "open"],
    ["high below low", { ...good, high: 8 }, /high 8 is below low 9/, "high"],
    ["open above high", { ...good, open: 13 }, /open 13 is outside \[low 9, high 12\]/, "open"],
    ["close below low", { ...good, close: 8.5 }, /close 8.5 is outside/, "close"],
    ["negative volume", { ...good, volume: -1 }, /volume must not be negative/, "volume"],
    ["string price", { ...good, close: "11" }, /close must be a finite number/, "close"],
    ["missing field", { ...good, low: undefined }, /missing field low/, "low"],
    ["unparseable timestamp", { ...good, ts: "yesterday" }, /ts must be an ISO-8601/, "ts"],
    ["out-of-range timestamp", { ...good, ts: "1850-01-01T00:00:00Z" }, /outside 1900-2199/, "ts"],
    ["bad symbol", { ...good, symbol: "DROP TABLE" }, /symbol must be/, "symbol"],
  ];
  for (const [name, body, reason, field] of cases) {
    await t.step(name, () => rejects(body, barHeaders, reason, field));
  }
});

Deno.test("broken payloads and headers are record errors, not crashes", async (t) => {
  await t.step(
    "unknown schema version",
    () => rejects(good, { ...barHeaders, "schema-version": "2" }, /unknown schema version "2"/),
  );
  await t.step(
    "missing schema version",
    () => rejects(good, { "record-type": "bar" }, /missing schema-version/),
  );
  await t.step(
    "unknown record type",
    () => rejects(good, { ...barHeaders, "record-type": "quote" }, /unknown record type/),
  );
  await t.step(
    "invalid UTF-8",
    () => rejects(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), barHeaders, /not valid UTF-8/),
  );
  await t.step("not JSON", () => rejects("{nope", barHeaders, /not valid JSON/));
  await t.step("JSON array", () => rejects("[1,2]", barHeaders, /must be a JSON object/));
  await t.step("NaN is not JSON", () => rejects('{"price": NaN}', barHeaders, /not valid JSON/));
  await t.step(
    "huge number",
    () => rejects({ ...good, volume: 1e400 }, barHeaders, /volume must be a finite number/),
  );
  await t.step("empty", () => rejects("", barHeaders, /empty payload/));
  await t.step("oversized", () => rejects("x".repeat(70_000), barHeaders, /exceeds 64 KiB/));
});

Deno.test("an output bar survives encode → decode, nulls included", () => {
  const bar = {
    symbol: "SP500",
    interval: "1w" as const,
    start: Date.UTC(2000, 0, 3),
    open: 1,
    high: 2,
    low: 0.5,
    close: 1.5,
    volume: 10,
    trades: null,
    vwap: null,
    ret: 0.5,
    logRet: Math.log(1.5),
    sma: null,
    ema: null,
    rsi: null,
    volatility: null,
    zscore: null,
  };
  const e = encodeBar(bar);
  assert.equal(e.headers["record-type"], "bar-indicators");
  assert.deepEqual(decodeBar(enc(e.value), e.headers), bar);
  assert.throws(
    () => decodeBar(enc(e.value.replace('"1w"', '"2w"')), e.headers),
    /interval must be one of/,
  );
  // 1e20 trades would overflow PostgreSQL's bigint and retry forever: rejected up front.
  const withTrades = (n: string) => enc(e.value.replace('"trades":null', `"trades":${n}`));
  assert.throws(() => decodeBar(withTrades("1e20"), e.headers), /trades must be a whole number/);
  assert.throws(() => decodeBar(withTrades("2.5"), e.headers), /trades must be a whole number/);
  assert.equal(decodeBar(withTrades("7"), e.headers).trades, 7);
  // Every field is required, the nullable ones too; each missing one is named.
  for (const name of Object.keys(bar)) {
    const without: Record<string, unknown> = { ...JSON.parse(e.value) };
    delete without[name];
    assert.throws(
      () => decodeBar(enc(JSON.stringify(without)), e.headers),
      (error: Error) => error.message === `missing field ${name}`,
      name,
    );
  }
  assert.throws(
    () => decodeBar(enc(e.value.replace('"sma":null', '"sma":"1"')), e.headers),
    /sma must be a finite number or null/,
  );
  // The runtime's lineage rides in a header, so the stored bar is the same with or without it.
  const stamped = { ...e.headers, "ingested-at": "1764030000123" };
  assert.deepEqual(decodeBar(enc(e.value), stamped), bar);
});
