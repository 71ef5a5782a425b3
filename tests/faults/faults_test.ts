/**
 * Delivery under faults, against the real servers: every run's final PostgreSQL tables and
 * Elasticsearch index are compared with a fault-free run of the same input — exact equality.
 * Long: run with `deno task test:faults`.
 */
import assert from "node:assert/strict";
import { seededRandom, syntheticTicks } from "../../lib/market/synthetic.ts";
import {
  drain,
  dumpElasticsearch,
  dumpPostgres,
  groups,
  type PipelineEnv,
  pipelineEnv,
  syntheticFlags,
} from "../support/pipeline.ts";
import {
  committedOffsets,
  createTopics,
  eventually,
  freshDatabase,
  infra,
  readAll,
  requireServer,
  uniqueName,
} from "../support/servers.ts";
import { runToEnd, spawnWorker, taskArgs } from "../support/workers.ts";
import { readJson } from "../support/record_format.ts";

const SEED = 20261124;
const TICKS = 20_000;
const SYMBOLS = 12;
const synthetic = syntheticFlags({ ticks: TICKS, symbols: SYMBOLS, seed: SEED });

/** A second set of stores and topics for a run that must equal the baseline. */
async function variant(p: PipelineEnv, name: string) {
  const db = await freshDatabase();
  const env = {
    ...p.env,
    POSTGRES_URL: db.url,
    ELASTICSEARCH_INDEX: `${p.index}-${name}`,
    BARS_TOPIC: `${p.topics.bars}-${name}`,
    TRANSFORM_STATE_TOPIC: `${p.topics.state}-${name}`,
  };
  return { db, env, index: env.ELASTICSEARCH_INDEX, bars: env.BARS_TOPIC };
}

/** Runs `worker` continuously, SIGKILLing it `cycles` times at seeded random moments. */
async function killLoop(
  worker: "transform" | "sink",
  env: Record<string, string>,
  cycles: number,
  seed: number,
) {
  const random = seededRandom(seed);
  for (let i = 0; i < cycles; i++) {
    const w = spawnWorker(taskArgs(worker), [], env);
    await new Promise((r) => setTimeout(r, 300 + random() * 1700));
    w.kill("SIGKILL");
    await w.exited;
  }
}

async function waitUntilCommitted(group: string, topic: string) {
  await eventually(`group ${group} to commit everything in ${topic}`, async () => {
    const highs = new Map<number, bigint>();
    for (const r of await readAll(topic)) highs.set(r.partition, BigInt(r.offset) + 1n);
    const committed = await committedOffsets(group, topic);
    return [...highs].every(([p, h]) => (committed.get(p) ?? -1n) >= h);
  }, 180_000);
}

