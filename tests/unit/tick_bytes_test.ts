import assert from "node:assert/strict";
import {
  decodeInput,
  decodeTickOrInput,
  encodeTick,
  encodeTickBytes,
  readTick,
} from "../../lib/market/mod.ts";
import { mutateFields } from "../support/mutated_json.ts";
import { seededRandom } from "../../lib/market/synthetic.ts";

const headers = { "schema-version": "1", "record-type": "tick" };
const bytes = (s: string) => new TextEncoder().encode(s);

/** A decoder's answer for a payload: the record, or its error's message. */
function outcome(decode: () => unknown): unknown {
  try {
    return decode();
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

Deno.test("tick from bytes: the ticks this pipeline writes read to decodeInput's values", () => {
  const rnd = seededRandom(20261207);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  for (let n = 0; n < 5_000; n++) {
    const tick = {
      symbol: pick(["AAPL", "BRK.B", "^GSPC", "SP500", "a_b-c=1"]),
      // Any millisecond of 1900–2199, and runs of the same day.
      ts: n % 3 === 0
        ? Date.UTC(1900, 0, 1) + Math.floor(rnd() * 300 * 365.25 * 86_400_000)
        : Date.UTC(2024, 1, 29) + Math.floor(rnd() * 86_400_000),
      price: pick([Math.round(rnd() * 1e6) / 100, rnd() * 1e3, 1e-7 * (1 + rnd()), 5e21]),
      size: pick([0, Math.floor(rnd() * 1e4), rnd()]),
    };
    const { key, value } = encodeTick(tick);
    const read = readTick(bytes(value), key);
    assert.ok(read, `read ${value}`);
    assert.deepStrictEqual(read, decodeInput(bytes(value), headers), value);
    assert.equal(read.ts, tick.ts);
  }
});

Deno.test("tick from bytes: anything else gets decodeInput's answer, value or error", () => {
  const rnd = seededRandom(7);
  const base =
    encodeTick({ symbol: "AAPL", ts: Date.UTC(2023, 5, 30, 23, 59, 59, 999), price: 1, size: 2 })
      .value;
  const variants = [
    base,
    JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(base)).reverse()), null, 1),
    base.replace('"price":1', '"price":1e2'),
    base.replace('"price":1', '"price":1e999'),
    base.replace('"price":1', '"price":0'),
    base.replace('"price":1', '"price":-1'),
    base.replace('"price":1', '"price":"1"'),
    base.replace('"size":2', '"size":-0'),
    base.replace('"size":2', '"size":-2'),
    base.replace('"size":2', '"size":null'),
    base.replace('"size":2', '"size":2,"extra":true'),
    base.replace(',"size":2', ""),
    base.replace('"AAPL"', '"AA PL"'),
    base.replace('"AAPL"', '"AA\\u0050L"'),
    base.replace("2023-06-30T23:59:59.999Z", "2023-06-30T23:59:59Z"),
    base.replace("2023-06-30T23:59:59.999Z", "2023-06-31T00:00:00.000Z"),
    base.replace("2023-06-30T23:59:59.999Z", "2023-02-29T00:00:00.000Z"),
    base.replace("2023-06-30T23:59:59.999Z", "2024-02-29T00:00:00.000Z"),
    base.replace("2023-06-30T23:59:59.999Z", "2023-06-30T24:00:00.000Z"),
    base.replace("2023-06-30T23:59:59.999Z", "2023-06-30T12:60:00.000Z"),
    base.replace("2023-06-30T23:59:59.999Z", "2023-06-30T12:00:00.00xZ"),
    base.replace("2023-06-30T23:59:59.999Z", "1899-12-31T23:59:59.999Z"),
    base.replace("2023-06-30T23:59:59.999Z", "2200-01-01T00:00:00.000Z"),
    base.replace("2023-06-30T23:59:59.999Z", "2023-06-30T12:00:00.000+01:00"),
    base.replace("2023-06-30T23:59:59.999Z", "2023/06/30T12:00:00.000Z"),
    base + " ",
    base + ",",
    "{}",
    "[]",
  ];
  let fromBytes = 0;
  for (let n = 0; n < 2_000; n++) {
    // In a random order, so a cached day or field order from the payload before never decides.
    const payload = variants[Math.floor(rnd() * variants.length)];
    for (const key of ["AAPL", "MSFT", null]) {
      if (readTick(bytes(payload), key)) fromBytes++;
      assert.deepStrictEqual(
        outcome(() => decodeTickOrInput(bytes(payload), headers, key)),
        outcome(() => decodeInput(bytes(payload), headers)),
        payload,
      );
    }
  }
  assert.ok(fromBytes > 1_000, `${fromBytes} read from bytes`);
});

