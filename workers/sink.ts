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
import { elasticsearchOutput } from "../lib/connectors/elasticsearch.ts";
import { kafkaTopic, topicOption, triggerTopic } from "../lib/connectors/kafka/mod.ts";
import { postgresOutput } from "../lib/connectors/postgres.ts";
import {
  barIndexTemplate,
  barsIndex,
  barTables,
  checkKey,
  database,
  InvalidRecord,
  jsonWire,
  latestVersions,
  migrations,
  topics,
  type WireFormat,
} from "../lib/market/mod.ts";
import { openWire, recordFormatOptions } from "../lib/pipeline/wire.ts";
import { defineWorker, name, run } from "../lib/runtime/mod.ts";

const input = topicOption("BARS_TOPIC", "input topic of bars", topics.bars);
// JSON, or Avro resolved to this sink's bar schema (RECORD_FORMAT; see setup).
let wire: WireFormat = jsonWire;

export const sink = defineWorker({
  name: "sink",
  description: "bars with indicators into PostgreSQL and Elasticsearch",
  trigger: kafkaTopic(input, {
    group: "sink",
    deadLetters: topicOption("DLQ_TOPIC", "dead-letter topic", topics.deadLetters),
    batchSize: 3000,
    // Draining a backlog, fetches fill at once and the window does not matter; when bars trickle
    // in, it is most of the latency (see transform).
    batchWindowMs: 100,
    // Partitions hold different symbols, so their batches never write the same row. A slice
    // mostly waits on the stores, so every partition of the default six at once (drained 7–12%
    // faster than three at a time, same CPU and RSS).
    concurrency: 6,
    // A bar is ≈ 400 bytes: 1 MiB a fetch is still ≈ 2,500 bars, and 4 MiB fetches cost more
    // CPU and ≈ 60 MiB more RSS, decoded at once and kept past young collections.
    fetchMaxBytes: 1 << 20,
  }),
  outputs: {
    postgres: postgresOutput(migrations, database),
    elasticsearch: elasticsearchOutput(
      name("ELASTICSEARCH_INDEX", "index for bars", barsIndex),
      barIndexTemplate,
    ),
  },
  options: { ...recordFormatOptions },
  httpPort: 9103,

  async setup({ options }) {
    wire = await openWire(options, { bars: { topic: triggerTopic(options, input) } });
  },

  beforeDecode: (records) => wire.prefetch("bars", records.map((r) => r.value)),

  decode(record) {
    // Straight into the form both stores take: its id and its document's JSON.
    const bar = wire.decodeStoredBar(record.value, record.headers, record.key);
    checkKey(record.key, bar.symbol);
    return bar;
  },

  async handle(batch, { outputs, deadLetter }) {
    // A bar is republished while it is open; only its newest version in the batch is written.
    const messages = latestVersions(batch, (m) => m.value.id);
    const docs = messages.map((m) => m.value);

    // The tables (one statement) and the index are independent writes of the same keys: at once.
    // One JSON document a bar, for both: the tables read their columns from its fields.
    const [, indexed] = await Promise.all([
      outputs.postgres.upsert(barTables, docs.map((d) => d.doc)),
      outputs.elasticsearch.bulk(docs),
    ]);

    for (const rejected of indexed.rejected) {
      const reason = `elasticsearch rejected the document: ${rejected.reason}`;
      await deadLetter(
        messages[rejected.position].record,
        new InvalidRecord(reason, undefined, "index-rejected"),
      );
    }
  },
});

if (import.meta.main) await run(sink);
