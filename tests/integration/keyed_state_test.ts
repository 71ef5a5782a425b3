/**
 * Keyed state kept by the runtime, against the real broker, with a worker that counts records
 * per key (tests/support/counter_worker.ts): with exact state a key's counts run 1 … n — no gap
 * (state lost or moved back) and, once deduplicated by value, no count twice with different
 * meanings — whatever crash or partition move came in between.
 */
import assert from "node:assert/strict";
import {
  committedOffsets,
  createTopics,
  eventually,
  kafka,
  produce,
  readAll,
  requireServer,
  uniqueName,
} from "../support/servers.ts";
import { readToEnd } from "../../lib/connectors/kafka/reader.ts";
import { runToEnd, scriptArgs, spawnWorker, type WorkerProcess } from "../support/workers.ts";

const counterArgs = scriptArgs("tests/support/counter_worker.ts");
const KEYS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH"];

async function setup(partitions: number, create = true) {
  await requireServer("kafka");
  const id = uniqueName("state");
  const env = {
    IN_TOPIC: `${id}.in`,
    OUT_TOPIC: `${id}.out`,
    COUNTER_STATE_TOPIC: `${id}.changelog`,
    DLQ_TOPIC: `${id}.dlq`,
    CONSUMER_GROUP: `${id}-counter`,
    TOPIC_PARTITIONS: String(partitions),
    SESSION_TIMEOUT_MS: "6000",
    HTTP_PORT: "0",
    LOG_LEVEL: "info",
  };
  if (create) await createTopics([env.IN_TOPIC, env.OUT_TOPIC], partitions);
  return env;
}

/** `perKey` records for every key, in rounds so each slice holds several keys. */
async function feed(topic: string, perKey: number) {
  const records = [];
  for (let i = 0; i < perKey; i++) for (const key of KEYS) records.push({ key, value: `${i}` });
  await produce(topic, records);
}

/**
 * Waits until the group committed every record fed so far (`perKey` a key); if it never does,
 * the failure carries the offsets reached and the last lines of each replica.
 */
async function allCommittedIn(
  group: string,
  topic: string,
  perKey: number,
  replicas: Record<string, WorkerProcess | undefined> = {},
) {
  const total = BigInt(perKey * KEYS.length);
  let committed = new Map<number, bigint>();
  try {
    await eventually(`${total} records committed`, async () => {
      committed = await committedOffsets(group, topic);
      return [...committed.values()].reduce((s, o) => s + (o > 0n ? o : 0n), 0n) === total;
    }, 90_000);
  } catch (error) {
    const tails = Object.entries(replicas).map(([name, w]) =>
      `replica ${name}:\n${w?.lines.slice(-25).join("\n") ?? "(not started)"}`
    );
    throw new Error(
      `${(error as Error).message}; committed ${JSON.stringify(Object.fromEntries(committed))}\n` +
        tails.join("\n"),
    );
  }
}

/** Per key, the counts written, deduplicated; and the check that they run 1 … expected. */
async function countsOf(topic: string, expected: number) {
  const byKey = new Map<string, Set<number>>();
  for (const r of await readAll(topic)) {
    const [key, n] = r.value.split(":");
    (byKey.get(key) ?? byKey.set(key, new Set()).get(key)!).add(Number(n));
  }
  for (const key of KEYS) {
    const seen = [...(byKey.get(key) ?? [])].sort((a, b) => a - b);
    assert.deepEqual(seen, Array.from({ length: expected }, (_, i) => i + 1), `counts of ${key}`);
  }
}

Deno.test("keyed state: a changelog partitioned like the input, one record per changed key, stamped", async () => {
  const env = await setup(3);
  await feed(env.IN_TOPIC, 10);
  await runToEnd(counterArgs, ["--once"], env);
  await countsOf(env.OUT_TOPIC, 10);
  const changelog = await readAll(env.COUNTER_STATE_TOPIC);
  const admin = kafka.admin();
  await admin.connect();
  const meta = await admin.fetchTopicMetadata({ topics: [env.COUNTER_STATE_TOPIC] });
  const configs = await admin.describeConfigs({
    resources: [{ type: 2, name: env.COUNTER_STATE_TOPIC, configNames: ["cleanup.policy"] }],
    includeSynonyms: false,
  });
  await admin.disconnect();
  assert.equal(meta.topics[0].partitions.length, 3, "as many partitions as the input");
  assert.equal(configs.resources[0].configEntries[0].configValue, "compact");
  const input = await readAll(env.IN_TOPIC);
  for (const key of KEYS) {
    const inputPartition = input.find((r) => r.key === key)!.partition;
    const entries = changelog.filter((r) => r.key === key);
    assert.ok(entries.length > 0, `${key} has state`);
    assert.ok(entries.every((r) => r.partition === inputPartition), `${key} follows its input`);
    assert.equal(entries.at(-1)!.value, "10");
    assert.ok(entries.every((r) => /^\d+$/.test(r.headers["state.next-offset"])));
  }
});

