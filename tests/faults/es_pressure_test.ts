/**
 * Elasticsearch rejecting writes with 429: the native node restarted with a one-thread, one-slot
 * write queue while other clients flood it with bulk requests. The sink must retry the rejected
 * items with backoff and end with exactly the tables of an undisturbed run.
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
  esUrl,
  eventually,
  freshDatabase,
  infra,
  produce,
  requireServer,
  root,
} from "../support/servers.ts";
import { spawnWorker, taskArgs } from "../support/workers.ts";
import { openTestWire } from "../support/record_format.ts";

const data = `${root}node_modules/vega-datasets/data`;

Deno.test("Elasticsearch answering 429 (write queue full): rejected items are retried, nothing is lost", async () => {
  await requireServer("kafka");
  await requireServer("postgres");
  await requireServer("elasticsearch");
  const p = await pipelineEnv(6);
  const pressured = await freshDatabase();
  const pressuredIndex = `${p.index}-429`;
  try {
    const series = [
      ...parseCsv(Deno.readTextFileSync(`${data}/sp500-2000.csv`), "SP500").bars,
      ...parseCsv(Deno.readTextFileSync(`${data}/stocks.csv`), "").bars,
    ].sort((a, b) => a.ts - b.ts);
    const bars = buildBars(new Map(), series.map((b) => ({ kind: "bar" as const, ...b })), {
      tickIntervals: [],
      barIntervals: ["1d", "1w", "1mo"],
      periods: defaultPeriods,
    }).bars;
    const wire = await openTestWire({ bars: { topic: p.topics.bars, writes: true } });
    await produce(p.topics.bars, bars.map((b) => wire.encodeBar(b)));

    await drain("sink", p, groups("calm").sink);
    const expected = await dumpPostgres(p.db.pool);
    assert.deepEqual(await dumpElasticsearch(p.index), expected);

    await infra("down", "elasticsearch");
    await infra("up", "elasticsearch", {
      ES_EXTRA_SETTINGS: "thread_pool.write.size=1,thread_pool.write.queue_size=1",
    });
    // Other clients flood the one write slot until the sink has met a 429 (or 90 s pass), then
    // stop, so the sink can finish; it must lose nothing meanwhile.
    let flooding = true;
    let floodRejections = 0;
    const flood = Array.from({ length: 10 }, async (_, worker) => {
      const body = Array.from(
        { length: 300 },
        (_, i) => `{"index":{"_index":"${p.index}-flood","_id":"${worker}-${i}"}}\n{"n":${i}}\n`,
      ).join("");
      while (flooding) {
        const res = await fetch(`${esUrl}/_bulk`, {
          method: "POST",
          headers: { "content-type": "application/x-ndjson" },
          body,
        }).catch(() => null);
        const text = await res?.text();
        if (text?.includes('"status":429')) floodRejections++;
      }
    });
    const sink = spawnWorker(taskArgs("sink"), ["--once"], {
      ...p.env,
      POSTGRES_URL: pressured.url,
      ELASTICSEARCH_INDEX: pressuredIndex,
      ...groups("pressured").sink,
      BATCH_SIZE: "50",
      PARTITION_CONCURRENCY: "6",
      MAX_RETRY_ATTEMPTS: "30",
      RETRY_BASE_MS: "100",
      LOG_LEVEL: "warn",
    });
    // A 429 reaches the sink per item (bulk items rejected) or for the whole request (the batch
    // is retried without commit); either way it must back off and lose nothing.
    const is429 = (l: string) =>
      (l.includes("bulk items rejected, retrying them") && l.includes('"status":429')) ||
      (l.includes("batch failed, retrying without commit") &&
        /429|rejected execution|Too Many Requests/i.test(l));
    const met429 = () => sink.lines.some(is429);
    await eventually("the sink to meet a 429", met429, 90_000).catch(() => false);
    flooding = false;
    await Promise.all(flood);
    const code = await sink.exited;
    assert.equal(code, 0, sink.lines.slice(-5).join("\n"));
    const lines = sink.lines;
    const retried = lines.filter(is429);
    console.log(
      `flood bulks that saw 429: ${floodRejections}; sink retries after 429: ${retried.length}`,
    );
    assert.ok(floodRejections > 0, "the write queue really overflowed");
    assert.ok(
      retried.length > 0,
      `the sink met 429s and retried them:\n${lines.slice(-5).join("\n")}`,
    );
    assert.deepEqual(await dumpPostgres(pressured.pool), expected);
    assert.deepEqual(await dumpElasticsearch(pressuredIndex), expected);
  } finally {
    await infra("down", "elasticsearch");
    await infra("up", "elasticsearch", { ES_EXTRA_SETTINGS: "" });
    await pressured.drop();
    await p.cleanup();
  }
});
