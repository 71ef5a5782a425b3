/**
 * The runtime driven through an in-memory stream trigger (no broker): commit order, dead
 * letters, retries, shutdown, drain-to-end, keyed state and lineage. The same behaviour against
 * real Kafka is in tests/integration/runtime_test.ts and keyed_state_test.ts.
 */
import assert from "node:assert/strict";
import { defineWorker, keyedState, RecordError, runWorker, str } from "../../lib/runtime/mod.ts";
import { deadLetterHeaders } from "../../lib/runtime/dead_letters.ts";
import { lineageHeader } from "../../lib/runtime/lineage.ts";
import { memoryOutput, memoryStream } from "../../lib/runtime/memory_stream.ts";
import type { OutgoingRecord } from "../../lib/runtime/stream.ts";

const quiet = ["--http-port", "0", "--log-level", "error", "--retry-base-ms", "1"];
const text = (v: string | Uint8Array) => typeof v === "string" ? v : new TextDecoder().decode(v);

/** A worker copying each record's value to `out`; `handle` may add behaviour before the send. */
function echoWorker(
  stream: ReturnType<typeof memoryStream>,
  options: {
    batchSize?: number;
    before?: (values: string[]) => Promise<void> | void;
    fail?: (records: OutgoingRecord[]) => void;
  } = {},
) {
  return defineWorker({
    name: "echo",
    description: "copies records (runtime unit tests)",
    trigger: stream.trigger({ group: "echo", batchSize: options.batchSize ?? 5 }),
    outputs: { out: memoryOutput(stream.events, options.fail) },
    options: {},
    httpPort: 0,
    decode(record) {
      const value = new TextDecoder().decode(record.value!);
      if (value === "poison") throw new RecordError("poison record", undefined, "poison");
      return value;
    },
    async handle(batch, { outputs }) {
      await options.before?.(batch.map((m) => m.value));
      await outputs.out.send(batch.map((m) => ({ key: m.record.key ?? "", value: m.value })));
    },
  });
}

Deno.test("runtime: a slice is committed only after its outputs acknowledged", async () => {
  const stream = memoryStream({ partitions: 1 });
  for (let i = 0; i < 12; i++) stream.append(`k${i}`, `v${i}`, { partition: 0 });
  const code = await runWorker(echoWorker(stream), ["--once", ...quiet], { env: {} });
  assert.equal(code, 0);
  const outs = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => `out k${from + i}`);
  assert.deepEqual(stream.events, [
    ...outs(0, 5),
    "commit 0@5",
    ...outs(5, 10),
    "commit 0@10",
    ...outs(10, 12),
    "commit 0@12",
  ]);
});

Deno.test("runtime: a bad record is dead-lettered before the commit and the slice goes on", async () => {
  const stream = memoryStream({ partitions: 1 });
  stream.append("a", "v1", { partition: 0 });
  stream.append("b", "poison", { partition: 0, headers: { trace: "t-1" } });
  stream.append("c", "v3", { partition: 0 });
  const code = await runWorker(echoWorker(stream), ["--once", ...quiet], { env: {} });
  assert.equal(code, 0);
  assert.deepEqual(stream.events, ["dead-letter b", "out a", "out c", "commit 0@3"]);
  const [letter] = stream.deadLetters;
  assert.equal(text(letter.value), "poison");
  assert.equal(letter.headers?.[deadLetterHeaders.reason], "poison");
  assert.equal(letter.headers?.[deadLetterHeaders.offset], "1");
  assert.equal(letter.headers?.[deadLetterHeaders.worker], "echo");
  assert.equal(letter.headers?.trace, "t-1", "the record's own headers travel with it");
});

Deno.test("runtime: a failing slice is retried without a commit, then committed once", async () => {
  const stream = memoryStream({ partitions: 1 });
  for (let i = 0; i < 3; i++) stream.append(`k${i}`, `v${i}`, { partition: 0 });
  let failures = 2;
  const worker = echoWorker(stream, {
    fail: () => {
      if (failures-- > 0) throw new Error("store unavailable");
    },
  });
  const code = await runWorker(worker, ["--once", ...quiet], { env: {} });
  assert.equal(code, 0);
  assert.deepEqual(stream.events, ["out k0", "out k1", "out k2", "commit 0@3"]);
});

Deno.test("runtime: retries exhausted stop the worker (exit 1) with the slice uncommitted", async () => {
  const stream = memoryStream({ partitions: 2 });
  stream.append("a", "v", { partition: 0 });
  stream.append("b", "v", { partition: 1 });
  const worker = echoWorker(stream, {
    fail: (records) => {
      if (records.some((r) => r.key === "b")) throw new Error("store unavailable");
    },
  });
  const args = ["--once", ...quiet, "--max-retry-attempts", "3"];
  const code = await runWorker(worker, args, { env: {} });
  assert.equal(code, 1);
  assert.equal(stream.committed.get(1), undefined, "nothing of the failed partition committed");
  assert.ok(!stream.events.includes("out b"));
});