Deno.test("keyed state: started before anything wrote its input, a worker creates the input, then a changelog like it", async () => {
  // The path of a transform started before ingest: the changelog takes the input's partition
  // count, so the input must exist before the changelog is made.
  const env = await setup(4, false);
  const w = await runToEnd(counterArgs, ["--once"], env);
  const retried = w.lines.filter((l) => l.includes("preparing the state changelog failed"));
  assert.deepEqual(retried, [], "the changelog made at the first attempt");
  const admin = kafka.admin();
  await admin.connect();
  const meta = await admin.fetchTopicMetadata({ topics: [env.IN_TOPIC, env.COUNTER_STATE_TOPIC] });
  await admin.disconnect();
  // (The broker lists the topics in no particular order.)
  const partitions = new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
  assert.deepEqual(
    [partitions.get(env.IN_TOPIC), partitions.get(env.COUNTER_STATE_TOPIC)],
    [4, 4],
    "the input and its changelog, 4 partitions each",
  );
  await feed(env.IN_TOPIC, 5);
  await runToEnd(counterArgs, ["--once"], env);
  await countsOf(env.OUT_TOPIC, 5);
});

Deno.test("keyed state: a continuous replica reports ready only once it holds its partitions and has restored their state", async () => {
  const env = await setup(3);
  await feed(env.IN_TOPIC, 10);
  await runToEnd(counterArgs, ["--once"], env);
  const port = 19000 + Math.floor(Math.random() * 900);
  const w = spawnWorker(counterArgs, [], { ...env, HTTP_PORT: String(port) });
  try {
    const ready = await eventually("readyz 200", async (): Promise<
      { partition: number; keys: number }[] | undefined
    > => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        await res.body?.cancel();
        if (res.status !== 200) return undefined;
      } catch {
        return undefined; // not listening yet
      }
      // Lines are read as they come: the ones logged before this answer are in by now or soon.
      await new Promise((r) => setTimeout(r, 200));
      return w.lines.filter((l) => l.includes('"state restored"')).map((l) =>
        JSON.parse(l) as { partition: number; keys: number }
      );
    }, 60_000);
    const restoredBeforeReady = ready!;
    // With nothing new to read, every partition's state was restored at the assignment, in one
    // read, and before the worker said it was ready.
    assert.deepEqual(restoredBeforeReady.map((r) => r.partition).sort(), [0, 1, 2]);
    assert.ok(restoredBeforeReady.every((r) => r.keys > 0), "each partition held counts");
    assert.ok(w.lines.some((l) => l.includes('"msg":"consuming"')));
  } finally {
    w.kill("SIGTERM");
    assert.equal(await w.exited, 0);
  }
});

Deno.test("keyed state: a crash after the outputs, before state and commit, replays into the same counts", async () => {
  const env = await setup(2);
  await feed(env.IN_TOPIC, 20);
  const crashed = await runToEnd(counterArgs, ["--once"], { ...env, CRASH_AFTER_SEND: "3" }, 137);
  assert.ok(crashed.lines.some((l) => l.includes('"consuming"')));
  await runToEnd(counterArgs, ["--once"], env);
  await countsOf(env.OUT_TOPIC, 20);
});

