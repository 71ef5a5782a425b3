/**
 * Elasticsearch rejecting writes with 429: the native node restarted with a one-thread, one-slot
 * write queue while other clients flood it with bulk requests. The sink must retry the rejected
 * items with backoff and end with exactly the tables of an undisturbed run.
 */
import assert from "node:assert/strict";
import { buildBars } from "../../lib/market/bars.ts";
import { parseCsv } from "../../lib/market/csv.ts";
import { defaultPeriods } from "../../lib/market/indicators.ts";
import { encodeBar } from "../../lib/market/record.ts";
import {
  drain,
  dumpElasticsearch,
  dumpPostgres,
  groups,
  pipelineEnv,
} from "../support/pipeline.ts";
import { esUrl, freshDatabase, infra, produce, requireServer, root } from "../support/servers.ts";

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
    await produce(p.topics.bars, bars.map(encodeBar));

    await drain("sink", p, groups("calm").sink);
    const expected = await dumpPostgres(p.db.pool);
    assert.deepEqual(await dumpElasticsearch(p.index), expected);

    await infra("down", "elasticsearch");
    await infra("up", "elasticsearch", {
      ES_EXTRA_SETTINGS: "thread_pool.write.size=1,thread_pool.write.queue_size=1",
    });
    let flooding = true;
    let floodRejections = 0;
    const flood = Array.from({ length: 6 }, async (_, worker) => {
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
    let lines: string[] = [];
    try {
      const sink = await drain("sink", p, {
        POSTGRES_URL: pressured.url,
        ELASTICSEARCH_INDEX: pressuredIndex,
        ...groups("pressured").sink,
        BATCH_SIZE: "200",
        PARTITION_CONCURRENCY: "6",
        MAX_RETRY_ATTEMPTS: "30",
        RETRY_BASE_MS: "100",
        LOG_LEVEL: "warn",
      });
      lines = sink.lines;
    } finally {
      flooding = false;
      await Promise.all(flood);
    }
    const retried = lines.filter((l) =>
      l.includes("bulk items rejected, retrying them") && l.includes('"status":429')
    );
    console.log(
      `flood bulks that saw 429: ${floodRejections}; sink retries after 429: ${retried.length}`,
    );
    assert.ok(floodRejections > 0, "the write queue really overflowed");
    assert.ok(retried.length > 0, "the sink met 429s and retried them");
    assert.deepEqual(await dumpPostgres(pressured.pool), expected);
    assert.deepEqual(await dumpElasticsearch(pressuredIndex), expected);
  } finally {
    await infra("down", "elasticsearch");
    await infra("up", "elasticsearch", { ES_EXTRA_SETTINGS: "" });
    await pressured.drop();
    await p.cleanup();
  }
});