Deno.test("tick from bytes: another record type or schema version is decodeInput's to refuse", () => {
  const { value } = encodeTick({ symbol: "AAPL", ts: Date.UTC(2024, 0, 2), price: 1, size: 1 });
  for (const h of [{ ...headers, "schema-version": "2" }, { "schema-version": "1" }]) {
    assert.deepStrictEqual(
      outcome(() => decodeTickOrInput(bytes(value), h, "AAPL")),
      outcome(() => decodeInput(bytes(value), h)),
    );
    assert.match(String(outcome(() => decodeTickOrInput(bytes(value), h, "AAPL"))), /^error/);
  }
});

Deno.test("tick bytes: written as encodeTick's JSON text in UTF-8, byte for byte", async (t) => {
  const same = (tick: Parameters<typeof encodeTick>[0]) => {
    const text = encodeTick(tick);
    const written = encodeTickBytes(tick);
    // A plain Uint8Array of the bytes (the written one is a Buffer).
    const value = typeof written.value === "string"
      ? new TextEncoder().encode(written.value)
      : Uint8Array.from(written.value);
    assert.deepStrictEqual(value, new TextEncoder().encode(text.value), text.value);
    assert.equal(written.key, text.key);
    assert.equal(written.headers, text.headers); // the one frozen object
  };
  await t.step("random ticks of any time and number", () => {
    const rnd = seededRandom(99);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
    for (let n = 0; n < 20_000; n++) {
      same({
        symbol: pick(["AAPL", "BRK.B", "^GSPC", "X"]),
        ts: n % 2 === 0
          ? Math.floor(rnd() * Date.UTC(9999, 11, 31, 23, 59, 59, 999))
          : Date.UTC(2020, 0, 1) + Math.floor(rnd() * 3 * 86_400_000),
        price: pick([
          rnd() * 1000,
          Math.round(rnd() * 1e6) / 100,
          1e-7 * rnd(),
          1e21 * (1 + rnd()),
        ]),
        size: pick([0, -0, Math.floor(rnd() * 1e6), rnd()]),
      });
    }
  });
  await t.step("what JSON.stringify escapes, and values it writes its own way", () => {
    const base = { symbol: "AAPL", ts: Date.UTC(2024, 0, 2), price: 1.5, size: 10 };
    for (const symbol of ['A"B', "A\\B", "A\nB", "ÄPFEL", "A\u{1F600}", "A\ud800B", ""]) {
      same({ ...base, symbol });
    }
    for (const price of [NaN, Infinity, -Infinity, -0, 5e-324, Number.MAX_VALUE]) {
      same({ ...base, price });
    }
    for (const ts of [0, Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(1969, 11, 31), 1.5]) {
      same({ ...base, ts });
    }
    assert.throws(() => encodeTickBytes({ ...base, ts: Date.UTC(10000, 0, 1) * 1e6 }));
  });
});

Deno.test("tick from bytes: 20,000 mutated ticks get decodeInput's record or error", () => {
  const rnd = seededRandom(1208);
  const base =
    encodeTick({ symbol: "AAPL", ts: Date.UTC(2024, 1, 29, 9, 30), price: 185.2, size: 100 })
      .value;
  const values = [
    "0",
    "-0",
    "1",
    "-1",
    "1e999",
    "-1e999",
    "1e-7",
    "2.5",
    "1E2",
    "9".repeat(320),
    "null",
    "true",
    '"1"',
    '"AAPL"',
    '"MSFT"',
    '"A A"',
    '"2024-02-29T09:30:00.000Z"',
    '"2023-02-29T09:30:00.000Z"',
    '"2024-02-29T24:00:00.000Z"',
    '"2024-02-29T09:30:00Z"',
    '"1899-12-31T23:59:59.999Z"',
    "[]",
  ];
  let fast = 0;
  for (let n = 0; n < 20_000; n++) {
    const text = mutateFields(base, values, rnd);
    const key = (["AAPL", "MSFT", null] as const)[Math.floor(rnd() * 3)];
    if (readTick(bytes(text), key)) fast++;
    assert.deepStrictEqual(
      outcome(() => decodeTickOrInput(bytes(text), headers, key)),
      outcome(() => decodeInput(bytes(text), headers)),
      text,
    );
  }
  assert.ok(fast > 2_000 && fast < 18_000, `${fast} read from bytes`);
});
