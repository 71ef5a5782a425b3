/**
 * Avro records in the Confluent wire format — magic byte 0, the writer schema's id (4 bytes, big
 * endian), the Avro binary — on one subject of a schema registry. A producer registers its schema
 * at start (refused when incompatible: the worker stops before writing anything); a consumer
 * reads whatever schema id a record carries, fetched once and cached, resolved to its own reader
 * schema, so old and new writers coexist. A record with an unknown id, bytes that are not Avro of
 * its writer schema, or a writer schema the reader cannot resolve is a record error (dead letter);
 * a registry that does not answer fails the slice, which is retried without a commit.
 *
 * @example
 * ```ts
 * import { schemaRegistry } from "./schema_registry.ts";
 * const registry = schemaRegistry("http://127.0.0.1:8081/apis/ccompat/v7");
 * const schema = { type: "record", name: "T", fields: [{ name: "n", type: "long" }] };
 * const subject = await AvroSubject.open(registry, "t-value", schema, "BACKWARD");
 * const bytes = subject.encode({ n: 1 });
 * await subject.prefetch([bytes]);
 * subject.decode(bytes); // { n: 1 }
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import avro from "avsc";
import { RecordError } from "../runtime/record_error.ts";
import type { Compatibility, SchemaRegistry } from "./schema_registry.ts";

/** Reads `<dir>/<name>.avsc`. */
export function readAvroSchema(dir: string, name: string): unknown {
  return JSON.parse(Deno.readTextFileSync(`${dir}/${name}.avsc`));
}

const MAGIC = 0;
// Records of two types on one topic (ticks and source bars) are a union: decoded values name
// their branch ({"market.Tick": {...}}); nullable fields stay plain. A new object each time:
// avsc keeps its registry of named types in the options it is given.
const typeOptions = () => ({ wrapUnions: "auto" as const });

type Resolved = { type: avro.Type; resolver: avro.Resolver } | { unknown: true } | {
  unresolvable: string;
};

/** One subject: this side's schema, and the writer schemas met so far, by id. */
export class AvroSubject {
  readonly type: avro.Type;
  #writerId?: number;
  #header?: Buffer;
  #writers = new Map<number, Resolved>();

  private constructor(
    readonly registry: SchemaRegistry,
    readonly subject: string,
    schema: unknown,
  ) {
    this.type = avro.Type.forSchema(schema as avro.Schema, typeOptions());
  }

  /**
   * A subject to read (any writer id, resolved to `schema`) and, with `compatibility`, to write:
   * `schema` registered under the subject with that compatibility first.
   */
  static async open(
    registry: SchemaRegistry,
    subject: string,
    schema: unknown,
    compatibility?: Compatibility,
  ): Promise<AvroSubject> {
    const s = new AvroSubject(registry, subject, schema);
    if (compatibility) {
      const id = await registry.register(subject, schema, compatibility);
      s.#writerId = id;
      s.#header = Buffer.alloc(5);
      s.#header.writeUInt8(MAGIC, 0);
      s.#header.writeUInt32BE(id, 1);
    }
    return s;
  }

  /** The id this side writes with (after registering). */
  get writerId(): number | undefined {
    return this.#writerId;
  }

  /** `value` as a Confluent-framed Avro record. */
  encode(value: unknown): Uint8Array {
    if (!this.#header) throw new Error(`${this.subject}: opened for reading only`);
    return Buffer.concat([this.#header, this.type.toBuffer(value)]);
  }

  /** Fetches the writer schemas of `values` not met yet (before a slice is decoded). */
  async prefetch(values: readonly (Uint8Array | null)[]): Promise<void> {
    const missing = new Set<number>();
    for (const v of values) {
      const id = framedId(v);
      if (id !== undefined && !this.#writers.has(id)) missing.add(id);
    }
    for (const id of missing) {
      const text = await this.registry.schemaById(id);
      this.#writers.set(id, text === undefined ? { unknown: true } : this.#resolve(text));
    }
  }

  #resolve(text: string): Resolved {
    try {
      const writer = avro.Type.forSchema(JSON.parse(text), typeOptions());
      return { type: writer, resolver: this.type.createResolver(writer) };
    } catch (error) {
      return { unresolvable: (error as Error).message.slice(0, 200) };
    }
  }

  /** The record's value in this side's schema; a record error when it cannot be read. */
  decode(value: Uint8Array | null): unknown {
    const id = framedId(value);
    if (id === undefined) {
      throw new RecordError(
        "not a Confluent Avro record (no magic byte 0 and schema id)",
        undefined,
        "not-avro",
      );
    }
    const writer = this.#writers.get(id);
    if (!writer) throw new Error(`${this.subject}: schema ${id} was not fetched before decoding`);
    if ("unknown" in writer) {
      throw new RecordError(
        `schema id ${id} is unknown to the registry`,
        undefined,
        "unknown-schema-id",
      );
    }
    if ("unresolvable" in writer) {
      throw new RecordError(
        `schema id ${id} cannot be read as ${this.subject}: ${writer.unresolvable}`,
        undefined,
        "incompatible-schema",
      );
    }
    const bytes = Buffer.from(value!.buffer, value!.byteOffset + 5, value!.byteLength - 5);
    let decoded: { value: unknown; offset: number };
    try {
      decoded = this.type.decode(bytes, 0, writer.resolver);
    } catch (error) {
      throw new RecordError(
        `bytes are not Avro of schema ${id}: ${(error as Error).message.slice(0, 200)}`,
        undefined,
        "invalid-avro",
      );
    }
    if (decoded.offset < 0) {
      throw new RecordError(`record truncated (schema ${id})`, undefined, "invalid-avro");
    }
    if (decoded.offset !== bytes.length) {
      throw new RecordError(
        `${bytes.length - decoded.offset} bytes after the record (schema ${id})`,
        undefined,
        "invalid-avro",
      );
    }
    return decoded.value;
  }
}

/** The schema id of a Confluent-framed record, or `undefined` when it is not one. */
function framedId(value: Uint8Array | null): number | undefined {
  if (!value || value.byteLength < 5 || value[0] !== MAGIC) return undefined;
  return ((value[1] << 24) >>> 0) + (value[2] << 16) + (value[3] << 8) + value[4];
}
