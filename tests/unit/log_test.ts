import assert from "node:assert/strict";
import process from "node:process";
import {
  createLogger,
  logProcessWarnings,
  prettyLine,
  registerSecret,
} from "../../lib/runtime/log.ts";

function capture(format: "json" | "pretty" = "json", colour = false) {
  const lines: string[] = [];
  const log = createLogger("w", "debug", {}, { write: (l) => lines.push(l), format, colour });
  return { log, lines };
}

Deno.test("log: a secret holding quotes and backslashes is masked in the message and context", () => {
  const secret = 'pa"ss\\w0rd';
  registerSecret(secret);
  const { log, lines } = capture();
  log.error(`login with ${secret} failed`, { detail: { dsn: `postgres://u:${secret}@h/db` } });
  assert.ok(!lines[0].includes("ss\\\\w0rd"), lines[0]);
  assert.ok(!lines[0].includes('pa\\"ss'), lines[0]);
  const entry = JSON.parse(lines[0]);
  assert.equal(entry.msg, "login with *** failed");
  assert.equal(entry.detail.dsn, "postgres://u:***@h/db");
});

Deno.test("log: context cannot overwrite time, level, worker or msg", () => {
  const { log, lines } = capture();
  log.info("real message", { time: "fake", level: "error", msg: "forged", worker: "other", n: 1 });
  const entry = JSON.parse(lines[0]);
  assert.equal(entry.level, "info");
  assert.equal(entry.msg, "real message");
  assert.equal(entry.worker, "w");
  assert.match(entry.time, /^\d{4}-\d\d-\d\dT/);
  assert.equal(entry["context.msg"], "forged");
  assert.equal(entry.n, 1);
});

Deno.test("log: a circular context value is written, not thrown", () => {
  const { log, lines } = capture();
  const a: Record<string, unknown> = { name: "a" };
  a.self = a;
  const shared = { x: 1 };
  log.warn("cycle", { a, pair: [shared, shared], big: 7n, err: new Error("boom") });
  const entry = JSON.parse(lines[0]);
  assert.equal(entry.a.self, "[circular]");
  assert.deepEqual(entry.pair, [{ x: 1 }, { x: 1 }]);
  assert.equal(entry.big, "7");
  assert.equal(entry.err, "boom");
});

Deno.test("log: readable lines carry time, level, worker, message and fields; colour only when asked", () => {
  const plain = capture("pretty", false);
  plain.log.info("listening", {
    url: "http://127.0.0.1:9101",
    mode: "once",
    note: "two words",
    out: { "market.ticks": 3 },
  });
  assert.match(plain.lines[0], /^\d\d:\d\d:\d\d\.\d{3} /);
  assert.equal(
    plain.lines[0].slice(13),
    'INFO  w  listening  url=http://127.0.0.1:9101 mode=once note="two words" out={"market.ticks":3}',
  );
  assert.ok(!plain.lines[0].includes("\x1b["));
  const coloured = capture("pretty", true);
  coloured.log.error("down");
  assert.ok(coloured.lines[0].includes("\x1b[31mERROR"));
  assert.equal(
    prettyLine({ time: "2024-01-01T10:00:00.000Z", level: "warn", worker: "x", msg: "m" }, false),
    "10:00:00.000 WARN  x  m",
  );
});

Deno.test("log: auto format is JSON when the destination is not a terminal, readable when it is", () => {
  const lines: string[] = [];
  createLogger("w", "info", {}, { write: (l) => lines.push(l), terminal: false }).info("a");
  createLogger("w", "info", {}, { write: (l) => lines.push(l), terminal: true, colour: false })
    .info("b");
  assert.equal(JSON.parse(lines[0]).msg, "a");
  assert.ok(lines[1].endsWith(" INFO  w  b"), lines[1]);
});

Deno.test("log: Node process warnings from dependencies become log lines", async () => {
  const { log, lines } = capture();
  logProcessWarnings(log);
  process.emitWarning("-5 is a negative number", "TimeoutNegativeWarning");
  process.emitWarning("something odd", "OddWarning");
  await new Promise((r) => setTimeout(r, 10));
  const entries = lines.map((l) => JSON.parse(l));
  assert.deepEqual(entries.map((e) => [e.level, e.warning]), [
    ["debug", "TimeoutNegativeWarning"],
    ["warn", "OddWarning"],
  ]);
});
