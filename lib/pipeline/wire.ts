/**
 * The record format the market workers share (RECORD_FORMAT): JSON, or Avro on the schema
 * registry — the market's records (`lib/market/wire_format.ts`) through the registry's codecs
 * (`lib/connectors/avro.ts`). This layer is where the two meet, so neither imports the other.
 * A worker opens it in `setup`: a topic it writes has its schema registered (an incompatible one
 * stops the worker with exit 2 before it writes anything); a topic it reads resolves whatever
 * writer schema a record names to the worker's own.
 *
 * @example
 * ```ts
 * const options = { recordFormat: "json", schemaRegistryUrl: "", schemaCompatibility: "BACKWARD",
 *   avroSchemas: "schemas" } as const;
 * const wire = await openWire(options, { bars: { topic: "market.bars", writes: true } });
 * ```
 * @module
 */
import { COMPATIBILITY_LEVELS, schemaRegistry } from "../connectors/schema_registry.ts";
import { avroWire, jsonWire, type WireFormat } from "../market/wire_format.ts";
import { ConfigError, oneOf, type OptionValues, str } from "../runtime/config.ts";

/** The options of a worker that reads or writes records as JSON or Avro. */
export const recordFormatOptions = {
  recordFormat: oneOf(
    "RECORD_FORMAT",
    "records on Kafka: json, or avro (Confluent wire format, schemas in the registry)",
    ["json", "avro"] as const,
    "json",
  ),
  schemaRegistryUrl: str(
    "SCHEMA_REGISTRY_URL",
    "Confluent-compatible schema registry (Apicurio: …/apis/ccompat/v7)",
    "http://127.0.0.1:8081/apis/ccompat/v7",
  ),
  schemaCompatibility: oneOf(
    "SCHEMA_COMPATIBILITY",
    "compatibility set on the subjects this worker registers",
    COMPATIBILITY_LEVELS,
    "BACKWARD",
  ),
  avroSchemas: str(
    "AVRO_SCHEMAS",
    "directory of the .avsc files (tick, source_bar, bar)",
    "schemas",
  ),
};

/** The resolved values of `recordFormatOptions`. */
export type RecordFormat = OptionValues<typeof recordFormatOptions>;

/** A topic of the pipeline as a worker uses it: its name, and whether this worker writes it. */
export interface TopicUse {
  topic: string;
  writes?: boolean;
}

function schemaFiles(dir: string, readAvroSchema: (dir: string, name: string) => unknown) {
  try {
    return {
      // The ticks topic carries ticks and source bars: its value schema is their union.
      input: [readAvroSchema(dir, "tick"), readAvroSchema(dir, "source_bar")],
      bars: readAvroSchema(dir, "bar"),
    };
  } catch (error) {
    throw new ConfigError(
      `AVRO_SCHEMAS: cannot read the schemas in ${dir}: ${(error as Error).message}`,
    );
  }
}

/** The wire format RECORD_FORMAT names, with the subjects of `topics` opened (Avro). */
export async function openWire(
  options: RecordFormat,
  topics: { input?: TopicUse; bars?: TopicUse },
): Promise<WireFormat> {
  if (options.recordFormat === "json") return jsonWire;
  // The Avro codec (avsc, a few MiB of heap that every full collection marks) only for Avro.
  const { AvroSubject, readAvroSchema } = await import("../connectors/avro.ts");
  const registry = schemaRegistry(options.schemaRegistryUrl);
  const schemas = schemaFiles(options.avroSchemas, readAvroSchema);
  const open = (use: TopicUse | undefined, schema: unknown) =>
    use &&
    AvroSubject.open(
      registry,
      `${use.topic}-value`,
      schema,
      use.writes ? options.schemaCompatibility : undefined,
    );
  return avroWire({
    input: await open(topics.input, schemas.input),
    bars: await open(topics.bars, schemas.bars),
  });
}
