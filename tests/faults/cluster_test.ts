/**
 * The pipeline on a replicated cluster (three KRaft nodes, replication 3, min ISR 2) whose nodes
 * fail: the leader of the busiest ticks partition killed mid-replay, the leader of the busiest
 * bars partition killed, a rolling restart of all three, the active controller killed. Each run
 * ends with both stores equal to a fault-free run's, and reports what was lost (must be 0), what
 * was duplicated (must be 0), how long producer and consumers stalled, and what the workers logged.
 */
import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import { ensureTopics, readToEnd } from "../../lib/connectors/kafka/mod.ts";
import { syntheticTicks } from "../../lib/market/synthetic.ts";
import {
  activeController,
  busiestLeader,
  clusterBrokers,
  clusterKafka,
  freshCluster,
  nodeIds,
  progressProbe,
  startMissingNodes,
  stopCluster,
  stopNode,
  waitInSync,
} from "../support/cluster.ts";
import { dumpElasticsearch, dumpPostgres, type Row, syntheticFlags } from "../support/pipeline.ts";
import {
  elasticsearch,
  eventually,
  freshDatabase,
  requireServer,
  uniqueName,
} from "../support/servers.ts";
import { runToEnd, spawnWorker, taskArgs, type WorkerProcess } from "../support/workers.ts";
import { asJsonText } from "../support/record_format.ts";

const SEED = 20261125;
const TICKS = 20_000;
const SYMBOLS = 12;
const PARTITIONS = 6;
const synthetic = (speed?: number) =>
  syntheticFlags({ ticks: TICKS, symbols: SYMBOLS, seed: SEED, speed });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The ticks the synthetic source makes, as comparable keys. */
function expectedTicks(): string[] {
  const gen = syntheticTicks({
    seed: SEED,
    symbols: SYMBOLS,
    start: Date.parse("2024-01-02T14:30:00Z"),
    stepMs: 100,
  });
  return Array.from({ length: TICKS }, () => gen.next().value!).map((t) =>
    `${t.symbol}|${new Date(t.ts).toISOString()}|${t.price}|${t.size}`
  );
}

/** Topics (replicated by the brokers' defaults), a database and an index for one run. */
async function runStores(kafka: Kafka, name: string) {
  const id = uniqueName(`cluster-${name.replaceAll(" ", "-")}`);
  const topics = { ticks: `${id}.ticks`, bars: `${id}.bars`, dlq: `${id}.dlq` };
  await ensureTopics(
    kafka,
    Object.values(topics).map((topic) => ({ topic, partitions: PARTITIONS })),
  );
  const db = await freshDatabase();
  const index = `${id}-bars`;
  const env = {
    KAFKA_BROKERS: clusterBrokers,
    TICKS_TOPIC: topics.ticks,
    BARS_TOPIC: topics.bars,
    DLQ_TOPIC: topics.dlq,
    TRANSFORM_STATE_TOPIC: `${id}.state`,
    TOPIC_PARTITIONS: String(PARTITIONS),
    POSTGRES_URL: db.url,
    ELASTICSEARCH_INDEX: index,
    HTTP_PORT: "0",
    LOG_LEVEL: "info",
    SESSION_TIMEOUT_MS: "6000",
    MAX_RETRY_ATTEMPTS: "20",
    RETRY_BASE_MS: "500",
  };
  return {
    id,
    topics,
    db,
    index,
    env,
    groups: { transform: `${id}-transform`, sink: `${id}-sink` },
    async cleanup() {
      await db.drop();
      const es = elasticsearch();
      await es.indices.delete({ index }).catch(() => {});
      await es.close();
    },
  };
}

/** Warnings and errors a worker logged: how many, and the distinct messages. */
function felt(name: string, w: WorkerProcess) {
  const notes = w.lines.flatMap((l) => {
    try {
      const e = JSON.parse(l);
      return e.level === "warn" || e.level === "error" ? [`${e.level}: ${e.msg}`] : [];
    } catch {
      return [];
    }
  });
  const distinct = [...new Set(notes)].slice(0, 4).join("; ");
  return `${name} ${notes.length}${notes.length ? ` (${distinct})` : ""}`;
}

