import assert from "node:assert/strict";
import { parseCommandLine } from "../../lib/runtime/cli.ts";
import {
  bool,
  ConfigError,
  helpText,
  int,
  resolveOptions,
  secret,
  str,
} from "../../lib/runtime/config.ts";
import { parseEnvFile } from "../support/env_file.ts";
import { produceRequests, utf8Length } from "../../lib/connectors/kafka/mod.ts";
import { valueBytes } from "../../lib/connectors/kafka/platformatic_producer.ts";
import { createLogger, registerSecret } from "../../lib/runtime/log.ts";

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

Deno.test("the shared .env format: comments, quotes, and a bad line named", () => {
  assert.deepEqual(parseEnvFile("# c\nA=1\nB=\"two words\"\n\nC='x'\n"), {
    A: "1",
    B: "two words",
    C: "x",
  });
  assert.throws(() => parseEnvFile("A=1\nnot a line\n"), /line 2: expected KEY=value/);
  assert.throws(() => parseEnvFile('A="open\n'), /line 1: expected KEY=value/);
});

Deno.test(".env as Compose reads it: inline comments, export, and # inside quotes", () => {
  assert.deepEqual(
    parseEnvFile(
      [
        "KAFKA_PORT=9092 # broker",
        "export HEAP=512m",
        "URL=http://x/#anchor",
        'PASS="a # not a comment" # but this is',
        "RAW='x\\ny' # literal",
        'ESC="line\\nnext \\"q\\""',
        "EMPTY= # nothing",
      ].join("\n"),
    ),
    {
      KAFKA_PORT: "9092",
      HEAP: "512m",
      URL: "http://x/#anchor",
      PASS: "a # not a comment",
      RAW: "x\\ny",
      ESC: 'line\nnext "q"',
      EMPTY: "",
    },
  );
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

Deno.test("produce requests are split by UTF-8 bytes, not characters", () => {
  // 100k characters of "€" are 300 KB: two of them must not share a 512 KiB request.
  const euro = Array.from({ length: 6 }, () => ({ key: "K€Y", value: "€".repeat(100_000) }));
  const requests = produceRequests(euro);
  assert.deepEqual(requests.flat(), euro);
  const encoder = new TextEncoder();
  for (const r of requests) {
    assert.equal(r.length, 1);
    assert.ok(r.reduce((n, x) => n + encoder.encode(x.value).length, 0) <= 512 * 1024);
  }
  assert.equal(utf8Length("a€😀é"), encoder.encode("a€😀é").length);
});

Deno.test("producer values: text encoded at once comes out byte for byte as encoded alone", () => {
  const enc = new TextEncoder();
  const cases: (string | Uint8Array)[][] = [
    ['{"symbol":"AAPL","price":1}', "", '{"symbol":"MSFT"}'],
    ['{"a":"é"}', "plain", "😀 pair", "\ud800 lone"],
    [new Uint8Array([0, 255, 7]), '{"x":1}', new Uint8Array(0), "ß"],
  ];
  for (const values of cases) {
    const bytes = valueBytes(values);
    assert.equal(bytes.length, values.length);
    values.forEach((v, i) => {
      const expected = typeof v === "string" ? enc.encode(v) : v;
      assert.deepEqual([...bytes[i]], [...expected], `value ${i} of ${JSON.stringify(values)}`);
    });
  }
});
