/**
 * sink — bars with indicators from `market.bars` into PostgreSQL and Elasticsearch.
 *
 * Each batch keeps the newest version of every bar, upserts it into PostgreSQL (`bars`,
 * `indicators`) and bulk-indexes it into Elasticsearch under the same deterministic id; the
 * offsets are committed only after both stores acknowledged. A document Elasticsearch can never
 * index goes to the dead-letter topic; the rest of the batch goes on.
 *
 *   deno task sink                        # continuous
 *   deno task sink --once                 # drain what is there now, then exit 0 (cron, CronJob)
 *   deno task sink --schedule "*\/5 * * * *"
 */
import { elasticsearchOutput } from "../lib/elasticsearch.ts";
import { name } from "../lib/config.ts";
import { topicOption } from "../lib/kafka.ts";
import {
  barColumns,
  barDocument,
  barIndexTemplate,
  barKey,
  barRow,
  checkKey,
  decodeBar,
  headerNames,
  type IndicatorBar,
  indicatorColumns,
  indicatorRow,
  migrations,
} from "../lib/market/mod.ts";
import { postgresOutput } from "../lib/postgres.ts";
import { RecordError } from "../lib/record_error.ts";
import { defineWorker, kafkaTopic, type Message, run } from "../lib/worker.ts";

export const sink = defineWorker({
  name: "sink",
  description: "bars with indicators into PostgreSQL and Elasticsearch",
  trigger: kafkaTopic(topicOption("BARS_TOPIC", "input topic of bars", "market.bars"), {
    group: "sink",
    batchSize: 3000,
    batchWindowMs: 500,
    // Partitions hold different symbols, so their batches never write the same row.
    concurrency: 3,
  }),
  outputs: {
    postgres: postgresOutput(migrations),
    elasticsearch: elasticsearchOutput(
      name("ELASTICSEARCH_INDEX", "index for bars", "market-bars"),
      barIndexTemplate,
    ),
  },
  options: {},
  httpPort: 9103,

  decode(record) {
    const bar = decodeBar(record.value, record.headers);
    checkKey(record.key, bar.symbol);
    return bar;
  },

  async handle(batch, { outputs, deadLetter, metrics }) {
    // A bar is republished while it is open; only its newest version in the batch is written,
    // and it stands for the oldest tick behind any of its versions.
    const latest = new Map<string, Message<IndicatorBar>>();
    const ingestedAt = new Map<string, number>();
    for (const m of batch) {
      const key = barKey(m.value);
      latest.delete(key);
      latest.set(key, m);
      const at = Number(m.record.headers[headerNames.ingestedAt]);
      const seen = ingestedAt.get(key);
      if (at > 0 && (seen === undefined || at < seen)) ingestedAt.set(key, at);
    }
    const messages = [...latest.values()];
    const bars = messages.map((m) => m.value);
    const observeLatency = (output: string) => {
      const now = Date.now();
      for (const at of ingestedAt.values()) {
        metrics.ingestLatency.observe({ output }, (now - at) / 1000);
      }
    };

    // The two tables and the index are independent writes of the same keys: all at once.
    const [, indexed] = await Promise.all([
      Promise.all([
        outputs.postgres.upsert("bars", barColumns, 3, bars.map(barRow)),
        outputs.postgres.upsert("indicators", indicatorColumns, 3, bars.map(indicatorRow)),
      ]).then(() => observeLatency("postgres")),
      outputs.elasticsearch.bulk(bars.map(barDocument)).then((result) => {
        observeLatency("elasticsearch");
        return result;
      }),
    ]);

    for (const rejected of indexed.rejected) {
      const reason = `elasticsearch rejected the document: ${rejected.reason}`;
      await deadLetter(
        messages[rejected.position].record,
        new RecordError(reason, undefined, "index-rejected"),
      );
    }
  },
});

if (import.meta.main) await run(sink);
