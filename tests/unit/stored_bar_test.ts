import assert from "node:assert/strict";
import {
  barDocument,
  decodeBar,
  decodeStoredBar,
  encodeBar,
  type IndicatorBar,
  INTERVALS,
  readStoredBar,
  storedBar,
} from "../../lib/market/mod.ts";
import { mutateFields } from "../support/mutated_json.ts";
import { seededRandom } from "../../lib/market/synthetic.ts";

const headers = { "schema-version": "1", "record-type": "bar-indicators" };
const bytes = (s: string) => new TextEncoder().encode(s);
const docText = (doc: Uint8Array | string) =>
  typeof doc === "string" ? doc : new TextDecoder().decode(doc);

const bar: IndicatorBar = {
  symbol: "SP500",
  interval: "1d",
  start: Date.UTC(2000, 0, 3),
  open: 1469.25,
  high: 1478,
  low: 1438.36,
  close: 1455.22,
  volume: 931800000,
  trades: null,
  vwap: null,
  ret: -0.009549046596960812,
  logRet: -0.009594917947508326,
  sma: 1441.4380000000003,
  ema: 1443.5113461538462,
  rsi: 57.25316455696203,
  volatility: 0.011723283580891378,
  zscore: 1.1019838186066434,
};

const payload = encodeBar(bar).value;
/** The bar's payload with field `name` written as `raw` (or added before `ret` when new). */
function withField(name: string, raw: string): string {
  const obj = JSON.parse(payload);
  const from = name in obj ? `"${name}":${JSON.stringify(obj[name])}` : '"ret":';
  const to = name in obj ? `"${name}":${raw}` : `"${name}":${raw},"ret":`;
  assert.ok(payload.includes(from), from);
  return payload.replace(from, to);
}

/** What the general way stores for a payload: its id and document, or the error's message. */
function general(payload: string): { id: string; doc: unknown } | string {
  try {
    const { id, doc } = barDocument(decodeBar(bytes(payload), headers));
    // As the stores get it: serialized.
    return { id, doc: JSON.parse(JSON.stringify(doc)) };
  } catch (error) {
    return (error as Error).message;
  }
}

/** What decodeStoredBar stores for it, in the same terms. */
function stored(payload: string, key: string | null = null): { id: string; doc: unknown } | string {
  try {
    const { id, doc } = decodeStoredBar(bytes(payload), headers, key);
    return { id, doc: JSON.parse(docText(doc)) };
  } catch (error) {
    return (error as Error).message;
  }
}

function randomBar(rnd: () => number): IndicatorBar {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const low = 1 + rnd() * 1000;
  const high = low + rnd() * 50;
  const within = () => low + (high - low) * rnd();
  const maybe = (x: number) => rnd() < 0.2 ? null : x;
  const indicator = () =>
    maybe(pick([(rnd() - 0.5) * 10 ** Math.floor(rnd() * 20 - 10), rnd() * 100, 0]));
  return {
    symbol: pick(["AAPL", "SP500", "BRK.B", "^GSPC", "X_1-2=3"]),
    interval: pick(INTERVALS),
    start: Date.UTC(1900, 0, 1) + Math.floor(rnd() * 300 * 365.25) * 86_400_000 +
      Math.floor(rnd() * 86_400_000),
    open: within(),
    high,
    low,
    close: within(),
    volume: pick([0, Math.floor(rnd() * 1e9), rnd() * 1e4, 1e21 * rnd()]),
    trades: pick([null, 0, Math.floor(rnd() * 1e6)]),
    vwap: maybe(within()),
    ret: indicator(),
    logRet: indicator(),
    sma: indicator(),
    ema: indicator(),
    rsi: indicator(),
    volatility: indicator(),
    zscore: indicator(),
  };
}

Deno.test("stored bar: the document read from the bytes is the general way's, field for field", () => {
  const rnd = seededRandom(20261207);
  for (let round = 0; round < 3000; round++) {
    const b = randomBar(rnd);
    const { key, value } = encodeBar(b);
    const fast = readStoredBar(bytes(value), key);
    assert.ok(fast, `read from the bytes: ${value}`);
    assert.equal(fast.symbol, b.symbol);
    const { id, doc } = barDocument(b);
    assert.equal(fast.id, id);
    // The same text as the general way's, numbers included (the producer wrote them the same way).
    assert.equal(docText(fast.doc), JSON.stringify(doc));
  }
});

Deno.test("stored bar: fields in another order, spaces and exponents read the same values", () => {
  const obj = JSON.parse(payload);
  const reordered = Object.fromEntries(Object.entries(obj).reverse());
  const spaced = JSON.stringify(reordered, null, 2);
  assert.ok(readStoredBar(bytes(spaced)));
  assert.deepEqual(stored(spaced), general(spaced));
  const exponents = withField("ret", "-9.549046596960812e-3").replace(
    `"volume":${bar.volume}`,
    '"volume":9.318E8',
  );
  assert.ok(readStoredBar(bytes(exponents)));
  assert.deepEqual(stored(exponents), general(exponents));
  // Two payloads in one order and one in another: a name is predicted from the last, then looked up.
  assert.deepEqual(stored(payload), general(payload));
});