Deno.test("on a three-node cluster, broker failures lose and duplicate nothing", async (t) => {
  await requireServer("postgres");
  await requireServer("elasticsearch");
  await freshCluster();
  const kafka = clusterKafka();
  const cleanups: (() => Promise<void>)[] = [];
  const report: string[] = [];
  try {
    const base = await runStores(kafka, "baseline");
    cleanups.push(base.cleanup);
    await t.step("the fault-free run on the cluster", async () => {
      await runToEnd(taskArgs("ingest"), synthetic(), base.env);
      const g = base.groups;
      await runToEnd(taskArgs("transform"), ["--once"], {
        ...base.env,
        CONSUMER_GROUP: g.transform,
      });
      await runToEnd(taskArgs("sink"), ["--once"], { ...base.env, CONSUMER_GROUP: g.sink });
    });
    const expected = await dumpPostgres(base.db.pool);
    console.log(`baseline: ${expected.length} bars from ${TICKS} ticks of ${SYMBOLS} symbols`);
    assert.ok(expected.length > 500);
    assert.deepEqual(await dumpElasticsearch(base.index), expected, "baseline: ES = PostgreSQL");
    const wanted = expectedTicks();
    // Bar versions in the topic: a redelivered slice publishes its versions again (at least
    // once); the stores' upserts by key absorb them.
    const barRecords = async (topic: string) => (await readToEnd(kafka, topic)).length;
    const baselineBars = await barRecords(base.topics.bars);

    /**
     * A paced replay with transform and sink running, `fault` done `faultAfterMs` in; then the
     * consumers catch up, stop, and every store and topic is checked.
     */
    const underFault = async (
      name: string,
      speed: number,
      faultAfterMs: number,
      fault: (run: Awaited<ReturnType<typeof runStores>>) => Promise<string>,
    ) => {
      const run = await runStores(kafka, name);
      cleanups.push(run.cleanup);
      const transform = spawnWorker(taskArgs("transform"), [], {
        ...run.env,
        CONSUMER_GROUP: run.groups.transform,
      });
      const sink = spawnWorker(taskArgs("sink"), [], {
        ...run.env,
        CONSUMER_GROUP: run.groups.sink,
      });
      const probe = progressProbe(run.topics.ticks, [
        { name: "transform", group: run.groups.transform, topic: run.topics.ticks },
        { name: "sink", group: run.groups.sink, topic: run.topics.bars },
      ]);
      let ingest: WorkerProcess | undefined;
      let did = "";
      let faultAt = 0;
      let ingestEnd = 0;
      try {
        const ingesting = runToEnd(taskArgs("ingest"), synthetic(speed), run.env, 0, 600_000);
        await sleep(faultAfterMs);
        faultAt = Date.now();
        did = await fault(run);
        ingest = await ingesting;
        ingestEnd = Date.now();
        await eventually("transform and sink to commit everything", async () => {
          const admin = kafka.admin();
          await admin.connect();
          try {
            const done = async (group: string, topic: string) => {
              const highs = await admin.fetchTopicOffsets(topic);
              const [c] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
              return highs.every((h) =>
                Number(h.high) === 0 ||
                Number(c.partitions.find((p) => p.partition === h.partition)?.offset) >=
                  Number(h.high)
              );
            };
            return (await done(run.groups.transform, run.topics.ticks)) &&
              (await done(run.groups.sink, run.topics.bars));
          } finally {
            await admin.disconnect();
          }
        }, 180_000);
      } finally {
        transform.kill("SIGTERM");
        sink.kill("SIGTERM");
      }
      const codes = [await transform.exited, await sink.exited];
      const stalls = await probe.stop(faultAt, ingestEnd);
      await waitInSync(kafka, [...Object.values(run.topics), "__consumer_offsets"]);

      const ticks = await readToEnd(kafka, run.topics.ticks);
      const got = new Set((await asJsonText(ticks.map((r) => r.value))).map((text) => {
        const v = JSON.parse(text);
        return `${v.symbol}|${v.ts}|${v.price}|${v.size}`;
      }));
      const lost = wanted.filter((k) => !got.has(k)).length;
      const bars = await barRecords(run.topics.bars);
      const deadLetters = (await readToEnd(kafka, run.topics.dlq)).length;
      const stored: Row[] = await dumpPostgres(run.db.pool);
      const indexed: Row[] = await dumpElasticsearch(run.index);
      const line = [
        `${name}: ${did}`,
        `  ticks lost ${lost}, ticks written twice ${ticks.length - got.size}, ` +
        `bar versions in the topic ${bars} (fault-free ${baselineBars}), ` +
        `dead letters ${deadLetters}`,
        `  stored: PostgreSQL ${stored.length} rows, Elasticsearch ${indexed.length} documents ` +
        `(fault-free ${expected.length})`,
        `  longest stall after the fault: producer ${stalls.producer.toFixed(1)} s, ` +
        `transform ${stalls.transform.toFixed(1)} s, sink ${stalls.sink.toFixed(1)} s`,
        `  logged warnings/errors: ${felt("ingest", ingest!)}; ${felt("transform", transform)}; ` +
        felt("sink", sink),
      ].join("\n");
      console.log(line);
      report.push(line);
      assert.deepEqual(codes, [0, 0], "transform and sink stopped cleanly");
      assert.equal(lost, 0, "ticks lost");
      assert.equal(ticks.length, got.size, "ticks written twice");
      assert.equal(deadLetters, 0, "dead letters (a tick written twice becomes a late one)");
      assert.deepEqual(stored, expected, "PostgreSQL equals the fault-free run");
      assert.deepEqual(indexed, expected, "Elasticsearch equals the fault-free run");
    };

    const killAndRestart = async (id: number, downMs: number) => {
      const stoppedIn = await stopNode(id, "SIGKILL");
      await sleep(downMs);
      const restartAt = Date.now();
      await startMissingNodes();
      return `killed in ${stoppedIn} ms, down ${downMs / 1000} s, back in ` +
        `${((Date.now() - restartAt) / 1000).toFixed(1)} s`;
    };

    for (const topic of ["ticks", "bars"] as const) {
      await t.step(
        `SIGKILL the leader of the busiest market.${topic} partition mid-replay`,
        () =>
          underFault(`${topic} leader killed`, 80, 6000, async (run) => {
            const b = await busiestLeader(kafka, run.topics[topic]);
            return `node ${b.leader} (leads ${topic}[${b.partition}], ${b.records} records) ` +
              await killAndRestart(b.leader, 10_000);
          }),
      );
    }

    await t.step(
      "a rolling restart of all three nodes during a paced replay",
      () =>
        underFault("rolling restart", 30, 4000, async (run) => {
          const steps: string[] = [];
          for (const id of nodeIds) {
            const stoppedIn = await stopNode(id, "SIGTERM");
            await startMissingNodes();
            const at = Date.now();
            await waitInSync(kafka, [
              ...Object.values(run.topics),
              run.env.TRANSFORM_STATE_TOPIC,
              "__consumer_offsets",
            ]);
            steps.push(
              `node ${id} stopped in ${(stoppedIn / 1000).toFixed(1)} s, in sync ` +
                `${((Date.now() - at) / 1000).toFixed(1)} s after its restart`,
            );
          }
          return steps.join("; ");
        }),
    );

    await t.step(
      "SIGKILL the active controller during a replay",
      () =>
        underFault("controller killed", 80, 6000, async () => {
          const controller = await activeController();
          const outcome = await killAndRestart(controller, 10_000);
          return `node ${controller} (the active controller; after: node ${await activeController()}) ${outcome}`;
        }),
    );
  } finally {
    console.log(`\n${report.join("\n")}`);
    for (const c of cleanups) await c().catch(() => {});
    await stopCluster();
  }
});
