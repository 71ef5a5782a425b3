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
    const rows = parseCsv(
      Deno.readTextFileSync(`${root}node_modules/vega-datasets/data/sp500-2000.csv`),
      "SP500",
    )
      .bars.slice(0, 60);
    const bars = buildBars(new Map(), rows.map((b) => ({ kind: "bar" as const, ...b })), {
      tickIntervals: [],
      barIntervals: ["1d"],
      periods: defaultPeriods,
    }).bars;
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