Deno.test("runtime: a stop lets the slice in flight finish and commit, and starts no other", async () => {
  const stream = memoryStream({ partitions: 1 });
  for (let i = 0; i < 20; i++) stream.append(`k${i}`, `v${i}`, { partition: 0 });
  const stop = new AbortController();
  const worker = echoWorker(stream, {
    before: async () => {
      stop.abort(); // a SIGTERM while the first slice is being handled
      await new Promise((resolve) => setTimeout(resolve, 20));
    },
  });
  const code = await runWorker(worker, quiet, { env: {}, signal: stop.signal });
  assert.equal(code, 0);
  assert.deepEqual(stream.events.filter((e) => e.startsWith("commit")), ["commit 0@5"]);
  assert.equal(stream.events.filter((e) => e.startsWith("out")).length, 5);
});

Deno.test("runtime: --once drains to the end offsets of its start, not what arrives later", async () => {
  const stream = memoryStream({ partitions: 2 });
  for (let i = 0; i < 6; i++) stream.append(`k${i}`, `v${i}`, { partition: i % 2 });
  let appended = false;
  const worker = echoWorker(stream, {
    batchSize: 2,
    before: () => {
      if (appended) return;
      appended = true;
      for (let i = 0; i < 10; i++) stream.append(`late${i}`, "v", { partition: i % 2 });
    },
  });
  const code = await runWorker(worker, ["--once", ...quiet], { env: {} });
  assert.equal(code, 0);
  // Partitions are consumed slice by slice, so a drain may finish the slice it has in hand past
  // the end offset of its start; it starts no slice of what arrived later once at the end.
  for (const p of [0, 1]) {
    const committed = stream.committed.get(p)!;
    assert.ok(committed >= 3n && committed <= 4n, `partition ${p} committed to ${committed}`);
  }
});

Deno.test("runtime: a consumer that cannot start is started again after a backoff", async () => {
  const stream = memoryStream({ partitions: 1 });
  stream.append("a", "v", { partition: 0 });
  stream.consumeFailures = 2;
  const code = await runWorker(echoWorker(stream), ["--once", ...quiet], { env: {} });
  assert.equal(code, 0);
  assert.deepEqual(stream.events, ["out a", "commit 0@1"]);
});

Deno.test("runtime: keyed state is written after the outputs and before the commit, and a redelivered slice is not absorbed twice", async () => {
  const stream = memoryStream({ partitions: 1 });
  for (let i = 0; i < 7; i++) stream.append(i % 2 ? "odd" : "even", `v${i}`, { partition: 0 });
  const counter = defineWorker({
    name: "counter",
    description: "counts records per key",
    trigger: stream.trigger({ group: "counter", batchSize: 4 }),
    outputs: { out: memoryOutput(stream.events) },
    state: keyedState<number>(str("COUNT_STATE", "changelog", "counts")),
    options: {},
    httpPort: 0,
    decode: (record) => record.key!,
    async handle(batch, { outputs, state }) {
      const out: OutgoingRecord[] = [];
      for (const { value: key } of batch) {
        const count = (state.get(key) ?? 0) + 1;
        state.set(key, count);
        out.push({ key, value: `${key}:${count}` });
      }
      await outputs.out.send(out);
    },
  });
  assert.equal(await runWorker(counter, ["--once", ...quiet], { env: {} }), 0);
  assert.deepEqual(stream.events.filter((e) => !e.startsWith("out")), [
    "changelog 0 3",
    "commit 0@4",
    "changelog 0 3",
    "commit 0@7",
  ]);
  const firstIndexOfChangelog = stream.events.indexOf("changelog 0 3");
  assert.ok(stream.events.slice(0, firstIndexOfChangelog).every((e) => e.startsWith("out")));

  // The commit was lost (a crash after the changelog write): the records come again, and the
  // restored state's stamp drops them rather than counting them twice.
  stream.committed.clear();
  stream.events.length = 0;
  assert.equal(await runWorker(counter, ["--once", ...quiet], { env: {} }), 0);
  assert.deepEqual(stream.events, ["commit 0@4", "commit 0@7"]);
});

Deno.test("runtime: outputs' records carry the oldest ingest time of their key (lineage)", async () => {
  const stream = memoryStream({ partitions: 1 });
  stream.append("a", "v", { partition: 0, timestamp: 5_000 });
  stream.append("a", "v", { partition: 0, timestamp: 4_000 });
  stream.append("b", "v", { partition: 0, headers: { [lineageHeader]: "1000" }, timestamp: 9_000 });
  let sent: OutgoingRecord[] = [];
  const worker = defineWorker({
    name: "lineage",
    description: "one record out per key",
    trigger: stream.trigger({ group: "lineage", batchSize: 10 }),
    outputs: { out: memoryOutput(stream.events) },
    options: {},
    httpPort: 0,
    decode: (record) => record.key!,
    async handle(batch, { outputs }) {
      const keys = [...new Set(batch.map((m) => m.value))];
      await outputs.out.send([...keys.map((key) => ({ key, value: key })), {
        key: "z",
        value: "",
      }]);
      sent = outputs.out.sent;
    },
  });
  assert.equal(await runWorker(worker, ["--once", ...quiet], { env: {} }), 0);
  const at = Object.fromEntries(sent.map((r) => [r.key, r.headers?.[lineageHeader]]));
  // a: the older of its two timestamps; b: the time stamped upstream; z: no input of its own,
  // so the slice's oldest.
  assert.deepEqual(at, { a: "4000", b: "1000", z: "1000" });
});