Deno.test("keyed state: state written but the commit lost — the redelivered records are dropped, not counted again", async () => {
  const env = await setup(2);
  await feed(env.IN_TOPIC, 15);
  await runToEnd(counterArgs, ["--once"], env);
  const before = (await readAll(env.OUT_TOPIC)).length;
  // The crash between the changelog write and the commit: the group's offsets go back to 0.
  const admin = kafka.admin();
  await admin.connect();
  await admin.resetOffsets({ groupId: env.CONSUMER_GROUP, topic: env.IN_TOPIC, earliest: true });
  await admin.disconnect();
  const again = await runToEnd(counterArgs, ["--once"], env);
  assert.equal((await readAll(env.OUT_TOPIC)).length, before, "nothing counted twice");
  assert.ok(again.lines.some((l) => l.includes('"state restored"')));
  await countsOf(env.OUT_TOPIC, 15);
  await feed(env.IN_TOPIC, 1);
  await runToEnd(counterArgs, ["--once"], env);
  await countsOf(env.OUT_TOPIC, 16);
});

Deno.test("keyed state: partitions moving between replicas take their state with them", async () => {
  const env = await setup(4);
  const a = spawnWorker(counterArgs, [], env);
  const b = spawnWorker(counterArgs, [], env);
  const allCommitted = (perKey: number) =>
    allCommittedIn(env.CONSUMER_GROUP, env.IN_TOPIC, perKey, { a, b });
  try {
    await feed(env.IN_TOPIC, 10);
    await allCommitted(10);
    // A replica dies: its partitions move to the other, which restores their state.
    a.kill("SIGKILL");
    await feed(env.IN_TOPIC, 10);
    await allCommitted(20);
    await countsOf(env.OUT_TOPIC, 20);
    assert.ok(b.lines.some((l) => l.includes('"state restored"')));
  } finally {
    a.kill("SIGKILL");
    b.kill("SIGTERM");
    await b.exited;
  }
});

Deno.test("keyed state: a replica paused while its partitions moved away and back never counts on from what it held", async () => {
  const env = await setup(2);
  const a = spawnWorker(counterArgs, [], env);
  let b: WorkerProcess | undefined;
  const allCommitted = (perKey: number) =>
    allCommittedIn(env.CONSUMER_GROUP, env.IN_TOPIC, perKey, { a, b });
  try {
    await feed(env.IN_TOPIC, 10);
    await allCommitted(10);
    // A is frozen: it sees no rebalance, so it keeps the state it held.
    Deno.kill(a.child.pid, "SIGSTOP");
    b = spawnWorker(counterArgs, [], env);
    await feed(env.IN_TOPIC, 10);
    await allCommitted(20); // B, alone once A's session expired, counts on
    b.kill("SIGTERM");
    await b.exited;
    // A wakes up, rejoins and gets every partition back, its held state now 10 records behind.
    const restoresBefore = a.lines.filter((l) => l.includes('"state restored"')).length;
    Deno.kill(a.child.pid, "SIGCONT");
    await feed(env.IN_TOPIC, 10);
    await allCommitted(30);
    // Counting on from the held state would give the last ten records counts 11..20 again, so
    // 21..30 would be missing. Either way of staying right is fine: after the rejoin both clients
    // read from the group's offsets (kafkajs itself; with @platformatic/kafka a new stream) and A
    // restores, the slice starting past its stamp; or, if A fetched B's ten records before it
    // learnt of the rebalance, it reads them again from its held state (same outputs again:
    // at-least-once, idempotent downstream) and its commit is refused.
    await countsOf(env.OUT_TOPIC, 30);
    const restored = a.lines.filter((l) => l.includes('"state restored"')).length > restoresBefore;
    console.log(`the paused replica ${restored ? "restored its state" : "re-read from its state"}`);
  } finally {
    try {
      Deno.kill(a.child.pid, "SIGCONT");
    } catch { /* gone */ }
    a.kill("SIGKILL");
    b?.kill("SIGKILL");
  }
});

Deno.test("keyed state: a changelog read that gets no batch is given up with the partitions left, not waited on forever", async () => {
  // A restore waits on this read; given up, the slice retries it, where a hang would stop the
  // partition for good. A deadline shorter than a group join stands in for a group that never
  // settles.
  const env = await setup(2);
  await feed(env.IN_TOPIC, 3);
  await assert.rejects(
    readToEnd(kafka, env.IN_TOPIC, [0, 1], undefined, 1),
    (error: Error) => {
      assert.match(
        error.message,
        new RegExp(`reading ${env.IN_TOPIC.replaceAll(".", "\\.")} stalled`),
      );
      assert.match(error.message, /partitions 0, 1 short of their end/);
      return true;
    },
  );
  // With the default deadline the same read completes.
  assert.equal((await readToEnd(kafka, env.IN_TOPIC)).length, 3 * KEYS.length);
});
