/**
 * The S&P 500 daily series (vega-datasets, 2000-01-03 … 2020-04-17, 5,105 rows) through ingest,
 * transform and sink into real PostgreSQL and Elasticsearch.
 */
import assert from "node:assert/strict";
import { parseCsv } from "../../lib/market/csv.ts";
import { periodStart } from "../../lib/market/intervals.ts";
import { encodeSourceBar } from "../../lib/market/record.ts";
import {
  drain,
  dumpElasticsearch,
  dumpPostgres,
  groups,
  ingestCsv,
  killAndRestart,
  pipelineEnv,
  type Row,
} from "../support/pipeline.ts";
import { produce, readAll, requireServer, root } from "../support/servers.ts";

const csvPath = `${root}node_modules/vega-datasets/data/sp500-2000.csv`;
const csv = parseCsv(Deno.readTextFileSync(csvPath), "SP500");

function countBy(rows: Row[], key: string) {
  const out: Record<string, number> = {};
  for (const r of rows) out[String(r[key])] = (out[String(r[key])] ?? 0) + 1;
  return out;
}

const iso = (ts: number) => new Date(ts).toISOString().slice(0, 19);

Deno.test("the S&P 500 series lands in PostgreSQL and Elasticsearch exactly once and correct, whatever the batch size or crashes", async (t) => {
  await requireServer("kafka");
  await requireServer("postgres");
  await requireServer("elasticsearch");
  assert.equal(csv.bars.length, 5105, "the bundled series has 5,105 rows");
  const p = await pipelineEnv();
  try {
    // Malformed records between valid ones: each must reach the dead-letter topic.
    const bad = [
      {
        key: "SP500",
        value: "{not json",
        headers: { "schema-version": "1", "record-type": "bar" },
      },
      {
        key: "SP500",
        value: JSON.stringify({
          symbol: "SP500",
          ts: "2030-01-01T00:00:00Z",
          open: 2.5,
          high: 2,
          low: 3,
          close: 2.5,
          volume: 1,
        }),
        headers: { "schema-version": "1", "record-type": "bar" },
      },
      {
        key: "SP500",
        value: encodeSourceBar(csv.bars[0]).value,
        headers: { "schema-version": "9", "record-type": "bar" },
      },
    ];
    await produce(p.topics.ticks, bad);
    await ingestCsv(p);

    const baseline = groups("baseline");
    await t.step("one batch of 10,000", async () => {
      await drain("transform", p, { ...baseline.transform, BATCH_SIZE: "10000" });
      await drain("sink", p, { ...baseline.sink, BATCH_SIZE: "10000" });
    });
    const expected = await dumpPostgres(p.db.pool);

    await t.step("row counts per interval match the CSV in both stores", async () => {
      const weeks = new Set(csv.bars.map((b) => periodStart("1w", b.ts))).size;
      const months = new Set(csv.bars.map((b) => periodStart("1mo", b.ts))).size;
      const want = { "1d": 5105, "1w": weeks, "1mo": months };
      assert.deepEqual(countBy(expected, "interval"), want);
      const es = await dumpElasticsearch(p.index);
      assert.deepEqual(countBy(es, "interval"), want);
      assert.deepEqual(es, expected, "Elasticsearch holds exactly what PostgreSQL holds");
      console.log(`rows per interval: ${JSON.stringify(want)}`);
    });

    await t.step("the first and last daily bars equal the CSV rows", () => {
      const daily = expected.filter((r) => r.interval === "1d");
      for (
        const [row, bar] of [[daily[0], csv.bars[0]], [daily.at(-1)!, csv.bars.at(-1)!]] as const
      ) {
        assert.deepEqual(
          [row.start, row.open, row.high, row.low, row.close, row.volume],
          [iso(bar.ts), bar.open, bar.high, bar.low, bar.close, bar.volume],
        );
      }
      assert.equal(daily[0].ret, null, "the first bar has no return");
    });

    await t.step("the October 2008 monthly bar equals one computed here from the CSV rows", () => {
      const rows = csv.bars.filter((b) => new Date(b.ts).toISOString().startsWith("2008-10"));
      const want = {
        open: rows[0].open,
        high: Math.max(...rows.map((r) => r.high)),
        low: Math.min(...rows.map((r) => r.low)),
        close: rows.at(-1)!.close,
        volume: rows.reduce((s, r) => s + r.volume, 0),
      };
      const got = expected.find((r) => r.interval === "1mo" && r.start === "2008-10-01T00:00:00")!;
      assert.deepEqual(
        { open: got.open, high: got.high, low: got.low, close: got.close, volume: got.volume },
        want,
      );
      const september = expected.find((r) =>
        r.interval === "1mo" && r.start === "2008-09-01T00:00:00"
      )!;
      assert.ok(
        Math.abs((got.ret as number) - (want.close / (september.close as number) - 1)) < 1e-12,
      );
    });

    await t.step("malformed records are in the dead-letter topic with reasons", async () => {
      const dlq = await readAll(p.topics.dlq);
      // Run with RECORD_FORMAT=avro (`deno task test:avro`), JSON payloads are not Avro at all.
      const avro = Deno.env.get("RECORD_FORMAT") === "avro";
      assert.deepEqual(
        dlq.map((d) => d.headers["dlq.reason"]).sort(),
        avro
          ? ["not-avro", "not-avro", "not-avro"]
          : ["high-below-low", "invalid-json", "unknown-schema-version"],
      );
      assert.ok(
        dlq.every((d) =>
          d.headers["dlq.topic"] === p.topics.ticks && d.headers["dlq.worker"] === "transform"
        ),
      );
    });

    for (const size of ["1", "100"]) {
      await t.step(`batch size ${size} gives identical tables`, async () => {
        await p.db.pool.query("truncate bars, indicators");
        const g = groups(`batch-${size}`);
        await drain("transform", p, {
          ...g.transform,
          BATCH_SIZE: size,
          TRANSFORM_STATE_TOPIC: `${p.topics.state}-${size}`,
          BARS_TOPIC: `${p.topics.bars}-${size}`,
        });
        await drain("sink", p, {
          ...g.sink,
          BATCH_SIZE: size,
          BARS_TOPIC: `${p.topics.bars}-${size}`,
        });
        assert.deepEqual(await dumpPostgres(p.db.pool), expected);
      });
    }

    await t.step(
      "transform and sink SIGKILLed and restarted midway give identical tables",
      async () => {
        await p.db.pool.query("truncate bars, indicators");
        const g = groups("killed");
        const env = {
          TRANSFORM_STATE_TOPIC: `${p.topics.state}-killed`,
          BARS_TOPIC: `${p.topics.bars}-killed`,
          BATCH_SIZE: "50",
        };
        await killAndRestart("transform", p, { ...g.transform, ...env }, 3, 11);
        await killAndRestart("sink", p, { ...g.sink, ...env }, 3, 12);
        assert.deepEqual(await dumpPostgres(p.db.pool), expected);
      },
    );
  } finally {
    await p.cleanup();
  }
});
