/**
 * The worker runtime against a real Kafka: commits after success only, dead letters, config
 * errors, health and metrics endpoints, graceful shutdown.
 */
import assert from "node:assert/strict";
import {
  committedOffsets,
  createTopics,
  eventually,
  produce,
  readAll,
  requireServer,
  uniqueName,
} from "../support/servers.ts";
import { runToEnd, scriptArgs, spawnWorker, taskArgs } from "../support/workers.ts";

const echoArgs = scriptArgs("tests/support/echo_worker.ts");

async function echoSetup(count: number) {
  await requireServer("kafka");
  const inTopic = uniqueName("echo-in");
  const outTopic = uniqueName("echo-out");
  const dlqTopic = uniqueName("echo-dlq");
  const group = uniqueName("echo");
  await createTopics([inTopic, outTopic, dlqTopic]);
  await produce(
    inTopic,
    Array.from(
      { length: count },
      (_, i) => ({ key: `k${i % 3}`, value: JSON.stringify({ n: i }) }),
    ),
  );
  const env = {
    IN_TOPIC: inTopic,
    OUT_TOPIC: outTopic,
    DLQ_TOPIC: dlqTopic,
    CONSUMER_GROUP: group,
    HTTP_PORT: "0",
    KAFKA_BROKERS: "127.0.0.1:9092",
    // A SIGKILLed member is noticed after this long (the broker's minimum).
    SESSION_TIMEOUT_MS: "6000",
  };
  return { inTopic, outTopic, dlqTopic, group, env };
}

Deno.test("a worker commits offsets only after success: killed before the commit, the batch is redelivered", async () => {
  const t = await echoSetup(25);
  const hung = spawnWorker(echoArgs, [], { ...t.env, HANG_AFTER_OUTPUT: "true" });
  // The first batch is written to the output, then the handler never returns.
  await eventually(
    "the first batch in the output",
    async () => (await readAll(t.outTopic)).length >= 10,
  );
  hung.kill("SIGKILL");
  await hung.exited;
  const afterKill = await committedOffsets(t.group, t.inTopic);
  assert.equal(afterKill.get(0), -1n, "nothing may be committed for a batch that did not finish");

  await runToEnd(echoArgs, ["--once"], t.env);
  const out = (await readAll(t.outTopic)).map((r) => JSON.parse(r.value).n as number);
  const seen = new Set(out);
  assert.equal(seen.size, 25, "every input record reached the output");
  assert.ok(out.length > 25, "the uncommitted batch was delivered again (at-least-once)");
  assert.equal((await committedOffsets(t.group, t.inTopic)).get(0), 25n);
});

Deno.test("a poison record reaches the dead-letter topic with its headers while its neighbours are processed", async () => {
  const t = await echoSetup(0);
  await produce(t.inTopic, [
    { key: "a", value: JSON.stringify({ n: 1 }) },
    { key: "b", value: JSON.stringify({ poison: true }), headers: { "trace-id": "t-1" } },
    { key: "c", value: JSON.stringify({ n: 3 }) },
  ]);
  await runToEnd(echoArgs, ["--once"], t.env);
  const out = await readAll(t.outTopic);
  assert.deepEqual(out.map((r) => r.key), ["a", "c"]);
  const dlq = await readAll(t.dlqTopic);
  assert.equal(dlq.length, 1);
  const [dead] = dlq;
  assert.equal(dead.key, "b");
  assert.equal(dead.value, JSON.stringify({ poison: true }));
  assert.equal(dead.headers["dlq.reason"], "poison");
  assert.equal(dead.headers["dlq.message"], "poison record");
  assert.equal(dead.headers["dlq.topic"], t.inTopic);
  assert.equal(dead.headers["dlq.partition"], "0");
  assert.equal(dead.headers["dlq.offset"], "1");
  assert.equal(dead.headers["dlq.worker"], "echo");
  assert.equal(dead.headers["trace-id"], "t-1", "the original headers are kept");
  assert.equal((await committedOffsets(t.group, t.inTopic)).get(0), 3n);
});

Deno.test("config errors exit 2 with one line naming the option", async (t) => {
  const cases: [string, Record<string, string>, string[], RegExp][] = [
    ["a non-numeric batch size", { BATCH_SIZE: "ten" }, [], /BATCH_SIZE: expected an integer/],
    ["a flag out of range", {}, ["--batch-size", "0"], /--batch-size: must be at least 1/],
    ["an unknown flag", {}, ["--bogus", "1"], /unknown option --bogus/],
    ["a bad interval", { TICK_INTERVALS: "1m,7m" }, [], /TICK_INTERVALS: unknown interval "7m"/],
    ["a bad cron", {}, ["--schedule", "61 * * * *"], /SCHEDULE: Invalid value for minute: 61/],
    [
      "an unknown time zone",
      { SCHEDULE_TZ: "Mars/Base" },
      ["--schedule", "0 22 * * MON-FRI"],
      /SCHEDULE_TZ: unknown time zone "Mars\/Base"/,
    ],
    [
      "a topic name with a space",
      { BARS_TOPIC: "bad topic" },
      [],
      /BARS_TOPIC: "bad topic" is not a valid name/,
    ],
    [
      "a missing secret file",
      { KAFKA_SASL_PASSWORD_FILE: ".native/no-such-secret" },
      [],
      /KAFKA_SASL_PASSWORD_FILE: .native\/no-such-secret no such file/,
    ],
    [
      "a secret file outside the allowed paths",
      { KAFKA_SASL_PASSWORD_FILE: "/etc/shadow" },
      [],
      /KAFKA_SASL_PASSWORD_FILE: \/etc\/shadow is outside the paths this worker may read/,
    ],
  ];
  for (const [name, env, flags, expected] of cases) {
    await t.step(name, async () => {
      const w = await runToEnd(taskArgs("transform"), flags, env, 2, 30_000);
      assert.equal(w.lines.filter((l) => l.trim() !== "").length, 1, w.lines.join("\n"));
      assert.match(w.lines[0], expected);
      assert.match(w.lines[0], /^transform: configuration error: /);
    });
  }
  await t.step("ingest: a start time that is not a time", async () => {
    const w = await runToEnd(
      taskArgs("ingest"),
      ["--source", "synthetic"],
      { SYNTHETIC_START: "yesterday" },
      2,
      30_000,
    );
    assert.equal(w.lines.filter((l) => l.trim() !== "").length, 1, w.lines.join("\n"));
    assert.match(
      w.lines[0],
      /^ingest: configuration error: SYNTHETIC_START: expected an ISO-8601 UTC time/,
    );
  });
});

