import assert from "node:assert/strict";
import { readAlphaVantageReply } from "../../lib/market/alphavantage_format.ts";
import { parseCsv, parseDate } from "../../lib/market/csv.ts";
import { isoTime, parseIsoTime } from "../../lib/market/time.ts";
import { syntheticTicks } from "../../lib/market/synthetic.ts";

Deno.test("the Yahoo-style OHLCV CSV is read, bad rows reported with their line numbers", () => {
  const csv = [
    "date,open,high,low,close,adjclose,volume",
    "2000-01-03,1469.25,1478,1438.359985,1455.219971,1455.219971,931800000",
    "2000-02-31,1,1,1,1,1,1",
    "2000-01-04,abc,1,1,1,1,1",
    "2000-01-05,1,2",
    "",
  ].join("\n");
  const r = parseCsv(csv, "SP500");
  assert.equal(r.format, "ohlcv");
  assert.deepEqual(r.bars, [{
    symbol: "SP500",
    ts: Date.UTC(2000, 0, 3),
    open: 1469.25,
    high: 1478,
    low: 1438.359985,
    close: 1455.219971,
    volume: 931800000,
  }]);
  assert.deepEqual(r.errors.map((e) => e.line), [3, 4, 5]);
  assert.match(r.errors[0].message, /not a date/);
  assert.match(r.errors[1].message, /open "abc" is not a number/);
  assert.match(r.errors[2].message, /expected 7 fields, got 3/);
});

Deno.test("the long format (symbol,date,price) becomes one-price bars", () => {
  const r = parseCsv("symbol,date,price\nMSFT,Jan 1 2000,39.81\nIBM,Feb 1 2000,100.5\n", "ignored");
  assert.equal(r.format, "long");
  assert.deepEqual(r.bars[0], {
    symbol: "MSFT",
    ts: Date.UTC(2000, 0, 1),
    open: 39.81,
    high: 39.81,
    low: 39.81,
    close: 39.81,
    volume: 0,
  });
  assert.equal(r.bars[1].symbol, "IBM");
  assert.throws(() => parseCsv("a,b\n1,2", "X"), /unrecognised CSV header/);
  assert.ok(Number.isNaN(parseDate("Feb 30 2000")));
});

Deno.test("CSV: quoted fields with commas and newlines, a quoted header, line numbers kept", () => {
  const csv = [
    '"symbol","date","price"',
    '"BRK,A",2000-01-03,"1,5"', // a comma inside quotes: the symbol is one field; "1,5" no number
    '"BRK,A",2000-01-04,12.5',
    '"MULTI',
    'LINE",2000-01-05,7', // a quoted newline: one record ending on line 5
    "IBM,2000-01-06,0x10", // hexadecimal is not a price
    "IBM,2000-01-07,Infinity",
    "IBM,2000-02-31T00:00:00Z,5", // an impossible date with a time
    "IBM,2000-01-10T14:30:00Z,6",
    "",
  ].join("\n");
  const r = parseCsv(csv, "ignored");
  assert.equal(r.format, "long");
  assert.deepEqual(
    r.bars.map((b) => [b.symbol, new Date(b.ts).toISOString(), b.close]),
    [
      ["BRK,A", "2000-01-04T00:00:00.000Z", 12.5],
      ["MULTI\nLINE", "2000-01-05T00:00:00.000Z", 7],
      ["IBM", "2000-01-10T14:30:00.000Z", 6],
    ],
  );
  assert.deepEqual(r.errors.map((e) => e.line), [2, 6, 7, 8]);
  assert.match(r.errors[0].message, /price "1,5" is not a number/);
  assert.match(r.errors[1].message, /price "0x10" is not a number/);
  assert.match(r.errors[3].message, /date "2000-02-31T00:00:00Z" is not a date/);
});

Deno.test("CSV: a broken quote is an error line; the rows before it are kept", () => {
  const r = parseCsv('symbol,date,price\nIBM,2000-01-03,1\nIBM,"2000-01-04,2\n', "x");
  assert.equal(r.bars.length, 1);
  assert.equal(r.errors.length, 1);
  assert.ok(r.errors[0].line >= 3, JSON.stringify(r.errors));
});

Deno.test("dates: impossible days are rejected in every form", () => {
  for (
    const bad of ["2000-02-31", "2001-02-29", "2000-02-30T10:00:00Z", "2000-13-01", "Feb 30 2000"]
  ) {
    assert.ok(Number.isNaN(parseDate(bad)), bad);
  }
  assert.equal(parseDate("2000-02-29"), Date.UTC(2000, 1, 29));
  assert.equal(parseDate("2000-02-29T23:59:59.5Z"), Date.UTC(2000, 1, 29, 23, 59, 59, 500));
});

