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
import { parseCommandLine } from "../lib/runtime/cli.ts";
import { bool, ConfigError, int, resolveOptions, str } from "../lib/runtime/config.ts";
import {
  createKafka,
  type KafkaConnection,
  kafkaOptions,
  type KafkaRecord,
  openProducer,
  readToEnd,
  topicOption,
} from "../lib/connectors/kafka/mod.ts";
import { createLogger, logProcessWarnings } from "../lib/runtime/log.ts";
import { deadLetterHeaders as h } from "../lib/runtime/mod.ts";

/** Only errors: these scripts print their own progress. */
const log = createLogger("dlq", "error");
logProcessWarnings(log);

const specs = {
  ...kafkaOptions,
  dlqTopic: topicOption("DLQ_TOPIC", "dead-letter topic", "market.dlq"),
  reason: str("REASON", "only dead letters with this reason (a trailing * matches a prefix)", ""),
  limit: int("LIMIT", "list at most this many", 100, { min: 1 }),
  json: bool("JSON", "list as JSON lines", false),
  to: str("TO", "replay into this topic instead of each record's source topic", ""),
  dryRun: bool("DRY_RUN", "replay: show what would be sent", false),
};

const matches = (pattern: string, reason: string) =>
  pattern === "" ||
  (pattern.endsWith("*") ? reason.startsWith(pattern.slice(0, -1)) : reason === pattern);

async function readDeadLetters(o: typeof values): Promise<KafkaRecord[]> {
  const kafka = createKafka(o as KafkaConnection, log, "dlq");
  const letters = await readToEnd(kafka, o.dlqTopic);
  return letters.filter((d) => matches(o.reason, d.headers[h.reason] ?? ""));
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

/** A dead letter's payload for a person: JSON text as it is, Avro by its schema id and size. */
function describeValue(value: Uint8Array | null): string {
  if (!value || value.byteLength === 0) return "(empty)";
  if (value[0] === 0 && value.byteLength >= 5) {
    const id = new DataView(value.buffer, value.byteOffset).getUint32(1);
    return `avro, schema id ${id}, ${value.byteLength} bytes`;
  }
  const text = new TextDecoder().decode(value.subarray(0, 200));
  return value.byteLength > 200 ? `${text}…` : text;
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
      value: describeValue(d.value),
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
  const kafka = createKafka(values as KafkaConnection, log, "dlq");
  const producer = values.dryRun ? null : await openProducer(kafka, values as KafkaConnection);
  const byTopic = new Map<string, KafkaRecord[]>();
  for (const d of letters) {
    const topic = values.to || d.headers[h.topic];
    byTopic.set(topic, [...(byTopic.get(topic) ?? []), d]);
  }
  for (const [topic, list] of byTopic) {
    // The dead-letter headers go; the record's own headers (schema version, type) stay.
    const records = list.map((d) => ({
      key: d.key ?? "",
      value: d.value ?? new Uint8Array(),
      headers: Object.fromEntries(Object.entries(d.headers).filter(([k]) => !k.startsWith("dlq."))),
    }));
    if (producer) await producer.send(topic, records);
    console.log(
      `${values.dryRun ? "would replay" : "replayed"} ${records.length} records into ${topic}`,
    );
  }
  await producer?.close();
}
