/**
 * The sink's per-document failures in Elasticsearch: a document the index can never take is a
 * dead letter (reason and source in headers); its neighbours are indexed, nothing is dropped.
 */
import assert from "node:assert/strict";
import { buildBars } from "../../lib/market/bars.ts";
import { parseCsv } from "../../lib/market/csv.ts";
import { defaultPeriods } from "../../lib/market/indicators.ts";
import { encodeBar } from "../../lib/market/record.ts";
import { drain, groups, pipelineEnv } from "../support/pipeline.ts";
import { elasticsearch, produce, readAll, requireServer, root } from "../support/servers.ts";

/** The first `count` daily S&P 500 bars with their indicators. */
function dailyBars(count: number) {
  const rows = parseCsv(
    Deno.readTextFileSync(`${root}node_modules/vega-datasets/data/sp500-2000.csv`),
    "SP500",
  ).bars.slice(0, count);
  return buildBars(new Map(), rows.map((b) => ({ kind: "bar" as const, ...b })), {
    tickIntervals: [],
    barIntervals: ["1d"],
    periods: defaultPeriods,
  }).bars;
}

Deno.test("a document Elasticsearch rejects (mapping conflict) is dead-lettered; the rest is indexed", async () => {
  await requireServer("elasticsearch");
  const p = await pipelineEnv();
  const es = elasticsearch();
  try {
    // An index made by someone else, where sma is an integer that refuses fractions.
    await es.indices.create({
      index: p.index,
      mappings: { properties: { sma: { type: "integer", coerce: false } } },
    });
    const bars = dailyBars(60);
    const warmUp = bars.filter((b) => b.sma === null).length;
    assert.equal(warmUp, 19);
    await produce(p.topics.bars, bars.map(encodeBar));
    await drain("sink", p, groups("mapping").sink);

    const dlq = await readAll(p.topics.dlq);
    assert.equal(dlq.length, 60 - warmUp, "every bar with a fractional sma");
    for (const d of dlq) {
      assert.equal(d.headers["dlq.reason"], "index-rejected");
      assert.match(
        d.headers["dlq.message"],
        /elasticsearch rejected the document: (mapper_parsing|document_parsing)_exception/,
      );
      assert.equal(d.headers["dlq.topic"], p.topics.bars);
    }
    await es.indices.refresh({ index: p.index });
    assert.equal((await es.count({ index: p.index })).count, warmUp);
    const { rows: pg } = await p.db.pool.query("select count(*)::int as n from bars");
    assert.equal(
      pg[0].n,
      60,
      "PostgreSQL took every bar (documented: the stores are not atomic together)",
    );
  } finally {
    await es.close();
    await p.cleanup();
  }
});

Deno.test("the sink makes its index when it starts, from the template, and writes through an alias of that name", async (t) => {
  await requireServer("elasticsearch");
  const p = await pipelineEnv();
  const es = elasticsearch();
  try {
    await t.step(
      "no index yet: there after a run that read nothing, with strict mappings",
      async () => {
        assert.equal(await es.indices.exists({ index: p.index }), false);
        await drain("sink", p, groups("empty").sink);
        const mappings = (await es.indices.getMapping({ index: p.index }))[p.index].mappings;
        assert.equal(mappings.dynamic, "strict");
        assert.equal(mappings.properties?.period_start?.type, "date");
        assert.equal((await es.count({ index: p.index })).count, 0);
      },
    );
    await t.step("the name is an alias: documents go to the index behind it", async () => {
      await es.indices.delete({ index: p.index });
      const behind = `${p.index}-behind`;
      await es.indices.create({ index: behind, aliases: { [p.index]: {} } });
      try {
        await produce(p.topics.bars, dailyBars(30).map(encodeBar));
        await drain("sink", p, groups("alias").sink);
        await es.indices.refresh({ index: behind });
        assert.equal((await es.count({ index: behind })).count, 30);
      } finally {
        await es.indices.delete({ index: behind }).catch(() => {});
      }
    });
  } finally {
    await es.close();
    await p.cleanup();
  }
});

Deno.test("values are not indexed as points but still filter and aggregate (through their doc values)", async () => {
  await requireServer("elasticsearch");
  const p = await pipelineEnv();
  const es = elasticsearch();
  try {
    const bars = dailyBars(120);
    await produce(p.topics.bars, bars.map(encodeBar));
    await drain("sink", p, groups("values").sink);
    await es.indices.refresh({ index: p.index });

    const { properties } = (await es.indices.getMapping({ index: p.index }))[p.index].mappings;
    // deno-lint-ignore no-explicit-any
    const indexed = (field: string) => (properties as any)[field].index !== false;
    assert.deepEqual(
      ["symbol", "interval", "period_start", "close", "rsi"].map(indexed),
      [true, true, true, false, false],
    );

    const overbought = bars.filter((b) => b.rsi !== null && b.rsi > 60);
    assert.ok(overbought.length > 0 && overbought.length < bars.length);
    const result = await es.search({
      index: p.index,
      size: 0,
      track_total_hits: true,
      query: { bool: { filter: [{ range: { rsi: { gt: 60 } } }] } },
      aggs: { top: { max: { field: "volume" } }, low: { min: { field: "close" } } },
    });
    const aggregations = result.aggregations as Record<"top" | "low", { value: number }>;
    assert.deepEqual(
      {
        hits: (result.hits.total as { value: number }).value,
        top: aggregations.top.value,
        low: aggregations.low.value,
      },
      {
        hits: overbought.length,
        top: Math.max(...overbought.map((b) => b.volume)),
        low: Math.min(...overbought.map((b) => b.close)),
      },
    );
  } finally {
    await es.close();
    await p.cleanup();
  }
});
