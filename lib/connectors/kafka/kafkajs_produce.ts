/**
 * kafkajs' work per produced record, replaced: grouping a send's messages by partition, and
 * encoding each partition's record batch.
 *
 * kafkajs encodes each record and each header through an `Encoder` of its own, which starts with
 * a zeroed 512-byte Buffer, grows by copying, and is copied again into the batch; varints go
 * through arrays and `Long`. On Deno that allocation alone was 37% of a producing worker's CPU,
 * and grouping by partition another 14%: it copies a partition's array for every message, so a
 * request of n messages costs n²/partitions copies (bench/history.md). Here kafkajs' `Record`
 * only keeps its fields, `RecordBatch` measures every record first and writes the whole batch
 * into one buffer of its exact size, and grouping appends. The bytes are kafkajs' own, byte for
 * byte, for every record kafkajs accepts — strings, Buffers, nulls, header arrays, compression —
 * so kafkajs' requests, retries and idempotent sequences are untouched. kafkajs is frozen at
 * 2.2.4 (pinned in deno.json), so what this replaces does not move under us.
 *
 * {@link installProducePath} must run before kafkajs loads: import kafkajs through
 * `./kafkajs.ts`, never directly.
 *
 * @example
 * ```ts
 * import { encodeRecordBatch, record } from "./kafkajs_produce.ts";
 * const batch = await encodeRecordBatch({
 *   records: [record({ offsetDelta: 0, key: "AAPL", value: "{}", headers: { kind: "tick" } })],
 *   firstTimestamp: 1_700_000_000_000,
 *   maxTimestamp: 1_700_000_000_000,
 * });
 * console.log(batch.size()); // 84: the offset, the length and the batch after it
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { SHORT_TEXT, utf8Length } from "./client.ts";
import { kafkajsModule, replaceKafkajsModule } from "./kafkajs_modules.ts";

/**
 * A value written as bytes: bytes as they are, anything else as the UTF-8 of its text. (kafkajs
 * itself mis-frames a Uint8Array that is not a Buffer — its length, then its text — and the
 * broker refuses the batch; here it is bytes.)
 */
type Bytes = Uint8Array | string | number | null | undefined;
type HeaderValue = Bytes | Bytes[];

/** What kafkajs' produce request gives `Record` for each message. */
export interface RecordFields {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Bytes;
  value?: Bytes;
  headers?: Record<string, HeaderValue>;
}

/** A 64-bit integer as kafkajs takes one: a number, a decimal string or its `Long` (a BigInt). */
type Int64 = number | string | bigint | { value: bigint };

/** What kafkajs' produce request gives `RecordBatch`. */
export interface BatchFields {
  compression?: number;
  firstOffset?: Int64;
  firstTimestamp?: Int64;
  maxTimestamp?: Int64;
  partitionLeaderEpoch?: number;
  lastOffsetDelta?: number;
  transactional?: boolean;
  producerId?: Int64;
  producerEpoch?: number;
  firstSequence?: number;
  records?: RecordFields[];
}

/** The part of kafkajs' `Encoder` its produce request reads from an encoded batch. */
export interface EncodedBatch {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
  size(): number;
}

interface KafkajsEncoder extends EncodedBatch {
  new (initialSize?: number): EncodedBatch;
}

interface Codec {
  compress(encoder: EncodedBatch): Promise<Buffer>;
}

/** kafkajs' `Record`: the fields, measured and written later with the rest of the batch. */
export const record = (fields: RecordFields): RecordFields => fields;

const MAGIC_BYTE = 2;
const TRANSACTIONAL_FLAG = 0x10;
const COMPRESSION_MASK = 0x7;
// Attributes int16, LastOffsetDelta int32, FirstTimestamp, MaxTimestamp and ProducerId int64,
// ProducerEpoch int16, FirstSequence int32, the record count int32.
const BODY_HEAD = 40;
// FirstOffset int64, Length int32; then PartitionLeaderEpoch int32, Magic int8, CRC uint32.
const BATCH_HEAD = 12 + 9;

/**
 * Encodes one record batch as kafkajs' `RecordBatch` does: FirstOffset, Length, then the batch
 * (its CRC-32C over everything after the CRC), in a kafkajs `Encoder` over one exact buffer.
 */
