import assert from "node:assert/strict";
import { readFlatObject } from "../../lib/market/flat_json.ts";
import { encodeBar, encodeSourceBar, encodeTick, type IndicatorBar } from "../../lib/market/mod.ts";
import { seededRandom } from "../../lib/market/synthetic.ts";

const encoder = new TextEncoder();
const fields = ["symbol", "ts", "price", "size", "ok"];

/** Numbers in JSON's grammar and near it: exact and inexact, exponents, signs, and bad ones. */
function numberText(rnd: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const digits = (n: number) =>
    Array.from({ length: n }, () => String(Math.floor(rnd() * 10))).join("");
  switch (Math.floor(rnd() * 6)) {
    case 0:
      return String((rnd() - 0.5) * 10 ** Math.floor(rnd() * 30 - 10));
    case 1:
      return (rnd() * 1000).toFixed(Math.floor(rnd() * 8));
    case 2: {
      // Long digit strings, with a point anywhere: past 15 digits they are not exact in one step.
      const whole = digits(1 + Math.floor(rnd() * 18)).replace(/^0+(?=\d)/, "");
      return `${pick(["", "-"])}${whole}${
        rnd() < 0.7 ? `.${digits(1 + Math.floor(rnd() * 25))}` : ""
      }`;
    }
    case 3:
      return `${digits(1 + Math.floor(rnd() * 3))}${pick(["e", "E"])}${pick(["", "+", "-"])}${
        digits(1 + Math.floor(rnd() * 3))
      }`;
    case 4:
      return pick([
        "0",
        "-0",
        "0.0",
        "-0.0",
        "5e-324",
        "1e400",
        "9007199254740993",
        "0.30000000000000004",
        "123456789012345.6",
        "0.0000000000000000000001",
        "0.00000000000000000000001",
      ]);
    default:
      return pick([
        "01",
        "1.",
        ".5",
        "-",
        "+1",
        "1e",
        "1e+",
        "--1",
        "0x10",
        "1.2.3",
        "NaN",
        "Infinity",
      ]);
  }
}

function valueText(rnd: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  switch (Math.floor(rnd() * 4)) {
    case 0:
    case 1:
      return numberText(rnd);
    case 2:
      return pick([
        '"AAPL"',
        '"2024-01-02T09:30:00.000Z"',
        '""',
        '"a b"',
        '"caf\u00e9"',
        '"\\u0041"',
        '"quote\\"d"',
        '"tab\there"',
        '"del\u007f"',
        '"\u{1f600}"',
        '"unterminated',
      ]);
    default:
      return pick([
        "true",
        "false",
        "null",
        "tru",
        "nul",
        "{}",
        "[]",
        '{"a":1}',
        "[1,2]",
        "undefined",
      ]);
  }
}

function payload(rnd: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const space = () => (rnd() < 0.8 ? "" : pick([" ", "\n", "\t", "\r", "  ", "\u000b", "\u00a0"]));
  const names = [...fields, "price", "x", "__proto__", "\\u0073ymbol", "Symbol", "constructor"];
  const members = Array.from({ length: Math.floor(rnd() * 6) }, () => {
    const name = rnd() < 0.85 ? pick(fields) : pick(names);
    return `${space()}"${name}"${space()}:${space()}${valueText(rnd)}${space()}`;
  });
  let text = `${space()}{${members.join(",")}${members.length ? "" : space()}}${space()}`;
  const mutation = rnd();
  if (mutation < 0.03) text = text.replace("}", ",}");
  else if (mutation < 0.06) text = text.slice(0, Math.floor(rnd() * text.length));
  else if (mutation < 0.08) text += pick(["x", "}", "{}", ","]);
  else if (mutation < 0.1) text = text.replace(":", "");
  else if (mutation < 0.12) text = pick(["[]", '"str"', "1", "null", ""]);
  return text;
}

Deno.test("a flat object read from bytes equals JSON.parse's, and anything else is left to it", () => {
  const rnd = seededRandom(20261125);
  let read = 0;
  let left = 0;
  for (let n = 0; n < 50_000; n++) {
    const text = payload(rnd);
    const result = readFlatObject(encoder.encode(text), fields);
    if (result === undefined) {
      left++;
      continue;
    }
    read++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      assert.fail(`read ${JSON.stringify(text)}, which JSON.parse refuses: ${error}`);
    }
    // deepStrictEqual compares numbers with Object.is: -0 is not 0.
    assert.deepStrictEqual(result, parsed, JSON.stringify(text));
  }
  // Both paths are exercised, or the property above proves nothing.
  assert.ok(read > 10_000 && left > 10_000, `read ${read}, left ${left}`);
});

Deno.test("the payloads this pipeline writes are read from bytes, to the same values", () => {
  const rnd = seededRandom(7);
  const read = (value: string, names: string[]) => {
    const result = readFlatObject(encoder.encode(value), names);
    assert.ok(result, `read ${value}`);
    assert.deepStrictEqual(result, JSON.parse(value));
  };
  for (let n = 0; n < 2_000; n++) {
    const price = Math.round(rnd() * 1e6) / 100;
    const tick = encodeTick({ symbol: "BRK.B", ts: 1.7e12 + n * 1234, price, size: n % 7 });
    read(tick.value, ["symbol", "ts", "price", "size"]);
    const bar: IndicatorBar = {
      symbol: "SP500",
      interval: "1d",
      start: Date.UTC(2008, 9, 1 + (n % 28)),
      open: 1000 + rnd(),
      high: 1100 + rnd(),
      low: 900 + rnd(),
      close: 1000 + rnd() * 50,
      volume: Math.floor(rnd() * 1e10),
      trades: n % 3 === 0 ? null : n,
      vwap: n % 3 === 0 ? null : 1000 * rnd(),
      ret: rnd() - 0.5,
      logRet: -rnd() * 1e-9,
      sma: rnd() * 1e3,
      ema: null,
      rsi: 100 * rnd(),
      volatility: rnd() * 1e-3,
      zscore: (rnd() - 0.5) * 1e21,
    };
    read(encodeBar(bar).value, Object.keys(bar));
    const daily = encodeSourceBar({ ...bar, ts: bar.start, interval: "1w" });
    read(daily.value, ["symbol", "ts", "open", "high", "low", "close", "volume", "interval"]);
  }
});