Deno.test("a secret's value never appears in a config error", async () => {
  const secretValue = "s3cr3t-Value-Xyz";
  const w = await runToEnd(
    taskArgs("transform"),
    [],
    { KAFKA_SASL_PASSWORD: secretValue, KAFKA_SASL_MECHANISM: "kerberos" },
    2,
    30_000,
  );
  assert.match(w.lines.join("\n"), /KAFKA_SASL_MECHANISM/);
  assert.ok(!w.lines.join("\n").includes(secretValue));
});

Deno.test("/metrics, /healthz and /readyz answer while a worker runs", async () => {
  const t = await echoSetup(30);
  const port = 19000 + Math.floor(Math.random() * 500);
  const w = spawnWorker(echoArgs, [], { ...t.env, HTTP_PORT: String(port) });
  try {
    const base = `http://127.0.0.1:${port}`;
    await eventually("readyz 200", async () => (await fetch(`${base}/readyz`)).status === 200);
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "alive" });
    await eventually(
      "30 records in the output",
      async () => (await readAll(t.outTopic)).length === 30,
    );
    const metrics = await eventually("records_in in /metrics", async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return /worker_records_in_total\{topic="[^"]+",worker="echo"\} 30/.test(text) ? text : "";
    });
    assert.match(metrics, /worker_records_out_total\{output="[^"]+",worker="echo"\} 30/);
    assert.match(metrics, /worker_batch_duration_seconds_count\{worker="echo"\} [1-9]/);
    assert.match(metrics, /worker_consumer_lag\{topic="[^"]+",partition="0",worker="echo"\} 0/);
    assert.match(metrics, /worker_ready\{worker="echo"\} 1/);
    assert.match(metrics, /worker_memory_rss_bytes\{worker="echo"\} [1-9]/);
    const missing = await fetch(`${base}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    w.kill("SIGTERM");
    assert.equal(await w.exited, 0);
  }
});

Deno.test("SIGTERM: readyz goes false first, the in-flight batch completes and commits, exit 0 within the timeout", async () => {
  const t = await echoSetup(10);
  const port = 19500 + Math.floor(Math.random() * 400);
  const w = spawnWorker(echoArgs, [], {
    ...t.env,
    HTTP_PORT: String(port),
    SLOW_MS: "3000",
    SHUTDOWN_TIMEOUT_MS: "10000",
  });
  const base = `http://127.0.0.1:${port}`;
  await eventually("a batch in flight", () => w.lines.some((l) => l.includes('"msg":"listening"')));
  await eventually("readyz 200", async () => (await fetch(`${base}/readyz`)).status === 200);
  // The single batch of 10 takes 3 s; stop in the middle of it.
  await new Promise((r) => setTimeout(r, 1500));
  const stopAt = Date.now();
  w.kill("SIGTERM");
  const ready = await eventually("readyz 503 after SIGTERM", async () => {
    const res = await fetch(`${base}/readyz`);
    await res.body?.cancel();
    return res.status === 503;
  }, 2000);
  assert.ok(ready);
  const code = await w.exited;
  const took = Date.now() - stopAt;
  assert.equal(code, 0);
  assert.ok(took < 10_000, `exited ${took} ms after SIGTERM, beyond the 10 s timeout`);
  assert.equal((await readAll(t.outTopic)).length, 10, "the in-flight batch was written");
  assert.equal((await committedOffsets(t.group, t.inTopic)).get(0), 10n, "and committed");
});

Deno.test("--schedule drains on each cron tick, and waits in between", async () => {
  const t = await echoSetup(5);
  const w = spawnWorker(echoArgs, ["--schedule", "* * * * *"], { ...t.env, LOG_LEVEL: "info" });
  try {
    await eventually(
      "the next run to be announced",
      () => w.lines.some((l) => l.includes('"msg":"next scheduled run"')),
    );
    const announced = JSON.parse(w.lines.find((l) => l.includes("next scheduled run"))!).at;
    assert.equal(new Date(announced).getUTCSeconds(), 0, "runs start on the minute");
    await eventually(
      "the first scheduled drain",
      () => w.lines.some((l) => l.includes('"msg":"scheduled run done"')),
      75_000,
    );
    assert.equal((await readAll(t.outTopic)).length, 5);
    assert.equal((await committedOffsets(t.group, t.inTopic)).get(0), 5n);
    assert.ok(
      w.lines.filter((l) => l.includes("next scheduled run")).length >= 2,
      "after a run it waits for the next tick",
    );
  } finally {
    w.kill("SIGTERM");
    assert.equal(await w.exited, 0);
  }
});
