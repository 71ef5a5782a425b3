/**
 * `--serve`: a sink that consumes nothing until `POST /run`, against the real servers. Each run's
 * totals equal what it read and stored; a second run while one is going gets 409; a run while
 * PostgreSQL is stopped answers a 5xx problem, and the next one after it is back stores
 * everything — nothing lost, nothing twice. (In the fault suite: it stops PostgreSQL.)
 */
import assert from "node:assert/strict";
import {
  drain,
  dumpElasticsearch,
  dumpPostgres,
  ingestCsv,
  pipelineEnv,
} from "../support/pipeline.ts";
import { infra, readAll, requireServer } from "../support/servers.ts";
import { spawnWorker, taskArgs, waitReady } from "../support/workers.ts";
import { readJson } from "../support/record_format.ts";

const data = "node_modules/vega-datasets/data";

Deno.test("sink --serve: POST /run drains and answers its totals; 409 on overlap; 5xx while PostgreSQL is down, then 200", async () => {
  await requireServer("kafka");
  await requireServer("postgres");
  await requireServer("elasticsearch");
  const p = await pipelineEnv(3);
  const group = { CONSUMER_GROUP: `${p.index}-transform` };
  await ingestCsv(p, { CSV_PATH: `${data}/sp500-2000.csv` });
  await drain("transform", p, group);
  const port = 19300 + Math.floor(Math.random() * 200);
  const sink = spawnWorker(taskArgs("sink"), ["--serve"], {
    ...p.env,
    HTTP_PORT: String(port),
    CONSUMER_GROUP: `${p.index}-sink`,
    BATCH_SIZE: "500",
    MAX_RETRY_ATTEMPTS: "3",
    RETRY_BASE_MS: "200",
    LOG_LEVEL: "info",
  });
  const post = async (query = "") => {
    const res = await fetch(`http://127.0.0.1:${port}/run${query}`, { method: "POST" });
    return { status: res.status, type: res.headers.get("content-type"), body: await res.json() };
  };
  const lag = async () => (await (await fetch(`http://127.0.0.1:${port}/lag`)).json()).lag;
  const read: number[] = [];
  try {
    await waitReady(port);
    const bars = (await readAll(p.topics.bars)).length;
    assert.ok(bars > 1000, `bars in the topic: ${bars}`);
    assert.equal(await lag(), bars, "nothing consumed before the first POST /run");
    assert.equal((await post("?max_records=abc")).status, 400);
    assert.equal(
      (await fetch(`http://127.0.0.1:${port}/run`)).status,
      405,
      "GET /run is not a run",
    );

    const bounded = await post("?max_records=1");
    console.log("POST /run?max_records=1 →", bounded.status, JSON.stringify(bounded.body));
    assert.equal(bounded.status, 200);
    assert.equal(bounded.body.bounded, true);
    assert.ok(bounded.body.recordsIn >= 1 && bounded.body.recordsIn <= 500);
    read.push(bounded.body.recordsIn);

    const first = post();
    await new Promise((r) => setTimeout(r, 50));
    const overlap = await post();
    console.log("overlapping POST /run →", overlap.status, JSON.stringify(overlap.body));
    assert.equal(overlap.status, 409);
    assert.equal(overlap.type, "application/problem+json");
    assert.ok(Date.parse(overlap.body.runningSince) > 0);
    const done = await first;
    console.log("POST /run →", done.status, JSON.stringify(done.body));
    assert.equal(done.status, 200);
    read.push(done.body.recordsIn);
    assert.equal(done.body.bounded, false);
    assert.equal(read[0] + read[1], bars, "the two runs read every bar once");
    assert.equal(await lag(), 0);
    const highs = new Map<number, number>();
    for (const r of await readAll(p.topics.bars)) highs.set(r.partition, Number(r.offset) + 1);
    for (const [partition, high] of highs) {
      assert.equal(
        Number(done.body.offsets[partition]),
        high,
        `offset reached, partition ${partition}`,
      );
    }
    const stored = await dumpPostgres(p.db.pool);
    const out = Object.entries(done.body.recordsOut as Record<string, number>);
    // Bar versions written (a week's bar is rewritten as its days arrive): at most one per read.
    const written = out.find(([k]) => k === "postgres:bars")?.[1] ?? 0;
    assert.ok(written > 0 && written <= done.body.recordsIn, `postgres:bars ${written}`);
    assert.ok(stored.length <= bars && stored.length > 0);
    assert.ok(out.some(([k, n]) => k.startsWith("elasticsearch") && n > 0));

    // More bars (five stocks, monthly), then a run with PostgreSQL away.
    await ingestCsv(p, { CSV_PATH: `${data}/stocks.csv` });
    await drain("transform", p, group);
    const more = (await readAll(p.topics.bars)).length - bars;
    assert.ok(more > 100);
    await infra("down", "postgres");
    try {
      const failed = await post();
      console.log("POST /run, PostgreSQL stopped →", failed.status, JSON.stringify(failed.body));
      assert.ok(failed.status >= 500, `status ${failed.status}`);
      assert.equal(failed.type, "application/problem+json");
      assert.match(failed.body.detail, /failed after 3 attempts/);
      assert.equal(await lag(), more, "the failed run committed nothing");
    } finally {
      await infra("up", "postgres");
    }
    const after = await post();
    console.log("POST /run, PostgreSQL back →", after.status, JSON.stringify(after.body));
    assert.equal(after.status, 200);
    assert.equal(after.body.recordsIn, more);
    assert.equal(await lag(), 0);
    const final = await dumpPostgres(p.db.pool);
    const keys = new Set(
      (await readJson(p.topics.bars)).map((r) => {
        const v = JSON.parse(r.value);
        return `${v.symbol}|${v.interval}|${v.start}`;
      }),
    );
    assert.equal(final.length, keys.size, "one row per bar, nothing lost or twice");
    assert.ok(final.length > stored.length);
    assert.deepEqual(await dumpElasticsearch(p.index), final);
    assert.equal(sink.lines.some((l) => l.includes('"msg":"stopping')), false, "still serving");
  } finally {
    sink.kill("SIGTERM");
    assert.equal(await sink.exited, 0);
    await p.cleanup();
  }
});