Deno.test("synthetic ticks: the same seed gives the same stream, another seed another", () => {
  const take = (seed: number) => {
    const g = syntheticTicks({ seed, symbols: 4, start: Date.UTC(2024, 0, 2), stepMs: 100 });
    return Array.from({ length: 200 }, () => g.next().value!);
  };
  assert.deepEqual(take(1), take(1));
  assert.notDeepEqual(take(1), take(2));
  const ticks = take(3);
  assert.deepEqual(ticks.slice(0, 5).map((t) => t.symbol), [
    "SYN000",
    "SYN001",
    "SYN002",
    "SYN003",
    "SYN000",
  ]);
  assert.ok(ticks.every((t) => t.price > 0 && t.size >= 1 && t.size <= 1000));
  assert.equal(ticks[10].ts - ticks[9].ts, 100);
});

Deno.test("Alpha Vantage replies: bars oldest first, throttle notes and errors told apart", () => {
  const reply = readAlphaVantageReply({
    "Meta Data": {},
    "Time Series (Daily)": {
      "2024-01-03": {
        "1. open": "2",
        "2. high": "3",
        "3. low": "1",
        "4. close": "2.5",
        "5. volume": "10",
      },
      "2024-01-02": {
        "1. open": "1",
        "2. high": "2",
        "3. low": "1",
        "4. close": "2",
        "5. volume": "5",
      },
    },
  }, "IBM");
  assert.equal(reply.kind, "bars");
  if (reply.kind === "bars") {
    assert.deepEqual(reply.bars.map((b) => b.ts), [Date.UTC(2024, 0, 2), Date.UTC(2024, 0, 3)]);
    assert.equal(reply.bars[1].close, 2.5);
  }
  assert.equal(
    readAlphaVantageReply({ Note: "Thank you for using Alpha Vantage! ..." }, "IBM").kind,
    "throttled",
  );
  assert.equal(readAlphaVantageReply({ Information: "rate limit" }, "IBM").kind, "throttled");
  assert.equal(readAlphaVantageReply({ "Error Message": "Invalid API call" }, "IBM").kind, "error");
  assert.equal(readAlphaVantageReply("nope", "IBM").kind, "error");
});

Deno.test("dates: the wire form reads exactly as Date.parse does, impossible ones as NaN", () => {
  for (
    const t of [
      "2024-01-02T14:30:00.000Z",
      "2000-02-29T23:59:59.999Z",
      "1999-12-31T00:00:00.001Z",
    ]
  ) assert.equal(parseIsoTime(t), Date.parse(t), t);
  for (
    const t of [
      "2001-02-29T00:00:00.000Z",
      "2024-04-31T00:00:00.000Z",
      "2024-01-02T24:00:00.000Z",
      "2024-01-02T14:60:00.000Z",
      "2024-01-02T14:30:00.00xZ",
      "2024-01-02 14:30:00.000Z",
    ]
  ) assert.ok(Number.isNaN(parseIsoTime(t)), t);
});

Deno.test("isoTime writes what toISOString writes, at any instant, in any order", () => {
  const check = (ms: number) => assert.equal(isoTime(ms), new Date(ms).toISOString(), `${ms}`);
  const edges = [
    0,
    -1,
    Date.UTC(1900, 1, 28, 23, 59, 59, 999),
    Date.UTC(1900, 2, 1),
    Date.UTC(2000, 1, 29, 12),
    Date.UTC(2100, 1, 28, 23, 59, 59, 999),
    Date.UTC(2100, 2, 1),
    Date.UTC(2199, 11, 31, 23, 59, 59, 999),
    Date.UTC(-1, 0, 1),
    Date.UTC(10_000, 0, 1, 0, 0, 0, 1),
    8.64e15,
    -8.64e15,
  ];
  edges.forEach(check);
  // Random instants, and runs within one day (the day part is reused): compared every time.
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 20_000; i++) {
    const ms = Math.floor((next() - 0.5) * 2 * 8.64e15);
    check(ms);
    for (let k = 1; k <= 3; k++) check(ms + Math.floor(next() * 86_400_000));
  }
  // What toISOString refuses, isoTime refuses.
  assert.throws(() => isoTime(NaN), RangeError);
  assert.equal(isoTime(1.5), new Date(1.5).toISOString());
});
