/**
 * The schema registry as a server that can go away: its subjects and ids live in its PostgreSQL
 * database and survive a restart, and an Avro sink that needs a writer schema while the registry
 * is down backs off without committing, then stores exactly what it would have stored.
 */
import assert from "node:assert/strict";
import { buildBars } from "../../lib/market/bars.ts";
import { parseCsv } from "../../lib/market/csv.ts";
import { defaultPeriods } from "../../lib/market/indicators.ts";
import {
  drain,
  dumpElasticsearch,
  dumpPostgres,
  groups,
  pipelineEnv,
} from "../support/pipeline.ts";
import {
  committedOffsets,
  env,
  eventually,
  freshDatabase,
  infra,
  pgPassword,
  produce,
  readAll,
  registryUrl,
  requireServer,
  root,
} from "../support/servers.ts";
import { spawnWorker, taskArgs } from "../support/workers.ts";
import { openTestWire } from "../support/record_format.ts";
// @ts-types="@types/pg"
import pg from "pg";

async function registryGet(path: string): Promise<unknown> {
  const res = await fetch(`${registryUrl}${path}`);
  assert.equal(res.status, 200, `GET ${path}`);
  return await res.json();
}

Deno.test("schema registry: state in PostgreSQL survives a restart; an outage makes the Avro sink wait, losing nothing", async (t) => {
  await requireServer("kafka");
  await requireServer("postgres");
  await requireServer("elasticsearch");
  await requireServer("schema-registry");
  const p = await pipelineEnv(3);
  const avro = { RECORD_FORMAT: "avro" };
  const waited = await freshDatabase();
  const waitedIndex = `${p.index}-waited`;
  try {
    const bars = buildBars(
      new Map(),
      parseCsv(
        Deno.readTextFileSync(`${root}node_modules/vega-datasets/data/stocks.csv`),
        "",
      ).bars.map((b) => ({ kind: "bar" as const, ...b })),
      { tickIntervals: [], barIntervals: ["1d", "1mo"], periods: defaultPeriods },
    ).bars;
    const wire = await openTestWire({ bars: { topic: p.topics.bars, writes: true } }, "avro");
    await produce(p.topics.bars, bars.map((b) => wire.encodeBar(b)));
    const subject = `${p.topics.bars}-value`;
    const versions = await registryGet(`/subjects/${subject}/versions`);
    const latest = await registryGet(`/subjects/${subject}/versions/latest`) as {
      id: number;
      schema: string;
    };

    await t.step(
      "subjects and ids survive a restart, kept in the registry's own database",
      async () => {
        await infra("down", "schema-registry");
        await infra("up", "schema-registry");
        assert.deepEqual(await registryGet(`/subjects/${subject}/versions`), versions);
        // Its PostgreSQL password goes by environment: not in its log, not on its command line.
        const log = await Deno.readTextFile(`${root}.native/schema-registry/out.log`);
        assert.equal(
          log.includes(pgPassword()),
          false,
          "the password is not in the registry's log",
        );
        const pid = (await Deno.readTextFile(`${root}.native/schema-registry/pid`)).trim();
        const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
        assert.ok(cmdline.includes("apicurio-registry-app"), "the pid file names the registry");
        assert.equal(cmdline.includes(pgPassword()), false, "the password is not in its argv");
        const again = await registryGet(`/schemas/ids/${latest.id}`) as { schema: string };
        assert.equal(again.schema, latest.schema);
        const db = new pg.Client({
          host: "127.0.0.1",
          port: Number(env.POSTGRES_PORT),
          user: env.POSTGRES_USER,
          password: pgPassword(),
          database: env.SCHEMA_REGISTRY_DB,
        });
        await db.connect();
        try {
          const { rows } = await db.query(
            "select count(*)::int n from artifacts where artifactid = $1",
            [subject],
          );
          assert.equal(rows[0].n, 1, `${subject} is a row of ${env.SCHEMA_REGISTRY_DB}.artifacts`);
        } finally {
          await db.end();
        }
      },
    );

    await t.step(
      "registry down while an Avro sink starts: backoff, no commit, then identical stores",
      async () => {
        await drain("sink", p, { ...avro, ...groups("calm").sink });
        const expected = await dumpPostgres(p.db.pool);
        assert.equal(expected.length > 0, true);
        assert.deepEqual(await dumpElasticsearch(p.index), expected);

        const group = groups("waited").sink;
        await infra("down", "schema-registry");
        // A new process: it has no writer schema cached and must ask the registry for it.
        const sink = spawnWorker(taskArgs("sink"), ["--once"], {
          ...p.env,
          ...avro,
          ...group,
          POSTGRES_URL: waited.url,
          ELASTICSEARCH_INDEX: waitedIndex,
          MAX_RETRY_ATTEMPTS: "30",
          RETRY_BASE_MS: "500",
          LOG_LEVEL: "info",
        });
        try {
          await eventually(
            "the sink to retry a slice for want of the registry",
            () =>
              Promise.resolve(
                sink.lines.some((l) =>
                  l.includes("batch failed, retrying without commit") &&
                  l.includes("schema registry")
                ),
              ),
            60_000,
          );
          await new Promise((r) => setTimeout(r, 3000));
          const committed = await committedOffsets(group.CONSUMER_GROUP, p.topics.bars);
          assert.deepEqual(
            [...committed.values()].filter((o) => o >= 0n),
            [],
            "nothing committed while the registry is down",
          );
        } finally {
          await infra("up", "schema-registry");
        }
        const code = await sink.exited;
        assert.equal(code, 0, sink.lines.slice(-5).join("\n"));
        assert.equal((await readAll(p.topics.dlq)).length, 0, "no dead letters");
        assert.deepEqual(await dumpPostgres(waited.pool), expected);
        assert.deepEqual(await dumpElasticsearch(waitedIndex), expected);
        const retries = sink.lines.filter((l) =>
          l.includes("batch failed, retrying without commit")
        );
        console.log(`sink retries while the registry was down: ${retries.length}`);
      },
    );
  } finally {
    await infra("up", "schema-registry");
    await waited.drop();
    await p.cleanup();
  }
});
