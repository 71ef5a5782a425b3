/**
 * The record format a test run uses (RECORD_FORMAT, as the workers it spawns read it), so one
 * test checks both: records a test writes itself go out in that format, and records it reads
 * back come as the JSON text the same record has on a JSON topic, whatever format carried them.
 */
import { openWire, type TopicUse } from "../../lib/pipeline/wire.ts";
import { jsonWire, type WireFormat } from "../../lib/market/wire_format.ts";
import type { SourceBar, Tick } from "../../lib/market/types.ts";
import { readToEnd } from "../../lib/connectors/kafka/mod.ts";
import { type ConsumedRecord, kafka, registryUrl, requireServer, root } from "./servers.ts";

export const recordFormat = Deno.env.get("RECORD_FORMAT") === "avro" ? "avro" : "json";

/** The workers' wire format for `topics` (Avro: `writes` registers the schema, as a worker does). */
export async function openTestWire(
  topics: { input?: TopicUse; bars?: TopicUse },
  format: "json" | "avro" = recordFormat,
): Promise<WireFormat> {
  if (format === "avro") await requireServer("schema-registry");
  return openWire({
    recordFormat: format,
    schemaRegistryUrl: registryUrl,
    schemaCompatibility: "BACKWARD",
    avroSchemas: `${root}schemas`,
  }, topics);
}

const text = new TextDecoder();
const framed = (v: Uint8Array | null) => v !== null && v.byteLength >= 5 && v[0] === 0;

/** The registry's schema for `id` is the ticks topic's union (an array) or a bar record. */
async function topicKind(id: number): Promise<"input" | "bars"> {
  const res = await fetch(`${registryUrl}/schemas/ids/${id}`);
  if (!res.ok) throw new Error(`schema id ${id}: registry answered ${res.status}`);
  const { schema } = await res.json();
  return Array.isArray(JSON.parse(schema)) ? "input" : "bars";
}

/** Each value as JSON text: Confluent-framed Avro is decoded and written as JSON would be. */
export async function asJsonText(values: readonly (Uint8Array | null)[]): Promise<string[]> {
  const avro = values.filter(framed) as Uint8Array[];
  if (avro.length === 0) return values.map((v) => (v ? text.decode(v) : ""));
  // Read-only subjects: the name only appears in errors.
  const wire = await openTestWire(
    { input: { topic: "read-back" }, bars: { topic: "read-back" } },
    "avro",
  );
  const kinds = new Map<number, "input" | "bars">();
  for (const v of avro) {
    const id = new DataView(v.buffer, v.byteOffset).getUint32(1);
    if (!kinds.has(id)) kinds.set(id, await topicKind(id));
  }
  await wire.prefetch("input", avro);
  await wire.prefetch("bars", avro);
  const asText = (e: { value: string | Uint8Array }) =>
    typeof e.value === "string" ? e.value : text.decode(e.value);
  return values.map((v) => {
    if (!framed(v)) return v ? text.decode(v) : "";
    const kind = kinds.get(new DataView(v!.buffer, v!.byteOffset).getUint32(1))!;
    if (kind === "bars") return asText(jsonWire.encodeBar(wire.decodeBar(v, {})));
    const input = wire.decodeInput(v, {});
    const { kind: _, ...record } = input;
    return asText(
      input.kind === "tick"
        ? jsonWire.encodeTick(record as Tick)
        : jsonWire.encodeSourceBar(record as SourceBar),
    );
  });
}

/** Every record of `topic` up to the high-water marks, values as JSON text (see `asJsonText`). */
export async function readJson(topic: string): Promise<ConsumedRecord[]> {
  const records = await readToEnd(kafka, topic);
  const values = await asJsonText(records.map((r) => r.value ?? null));
  return records.map((r, i) => ({
    partition: r.partition,
    offset: r.offset,
    key: r.key ?? "",
    value: values[i],
    headers: r.headers,
  }));
}