Deno.test("stored bar: what the byte reader is unsure of goes the general way, with the same result", () => {
  const cases = [
    withField("extra", "1"), // an unknown field (the general way ignores it)
    withField("zscore", "-0"), // stored as 0, not -0
    withField("trades", "7.0"), // plain digits only, for an int8 column
    withField("symbol", '"SP\\u0035\\u0030\\u0030"'), // an escape
    withField("start", '"2000-01-03T00:00:00Z"'),
  ];
  for (const payload of cases) {
    assert.equal(readStoredBar(bytes(payload)), undefined, payload);
    const expected = general(payload);
    assert.equal(typeof expected, "object", payload);
    assert.deepEqual(stored(payload), expected, payload);
  }
  assert.equal((stored(cases[1]) as { doc: { zscore: number } }).doc.zscore, 0);
  assert.ok(!Object.is((stored(cases[1]) as { doc: { zscore: number } }).doc.zscore, -0));
});

Deno.test("stored bar: invalid bars are refused with the general way's error", () => {
  const without = (name: string) => {
    const obj = JSON.parse(payload);
    delete obj[name];
    return JSON.stringify(obj);
  };
  const cases = [
    withField("high", "1400"), // below low
    withField("open", "1500"), // outside [low, high]
    withField("low", "-1"),
    withField("volume", "-5"),
    withField("interval", '"2d"'),
    withField("symbol", '"S P"'),
    withField("start", '"2000-02-30T00:00:00.000Z"'),
    withField("start", '"2300-01-03T00:00:00.000Z"'),
    withField("trades", "2.5"),
    withField("sma", "1e999"),
    // Past a double's range: JSON.parse reads Infinity, which is not a price or a volume.
    withField("open", "1e999"),
    withField("high", "1e999"),
    withField("volume", "1e999"),
    withField("close", "-1e999"),
    withField("rsi", '"57"'),
    withField("ema", "true"),
    without("vwap"),
    without("close"),
    payload + "x",
    "[]",
  ];
  for (const payload of cases) {
    assert.equal(readStoredBar(bytes(payload)), undefined, payload);
    const expected = general(payload);
    assert.equal(typeof expected, "string", payload);
    assert.equal(stored(payload), expected, payload);
  }
});

Deno.test("stored bar: a payload whose symbol is not its key keeps its own symbol", () => {
  assert.equal(readStoredBar(bytes(payload), "AAPL")?.symbol, "SP500");
  assert.equal(readStoredBar(bytes(payload), "SP500")?.symbol, "SP500");
});

Deno.test("stored bar: a bar made the general way (Avro) has the same id and document", () => {
  const fromBytes = decodeStoredBar(bytes(payload), headers);
  const made = storedBar(bar);
  assert.equal(made.id, fromBytes.id);
  assert.equal(made.doc, docText(fromBytes.doc));
});

Deno.test("stored bar: 20,000 mutated bars get the general way's document or error", () => {
  const rnd = seededRandom(1207);
  const values = [
    "0",
    "-0",
    "-0.0",
    "1",
    "-1",
    "1e999",
    "-1e999",
    "1e-7",
    "2.5",
    "7.0",
    "1E2",
    "1e308",
    "9".repeat(20),
    "9".repeat(320),
    "0.1",
    "null",
    "true",
    '"1"',
    '"1d"',
    '"1m"',
    '"AAPL"',
    '"2000-01-03T00:00:00.000Z"',
    '"2000-02-30T00:00:00.000Z"',
    '"1899-12-31T23:59:59.999Z"',
    "1469.25",
    "1478",
    "1438.36",
    "[]",
    "{}",
  ];
  let fast = 0;
  for (let n = 0; n < 20_000; n++) {
    const text = mutateFields(payload, values, rnd);
    if (readStoredBar(bytes(text))) fast++;
    assert.deepEqual(stored(text), general(text), text);
  }
  // Both ways are exercised, or the comparison proves little.
  assert.ok(fast > 2_000 && fast < 18_000, `${fast} read from bytes`);
});

Deno.test("stored bar: prices compared digit by digit decide as their doubles do", () => {
  const withPrices = (open: string, high: string, low: string, close: string) =>
    [["open", open], ["high", high], ["low", low], ["close", close]].reduce(
      (text, [name, raw]) => text.replace(new RegExp(`"${name}":[^,]*`), `"${name}":${raw}`),
      payload,
    );
  // Equal texts, trailing zeros, whole parts of other lengths, and 17–20 digits that differ only
  // past what a double keeps.
  const pool = [
    "1455.22",
    "1455.220",
    "1455.2200000000000001",
    "1455.2199999999999999",
    "1455.21",
    "1455",
    "999.99",
    "10000",
    "0.5",
    "0.50001",
    "1478",
    "1478.0",
    "1438.36",
  ];
  const rnd = seededRandom(20261208);
  const pick = () => pool[Math.floor(rnd() * pool.length)];
  let accepted = 0, refused = 0;
  for (let n = 0; n < 5_000; n++) {
    const text = withPrices(pick(), pick(), pick(), pick());
    const expected = general(text);
    if (typeof expected === "string") refused++;
    else accepted++;
    assert.deepEqual(stored(text), expected, text);
  }
  assert.ok(accepted > 100 && refused > 100, `${accepted} accepted, ${refused} refused`);
  // Above the high as decimals, equal to it as doubles: the general way, which accepts it.
  const rounded = withPrices("1455.2200000000000001", "1455.22", "1400", "1455.22");
  assert.equal(readStoredBar(bytes(rounded)), undefined);
  assert.equal(typeof general(rounded), "object");
  assert.deepEqual(stored(rounded), general(rounded));
  // Equal as decimals with trailing zeros: read from the bytes.
  assert.ok(readStoredBar(bytes(withPrices("1478.0", "1478", "1400.00", "1478.000"))));
});