Deno.test("no bar is lost or duplicated under crashes, rebalances and server outages", async (t) => {
  await requireServer("kafka");
  await requireServer("postgres");
  await requireServer("elasticsearch");
  const p = await pipelineEnv(6);
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const killed = groups("killed");
    await t.step(
      "20 SIGKILLs each of transform and sink at random moments during a paced replay",
      async () => {
        const ingest = runToEnd(
          taskArgs("ingest"),
          [...synthetic, "--replay-speed", "60"],
          p.env,
          0,
          300_000,
        );
        await Promise.all([
          killLoop("transform", { ...p.env, ...killed.transform, BATCH_SIZE: "200" }, 20, SEED),
          killLoop("sink", { ...p.env, ...killed.sink, BATCH_SIZE: "200" }, 20, SEED + 1),
        ]);
        await ingest;
        await drain("transform", p, killed.transform);
        await drain("sink", p, killed.sink);
      },
    );

    const base = await variant(p, "baseline");
    cleanups.push(() => base.db.drop());
    await t.step("the fault-free run of the same input", async () => {
      const g = groups("baseline");
      await runToEnd(taskArgs("transform"), ["--once"], { ...base.env, ...g.transform });
      await runToEnd(taskArgs("sink"), ["--once"], { ...base.env, ...g.sink });
    });
    const expected = await dumpPostgres(base.db.pool);
    const expectedEs = await dumpElasticsearch(base.index);
    console.log(`baseline: ${expected.length} bars from ${TICKS} ticks of ${SYMBOLS} symbols`);
    assert.ok(expected.length > 500);
    assert.deepEqual(expectedEs, expected, "baseline: Elasticsearch equals PostgreSQL");

    await t.step("the killed run equals it in PostgreSQL and Elasticsearch", async () => {
      assert.deepEqual(await dumpPostgres(p.db.pool), expected);
      assert.deepEqual(await dumpElasticsearch(p.index), expected);
    });

    await t.step(
      "1 and 3 transform replicas over 6 partitions, one leaving mid-run, publish the same bars",
      async () => {
        const three = await variant(p, "replicas");
        cleanups.push(() => three.db.drop());
        const group = { CONSUMER_GROUP: `${p.index}-replicas` };
        // All three join at once and share the 6 partitions; one leaves while they work, and
        // the other two take over its partitions (and reload their state).
        const started = [0, 1, 2].map(() =>
          spawnWorker(taskArgs("transform"), ["--once"], {
            ...three.env,
            ...group,
            BATCH_SIZE: "25",
            LOG_LEVEL: "info",
          })
        );
        await eventually("the group to commit its first batches", async () => {
          const committed = await committedOffsets(group.CONSUMER_GROUP, p.topics.ticks);
          return [...committed.values()].some((o) => o > 0n);
        });
        await new Promise((r) => setTimeout(r, 500));
        started[1].kill("SIGTERM");
        const codes = await Promise.all(started.map((w) => w.exited));
        assert.deepEqual(
          codes,
          [0, 0, 0],
          started.map((w) => w.lines.slice(-3).join("\n")).join("\n---\n"),
        );
        const reloaded = started.filter((w) => w.lines.some((l) => l.includes("state restored")));
        console.log(`replicas that restored a partition's state: ${reloaded.length}`);
        // @platformatic/kafka's stream starts again at the group's commits after a rebalance.
        const reread = started.filter((w) =>
          w.lines.some((l) => l.includes("reading the partitions again"))
        );
        console.log(`replicas that read their partitions again from the commits: ${reread.length}`);
        const last = (records: Awaited<ReturnType<typeof readJson>>) => {
          const m = new Map<string, string>();
          for (const r of records) {
            const v = JSON.parse(r.value);
            m.set(`${v.symbol}|${v.interval}|${v.start}`, r.value);
          }
          return m;
        };
        const one = last(await readJson(base.bars));
        const many = last(await readJson(three.bars));
        assert.equal(many.size, one.size);
        assert.deepEqual(many, one);
      },
    );

    /**
     * A sink runs while `service` is stopped for `downMs`: it must back off without committing,
     * report not ready, resume when the server is back, and end with the baseline's tables.
     */
    const sinkThroughOutage = async (service: "postgres" | "elasticsearch", downMs: number) => {
      const v = await variant(p, `${service}-down`);
      cleanups.push(() => v.db.drop());
      const group = `${p.index}-${service}-down`;
      const port = 19600 + Math.floor(Math.random() * 300);
      const readyz = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        await res.body?.cancel();
        return res.status;
      };
      const sink = spawnWorker(taskArgs("sink"), [], {
        ...v.env,
        BARS_TOPIC: base.bars,
        CONSUMER_GROUP: group,
        // Small slices, one partition at a time: the sink must still be working when the
        // server goes away (stopping Elasticsearch takes a few seconds; a faster sink had
        // finished by then and never met the outage).
        BATCH_SIZE: "2",
        PARTITION_CONCURRENCY: "1",
        HTTP_PORT: String(port),
        MAX_RETRY_ATTEMPTS: "30",
        RETRY_BASE_MS: "500",
      });
      try {
        await eventually(
          "the first rows",
          async () => (await v.db.pool.query("select count(*)::int n from bars")).rows[0].n > 0,
        );
        await infra("down", service);
        const downAt = Date.now();
        const notReady = await eventually(
          `readyz 503 while ${service} is down`,
          async () => (await readyz()) === 503,
          25_000,
        );
        assert.ok(notReady);
        await new Promise((r) => setTimeout(r, Math.max(0, downMs - (Date.now() - downAt))));
        await infra("up", service);
        await waitUntilCommitted(group, base.bars);
        await eventually("readyz 200 again", async () => (await readyz()) === 200);
        assert.ok(sink.lines.some((l) => l.includes("batch failed, retrying without commit")));
      } finally {
        sink.kill("SIGTERM");
        await sink.exited;
        await infra("up", service);
      }
      assert.deepEqual(await dumpPostgres(v.db.pool), expected);
      assert.deepEqual(await dumpElasticsearch(v.index), expected);
    };

    await t.step(
      "PostgreSQL stopped for 30 s while sinking: readyz false, no commit, resume, identical",
      () => sinkThroughOutage("postgres", 30_000),
    );
    await t.step(
      "Elasticsearch unreachable for 20 s while sinking: readyz false, backoff, resume, identical",
      () => sinkThroughOutage("elasticsearch", 20_000),
    );

    await t.step(
      "the Kafka broker stopped and restarted during ingest: the producer retries, nothing is lost",
      async () => {
        const topic = uniqueName("outage-ticks");
        await createTopics([topic], 6);
        const ingest = runToEnd(
          taskArgs("ingest"),
          [...synthetic, "--synthetic-ticks", "6000", "--replay-speed", "40"],
          { ...p.env, TICKS_TOPIC: topic, MAX_RETRY_ATTEMPTS: "20", RETRY_BASE_MS: "500" },
          0,
          300_000,
        );
        await new Promise((r) => setTimeout(r, 4000));
        await infra("down", "kafka");
        await new Promise((r) => setTimeout(r, 8000));
        await infra("up", "kafka");
        const w = await ingest;
        // The client's own retries usually ride out the outage before ours are needed; they log.
        assert.ok(
          w.lines.some((l) =>
            l.includes('"component":"kafkajs') || l.includes("Kafka client retrying") ||
            l.includes("produce failed, retrying")
          ),
          "the outage was felt",
        );
        const got = new Set((await readJson(topic)).map((r) => {
          const v = JSON.parse(r.value);
          return `${v.symbol}|${v.ts}|${v.price}|${v.size}`;
        }));
        const gen = syntheticTicks({
          seed: SEED,
          symbols: SYMBOLS,
          start: Date.parse("2024-01-02T14:30:00Z"),
          stepMs: 100,
        });
        const want = Array.from({ length: 6000 }, () => gen.next().value!).map((tk) =>
          `${tk.symbol}|${new Date(tk.ts).toISOString()}|${tk.price}|${tk.size}`
        );
        assert.deepEqual(want.filter((x) => !got.has(x)), [], "every tick reached Kafka");
        assert.equal(got.size, 6000);
      },
    );
  } finally {
    for (const c of cleanups) await c().catch(() => {});
    await p.cleanup();
  }
});
