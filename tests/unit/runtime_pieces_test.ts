import assert from "node:assert/strict";
import { parseCommandLine } from "../../lib/cli.ts";
import { bool, ConfigError, helpText, int, resolveOptions, secret, str } from "../../lib/config.ts";
import { parseEnvFile } from "../../lib/env_file.ts";
import { produceRequests } from "../../lib/kafka.ts";
import { createLogger, registerSecret } from "../../lib/log.ts";
import { nextRun, parseCron } from "../../lib/schedule.ts";

const specs = {
  batchSize: int("BATCH_SIZE", "records per batch", 500, { min: 1 }),
  once: bool("ONCE", "drain and exit"),
  brokers: str("KAFKA_BROKERS", "brokers"),
  password: secret("DB_PASSWORD", "password"),
};

Deno.test("flags win over env, env over defaults; switches need no value", () => {
  const { flags } = parseCommandLine(["--batch-size", "7", "--once"], ["once"]);
  const v = resolveOptions(specs, { env: { BATCH_SIZE: "9", KAFKA_BROKERS: "b:1" }, flags });
  assert.deepEqual(v, { batchSize: 7, once: true, brokers: "b:1", password: "" });
  const fromEnv = resolveOptions(specs, {
    env: { BATCH_SIZE: "9", KAFKA_BROKERS: "b:1" },
    flags: {},
  });
  assert.equal(fromEnv.batchSize, 9);
  assert.equal(fromEnv.once, false);
});

Deno.test("a secret comes from NAME or from the file NAME_FILE names", () => {
  const files: Record<string, string> = { "/run/secrets/db": "hunter22\n" };
  const v = resolveOptions(specs, {
    env: { KAFKA_BROKERS: "b", DB_PASSWORD_FILE: "/run/secrets/db" },
    flags: {},
    readFile: (p) => files[p],
  });
  assert.equal(v.password, "hunter22");
  const direct = resolveOptions(specs, {
    env: { KAFKA_BROKERS: "b", DB_PASSWORD: "x1" },
    flags: {},
  });
  assert.equal(direct.password, "x1");
});

Deno.test("a bad or missing option is a ConfigError naming it", () => {
  const err = (env: Record<string, string>, flags: Record<string, string> = {}) => {
    try {
      resolveOptions(specs, { env, flags });
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.message;
    }
    assert.fail("no error");
  };
  assert.match(err({}), /^KAFKA_BROKERS is required/);
  assert.match(err({ KAFKA_BROKERS: "b", BATCH_SIZE: "0" }), /^BATCH_SIZE: must be at least 1/);
  assert.match(err({ KAFKA_BROKERS: "b", ONCE: "maybe" }), /^ONCE: expected true or false/);
  assert.match(
    err({ KAFKA_BROKERS: "b" }, { "batch-size": "x" }),
    /^--batch-size: expected an integer/,
  );
  assert.match(err({ KAFKA_BROKERS: "b" }, { nope: "1" }), /unknown option --nope/);
});

Deno.test("--help lists every option with its env name and default, never a secret's value", () => {
  const text = helpText("w: test", specs, []);
  assert.match(text, /--batch-size\s+BATCH_SIZE\s+records per batch \[default: 500\]/);
  assert.match(text, /--kafka-brokers\s+KAFKA_BROKERS\s+brokers \(required\)/);
  assert.match(text, /--db-password\s+DB_PASSWORD\s+password \(or DB_PASSWORD_FILE\)/);
});

Deno.test("log lines are JSON with worker, level and context, and registered secrets are masked", () => {
  const lines: string[] = [];
  registerSecret("p4ssw0rd-value");
  const log = createLogger("sink", "info", {}, { write: (l) => lines.push(l), format: "json" });
  log.debug("hidden");
  log.warn("connect failed: password p4ssw0rd-value rejected", {
    topic: "t",
    partition: 1,
    offset: 5n,
  });
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]);
  assert.equal(entry.worker, "sink");
  assert.equal(entry.level, "warn");
  assert.equal(entry.msg, "connect failed: password *** rejected");
  assert.deepEqual([entry.topic, entry.partition, entry.offset], ["t", 1, "5"]);
});

Deno.test("cron: steps, ranges, lists and the next run in UTC", () => {
  const at = (s: string) => new Date(s);
  assert.equal(
    nextRun(parseCron("*/5 * * * *"), at("2024-01-01T00:02:30Z")).toISOString(),
    "2024-01-01T00:05:00.000Z",
  );
  assert.equal(
    nextRun(parseCron("0 22 * * 1-5"), at("2024-01-05T22:00:00Z")).toISOString(),
    "2024-01-08T22:00:00.000Z",
  );
  assert.equal(
    nextRun(parseCron("30 9 1 * *"), at("2024-01-31T10:00:00Z")).toISOString(),
    "2024-02-01T09:30:00.000Z",
  );
  assert.equal(
    nextRun(parseCron("0 0 * * 7"), at("2024-01-01T00:00:00Z")).toISOString(),
    "2024-01-07T00:00:00.000Z",
  );
  assert.equal(
    nextRun(parseCron("0 12 29 2 *"), at("2023-03-01T00:00:00Z")).toISOString(),
    "2024-02-29T12:00:00.000Z",
  );
  assert.throws(() => parseCron("* * *"), /expected 5 fields/);
  assert.throws(() => parseCron("61 * * * *"), /minute field "61" is out of range/);
  assert.throws(() => nextRun(parseCron("0 0 30 2 *"), at("2024-01-01T00:00:00Z")), /never fires/);
});

Deno.test("the shared .env format: comments, quotes, and a bad line named", () => {
  assert.deepEqual(parseEnvFile("# c\nA=1\nB=\"two words\"\n\nC='x'\n"), {
    A: "1",
    B: "two words",
    C: "x",
  });
  assert.throws(() => parseEnvFile("A=1\nnot a line\n"), /line 2: expected KEY=value/);
});

Deno.test("produce requests stay near 512 KiB, keep order, and never leave a record out", () => {
  const records = Array.from({ length: 100 }, (_, i) => ({ value: "x".repeat(20_000 + i) }));
  const requests = produceRequests(records);
  assert.deepEqual(requests.flat(), records);
  assert.ok(requests.length > 1);
  for (const r of requests) {
    assert.ok(r.reduce((n, x) => n + x.value.length + 64, 0) <= 512 * 1024);
  }
  const huge = { value: new Uint8Array(700_000) };
  assert.deepEqual(produceRequests([huge, { value: null }]), [[huge], [{ value: null }]]);
});
