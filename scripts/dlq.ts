/**
 * Dead letters: `deno task dlq list` shows what is in the dead-letter topic (reason, source
 * topic/partition/offset, message, key); `deno task dlq replay` re-injects them into the topic
 * they came from, after a fix. Both filter by `--reason` (exact, or a prefix ending in `*`).
 *
 *   deno task dlq list [--reason late-record] [--limit 50] [--json]
 *   deno task dlq replay --reason invalid-json [--to market.ticks] [--dry-run]
 *
 * Options come from the same env vars as the workers (KAFKA_BROKERS, DLQ_TOPIC, ...).
 */
import { parseCommandLine } from "../lib/cli.ts";
import { bool, ConfigError, int, resolveOptions, str } from "../lib/config.ts";
import {
  createKafka,
  type KafkaConnection,
  kafkaOptions,
  openProducer,
  topicOption,
} from "../lib/kafka.ts";
import { createLogger } from "../lib/log.ts";
import { deadLetterHeaders as h } from "../lib/worker.ts";

const specs = {
  ...kafkaOptions,
  dlqTopic: topicOption("DLQ_TOPIC", "dead-letter topic", "market.dlq"),
  reason: str("REASON", "only dead letters with this reason (a trailing * matches a prefix)", ""),
  limit: int("LIMIT", "list at most this many", 100, { min: 1 }),
  json: bool("JSON", "list as JSON lines", false),
  to: str("TO", "replay into this topic instead of each record's source topic", ""),
  dryRun: bool("DRY_RUN", "replay: show what would be sent", false),
};

interface DeadLetter {
  partition: number;
  offset: string;
  key: string;
  value: Uint8Array;
  headers: Record<string, string>;
}

const matches = (pattern: string, reason: string) =>
  pattern === "" ||
  (pattern.endsWith("*") ? reason.startsWith(pattern.slice(0, -1)) : reason === pattern);

async function readDeadLetters(o: typeof values): Promise<DeadLetter[]> {
  const kafka = createKafka(o as KafkaConnection, createLogger("dlq", "error"), "dlq");
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(o.dlqTopic).catch(() => []);
  await admin.disconnect();
  const remaining = new Map<number, bigint>();
  for (const x of offsets) {
    if (BigInt(x.high) > BigInt(x.low)) remaining.set(x.partition, BigInt(x.high));
  }
  const out: DeadLetter[] = [];
  if (remaining.size === 0) return out;
  const consumer = kafka.consumer({
    groupId: `dlq-reader-${crypto.randomUUID()}`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: o.dlqTopic, fromBeginning: true });
  let done = () => {};
  const finished = new Promise<void>((r) => (done = r));
  await consumer.run({
    eachBatch: ({ batch }) => {
      for (const m of batch.messages) {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.headers ?? {})) {
          if (v !== undefined) headers[k] = String(v);
        }
        out.push({
          partition: batch.partition,
          offset: m.offset,
          key: m.key?.toString() ?? "",
          value: new Uint8Array(m.value ?? []),
          headers,
        });
      }
      const last = batch.messages.at(-1);
      if (last && BigInt(last.offset) + 1n >= (remaining.get(batch.partition) ?? 0n)) {
        remaining.delete(batch.partition);
      }
      if (remaining.size === 0) done();
      return Promise.resolve();
    },
  });
  await finished;
  await consumer.disconnect();
  return out.filter((d) => matches(o.reason, d.headers[h.reason] ?? ""));
}

const { flags, positionals } = parseCommandLine(Deno.args, ["json", "dry-run", "help"]);
const command = positionals[0];
if (flags.help || !["list", "replay"].includes(command)) {
  console.log(
    "usage: deno task dlq list|replay [--reason R] [--limit N] [--json] [--to TOPIC] [--dry-run]",
  );
  Deno.exit(flags.help ? 0 : 2);
}
let values: ReturnType<typeof resolveOptions<typeof specs>>;
try {
  values = resolveOptions(specs, { env: Deno.env.toObject(), flags });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`dlq: configuration error: ${error.message}`);
  Deno.exit(2);
}

const letters = await readDeadLetters(values);
if (command === "list") {
  const byReason = new Map<string, number>();
  for (const d of letters) {
    byReason.set(d.headers[h.reason], (byReason.get(d.headers[h.reason]) ?? 0) + 1);
  }
  for (const d of letters.slice(0, values.limit)) {
    const row = {
      reason: d.headers[h.reason],
      source: `${d.headers[h.topic]}[${d.headers[h.partition]}]@${d.headers[h.offset]}`,
      worker: d.headers[h.worker],
      at: d.headers[h.failedAt],
      key: d.key,
      message: d.headers[h.message],
    };
    console.log(
      values.json
        ? JSON.stringify(row)
        : `${row.reason.padEnd(24)} ${row.source.padEnd(36)} ${row.message}`,
    );
  }
  console.error(
    `${letters.length} dead letters${values.reason ? ` with reason ${values.reason}` : ""}: ${
      JSON.stringify(Object.fromEntries(byReason))
    }`,
  );
} else {
  const kafka = createKafka(values as KafkaConnection, createLogger("dlq", "error"), "dlq");
  const producer = values.dryRun ? null : await openProducer(kafka);
  const byTopic = new Map<string, DeadLetter[]>();
  for (const d of letters) {
    const topic = values.to || d.headers[h.topic];
    byTopic.set(topic, [...(byTopic.get(topic) ?? []), d]);
  }
  for (const [topic, list] of byTopic) {
    // The dead-letter headers go; the record's own headers (schema version, type) stay.
    const records = list.map((d) => ({
      key: d.key,
      value: d.value,
      headers: Object.fromEntries(Object.entries(d.headers).filter(([k]) => !k.startsWith("dlq."))),
    }));
    if (producer) await producer.send(topic, records);
    console.log(
      `${values.dryRun ? "would replay" : "replayed"} ${records.length} records into ${topic}`,
    );
  }
  await producer?.close();
}