export async function encodeRecordBatch(fields: BatchFields): Promise<EncodedBatch> {
  const now = Date.now();
  const records = fields.records ?? [];
  const compression = (fields.compression ?? 0) & COMPRESSION_MASK;
  let payload: Buffer;
  if (compression === 0) {
    payload = writeRecords(records);
  } else {
    const { lookupCodec } = kafkajsModule("protocol/message/compression/index.js") as {
      lookupCodec(type: number): Codec;
    };
    payload = await lookupCodec(compression).compress(asEncoder(writeRecords(records)));
  }
  const size = BATCH_HEAD + BODY_HEAD + payload.length;
  const out = Buffer.allocUnsafe(size);
  writeInt64(out, 0, fields.firstOffset ?? 0);
  out.writeInt32BE(size - 12, 8);
  out.writeInt32BE(fields.partitionLeaderEpoch ?? 0, 12);
  out.writeInt8(MAGIC_BYTE, 16);
  const body = BATCH_HEAD;
  out.writeInt16BE(compression | (fields.transactional ? TRANSACTIONAL_FLAG : 0), body);
  out.writeInt32BE(fields.lastOffsetDelta ?? 0, body + 2);
  writeInt64(out, body + 6, fields.firstTimestamp ?? now);
  writeInt64(out, body + 14, fields.maxTimestamp ?? now);
  writeInt64(out, body + 22, fields.producerId ?? -1);
  out.writeInt16BE(fields.producerEpoch ?? 0, body + 30);
  out.writeInt32BE(fields.firstSequence ?? 0, body + 32);
  out.writeInt32BE(records.length, body + 36);
  out.set(payload, body + BODY_HEAD);
  out.writeUInt32BE(crc32c(out, body, size), 17);
  return asEncoder(out);
}

/** A kafkajs `Encoder` holding `bytes`, for kafkajs' produce request and codecs to copy. */
function asEncoder(bytes: Buffer): EncodedBatch {
  const Encoder = kafkajsModule("protocol/encoder.js") as KafkajsEncoder;
  const encoder = new Encoder(0);
  encoder.buf = bytes;
  encoder.offset = bytes.length;
  return encoder;
}

/** The records back to back: each its length varint, then its body. */
function writeRecords(records: RecordFields[]): Buffer {
  const sizes = new Array<number>(records.length);
  let total = 0;
  for (let i = 0; i < records.length; i++) {
    const body = recordBodySize(records[i]);
    sizes[i] = body;
    total += varintSize(body) + body;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    at = writeVarint(out, at, sizes[i]);
    out[at++] = 0; // attributes: none used by a record
    at = writeVarlong(out, at, r.timestampDelta ?? 0);
    at = writeVarint(out, at, r.offsetDelta ?? 0);
    at = writeBytes(out, at, r.key);
    at = writeBytes(out, at, r.value);
    const headers = r.headers ?? {};
    const names = Object.keys(headers);
    at = writeVarint(out, at, headerCount(headers, names));
    for (const name of names) {
      const value = headers[name];
      if (Array.isArray(value)) {
        for (const each of value) at = writeBytes(out, writeText(out, at, name), each);
      } else at = writeBytes(out, writeText(out, at, name), value);
    }
  }
  return out;
}

function recordBodySize(r: RecordFields): number {
  let size = 1 + varlongSize(r.timestampDelta ?? 0) + varintSize(r.offsetDelta ?? 0) +
    bytesSize(r.key) + bytesSize(r.value);
  const headers = r.headers ?? {};
  const names = Object.keys(headers);
  size += varintSize(headerCount(headers, names));
  for (const name of names) {
    const value = headers[name];
    const nameSize = textSize(name);
    if (Array.isArray(value)) {
      for (const each of value) size += nameSize + bytesSize(each);
    } else size += nameSize + bytesSize(value);
  }
  return size;
}

const headerCount = (headers: Record<string, HeaderValue>, names: string[]) => {
  let count = 0;
  for (const name of names) {
    const value = headers[name];
    count += Array.isArray(value) ? value.length : 1;
  }
  return count;
};

/** kafkajs writes anything but a Buffer as the text JavaScript gives it (`String(value)`). */
const asText = (value: Exclude<Bytes, Uint8Array | null | undefined>) =>
  typeof value === "string" ? value : String(value);

function bytesSize(value: Bytes): number {
  if (value == null) return 1; // length -1
  if (value instanceof Uint8Array) return varintSize(value.length) + value.length;
  return textSize(asText(value));
}

const textSize = (text: string) => {
  const length = utf8Length(text);
  return varintSize(length) + length;
};

function writeBytes(out: Buffer, at: number, value: Bytes): number {
  if (value == null) return writeVarint(out, at, -1);
  if (value instanceof Uint8Array) {
    at = writeVarint(out, at, value.length);
    out.set(value, at);
    return at + value.length;
  }
  return writeText(out, at, asText(value));
}

/**
 * Length-prefixed UTF-8. A JSON value is counted and written by the runtime (several times faster
 * than by character here); a short key or header, which is nearly always ASCII, is written as it
 * is read, after a prefix for as many bytes as characters, and the first other character sends
 * it to the runtime too.
 */
function writeText(out: Buffer, at: number, text: string): number {
  const chars = text.length;
  if (chars < SHORT_TEXT) {
    const start = at + varintSize(chars);
    let i = 0;
    for (; i < chars; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      out[start + i] = c;
    }
    if (i === chars) {
      writeVarint(out, at, chars);
      return start + chars;
    }
  }
  const length = utf8Length(text);
  at = writeVarint(out, at, length);
  return at + out.write(text, at, length, "utf8");
}

/** Bytes of a zigzag varint of a 32-bit integer. */
const varintSize = (value: number) => uvarintSize(((value << 1) ^ (value >> 31)) >>> 0);

function writeVarint(out: Buffer, at: number, value: number): number {
  return writeUvarint(out, at, ((value << 1) ^ (value >> 31)) >>> 0);
}

/** A 64-bit delta as kafkajs' `Long` takes a number: truncated, anything not finite as 0. */
const asInteger = (value: number) => (Number.isFinite(value) ? Math.trunc(value) : 0);

/** Zigzag of a 64-bit integer: exact as a number while it fits a double's 53 bits. */
function zigzag(value: number): number | bigint {
  const v = asInteger(value);
  if (v >= -(2 ** 52) && v < 2 ** 52) return v >= 0 ? v * 2 : -v * 2 - 1;
  const big = BigInt.asIntN(64, BigInt(v));
  return BigInt.asUintN(64, (big << 1n) ^ (big >> 63n));
}

function varlongSize(value: number): number {
  const z = zigzag(value);
  return typeof z === "bigint" ? Math.ceil(z.toString(2).length / 7) : uvarintSize(z);
}

function writeVarlong(out: Buffer, at: number, value: number): number {
  let z = zigzag(value);
  if (typeof z === "number") return writeUvarint(out, at, z);
  while (z >= 0x80n) {
    out[at++] = Number(z & 0x7fn) | 0x80;
    z >>= 7n;
  }
  out[at++] = Number(z);
  return at;
}

/** Bytes of an unsigned varint of a non-negative integer below 2^53. */
function uvarintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeUvarint(out: Buffer, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}

/** kafkajs' `writeInt64`: a `Long`, a decimal string or a number, wrapped to 64 bits. */
function writeInt64(out: Buffer, at: number, value: Int64): void {
  let big: bigint;
  if (typeof value === "bigint") big = value;
  else if (typeof value === "number") big = BigInt(asInteger(value));
  else if (typeof value === "string") big = BigInt(value);
  else big = value.value;
  out.writeBigInt64BE(BigInt.asIntN(64, big), at);
}

/** CRC-32C (Castagnoli, reflected 0x82f63b78) of `bytes` from `from` to `to`, 8 bytes a step. */
export function crc32c(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let crc = ~0;
  let i = from;
  for (; i + 8 <= to; i += 8) {
    const low = crc ^
      (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    crc = CRC_TABLES[7 * 256 + (low & 0xff)] ^ CRC_TABLES[6 * 256 + ((low >>> 8) & 0xff)] ^
      CRC_TABLES[5 * 256 + ((low >>> 16) & 0xff)] ^ CRC_TABLES[4 * 256 + (low >>> 24)] ^
      CRC_TABLES[3 * 256 + bytes[i + 4]] ^ CRC_TABLES[2 * 256 + bytes[i + 5]] ^
      CRC_TABLES[256 + bytes[i + 6]] ^ CRC_TABLES[bytes[i + 7]];
  }
  for (; i < to; i++) crc = CRC_TABLES[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

/**
 * Eight tables: the first is the byte-at-a-time table, table k advances a byte's CRC through k
 * more zero bytes, so eight bytes are folded in with eight lookups and no loop-carried shifts.
 */
const CRC_TABLES = (() => {
  const tables = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    tables[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const previous = tables[(k - 1) * 256 + n];
      tables[k * 256 + n] = tables[previous & 0xff] ^ (previous >>> 8);
    }
  }
  return tables;
})();

/** What kafkajs' sendMessages gives its grouping, and the partitioner it calls per message. */
export interface GroupFields<M> {
  topic: string;
  partitionMetadata: unknown[];
  messages: M[];
  partitioner(args: { topic: string; partitionMetadata: unknown[]; message: M }): number;
}

/** kafkajs' messages per partition, in their order: the same object kafkajs builds, in one pass. */
export function groupByPartition<M>(fields: GroupFields<M>): Record<number, M[]> {
  const { topic, partitionMetadata, messages, partitioner } = fields;
  const groups: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return groups;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (groups[partition] ??= []).push(message);
  }
  return groups;
}

/**
 * Puts {@link groupByPartition}, {@link record} and {@link encodeRecordBatch} where kafkajs'
 * producer will load them. Throws when kafkajs is already loaded: it would keep its own, silently.
 */
export function installProducePath(): void {
  replaceKafkajsModule("producer/groupMessagesPerPartition.js", groupByPartition, "grouping");
  replaceKafkajsModule("protocol/recordBatch/record/v0/index.js", record, "record encoder");
  replaceKafkajsModule("protocol/recordBatch/v0/index.js", batchModule, "record-batch encoder");
}

// kafkajs' fetch decoding reads MAGIC_BYTE from the same module.
const batchModule = { RecordBatch: encodeRecordBatch, MAGIC_BYTE };
