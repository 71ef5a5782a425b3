/**
 * kafkajs' record-batch decoder, replaced by one that reads each fetched batch in a single pass.
 *
 * kafkajs decodes a record through a `Decoder` object of its own, `Long` arithmetic for its offset
 * and timestamp, a copy of the header object per header and several Buffer slices: a third of a
 * consuming worker's CPU before our code sees the record (see bench/history.md). kafkajs has
 * been frozen since 2.2.4 (February 2023), the version pinned in deno.json, so the module this
 * replaces does not move under us. The messages keep kafkajs' shape exactly — offset and
 * timestamp as decimal strings, key, value and header values as Buffers (null when absent),
 * repeated header keys as arrays — so every kafkajs consumer in the process, ours or a tool's,
 * reads what kafkajs would have given it.
 *
 * {@link installRecordBatchDecoder} must run before kafkajs is loaded (kafkajs captures the
 * decoder when its modules load): import kafkajs through `./kafkajs.ts`, never directly.
 *
 * @example
 * ```ts
 * import { Buffer } from "node:buffer";
 * import { decodeRecordBatch } from "./kafkajs_record_batch.ts";
 * // A fetch response's partition data holds batches back to back; this one has no records.
 * const empty = Buffer.alloc(61);
 * empty.writeInt32BE(49, 8); // the batch's length after its first 12 bytes
 * empty.writeInt8(2, 16); // magic
 * const fetched = { buffer: empty, offset: 0 };
 * const batch = await decodeRecordBatch(fetched);
 * console.log(batch.records.length, fetched.offset); // 0 61
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import type { StreamRecord } from "../../runtime/stream.ts";
import { asciiText } from "./client.ts";
import { kafkajsModule, replaceKafkajsModule } from "./kafkajs_modules.ts";

/** The part of kafkajs' `Decoder` this reads: the response's bytes and the read position. */
export interface FetchDecoder {
  buffer: Buffer;
  offset: number;
}

/** What kafkajs' record-batch decoder returns for one batch. */
export interface DecodedBatch extends BatchContext {
  records: DecodedMessage[];
}

interface BatchContext {
  firstOffset: string;
  firstTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  maxTimestamp: string;
  timestampType: number;
  magicByte?: number;
}

/** One record as kafkajs hands it to `eachBatch`. */
export interface DecodedMessage {
  magicByte: number;
  attributes: number;
  timestamp: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | (Buffer | null)[]>;
  isControlRecord: boolean;
  batchContext: BatchContext;
}

interface Codec {
  decompress(compressed: Buffer): Promise<Buffer>;
}

// The batch header, from the batch's first byte: FirstOffset int64, Length int32,
// PartitionLeaderEpoch int32, Magic int8, CRC int32, Attributes int16, LastOffsetDelta int32,
// FirstTimestamp int64, MaxTimestamp int64, ProducerId int64, ProducerEpoch int16,
// FirstSequence int32, then the record count int32 and the records.
const LENGTH_END = 12;
const RECORDS_AT = 61;
const LOG_APPEND_TIME = 1;
const TIMESTAMP_TYPE_FLAG = 0x8;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;
const COMPRESSION_MASK = 0x7;

/** A batch cut off by the fetch's size limit: kafkajs stops reading the partition's data there. */
class PartialBatchError extends Error {
  override name = "KafkaJSPartialMessageError";
}

/** A record's fields are varints; a corrupt one must not read past the batch. */
class CorruptBatchError extends Error {
  override name = "KafkaJSCorruptRecordBatch";
}

/**
 * Decodes the record batch at `fetched.offset` and moves past it. Throws a
 * `KafkaJSPartialMessageError` (by name, as kafkajs does) when the batch is cut off.
 */
export async function decodeRecordBatch(fetched: FetchDecoder): Promise<DecodedBatch> {
  const buf = fetched.buffer;
  const start = fetched.offset;
  const length = buf.readInt32BE(start + 8);
  const end = start + LENGTH_END + length;
  fetched.offset = end;
  if (end > buf.length) {
    throw new PartialBatchError(
      `Tried to decode a partial record batch: remainingBytes(${
        buf.length - start - LENGTH_END
      }) < recordBatchLength(${length})`,
    );
  }
  const attributes = buf.readInt16BE(start + 21);
  const context: BatchContext = {
    firstOffset: buf.readBigInt64BE(start).toString(),
    firstTimestamp: buf.readBigInt64BE(start + 27).toString(),
    partitionLeaderEpoch: buf.readInt32BE(start + 12),
    inTransaction: (attributes & TRANSACTIONAL_FLAG) !== 0,
    isControlBatch: (attributes & CONTROL_FLAG) !== 0,
    lastOffsetDelta: buf.readInt32BE(start + 23),
    producerId: buf.readBigInt64BE(start + 43).toString(),
    producerEpoch: buf.readInt16BE(start + 51),
    firstSequence: buf.readInt32BE(start + 53),
    maxTimestamp: buf.readBigInt64BE(start + 35).toString(),
    timestampType: (attributes & TIMESTAMP_TYPE_FLAG) !== 0 ? LOG_APPEND_TIME : 0,
  };
  const batchContext = { ...context, magicByte: buf.readInt8(start + 16) };
  const count = buf.readInt32BE(start + RECORDS_AT - 4);
  const codecType = attributes & COMPRESSION_MASK;
  if (count <= 0) return { ...context, records: [] };
  if (codecType === 0) {
    return {
      ...context,
      records: decodeRecords(buf, start + RECORDS_AT, end, count, batchContext),
    };
  }
  const codec = compressionCodec(attributes);
  const inflated = await codec.decompress(buf.subarray(start + RECORDS_AT, end));
  return { ...context, records: decodeRecords(inflated, 0, inflated.length, count, batchContext) };
}

function compressionCodec(attributes: number): Codec {
  const { lookupCodecByAttributes } = kafkajsModule("protocol/message/compression/index.js") as {
    lookupCodecByAttributes(attributes: number): Codec;
  };
  return lookupCodecByAttributes(attributes);
}

/** The `count` records in `buf` from `at` to `end`. */
function decodeRecords(
  buf: Buffer,
  at: number,
  end: number,
  count: number,
  batchContext: BatchContext,
): FetchedMessage[] {
  const reader = new Reader(buf, at, end);
  const firstOffset = Number(batchContext.firstOffset);
  const firstTimestamp = Number(batchContext.firstTimestamp);
  const exactOffsets = Number.isSafeInteger(firstOffset + batchContext.lastOffsetDelta);
  const appendTime = batchContext.timestampType === LOG_APPEND_TIME;
  const records = new Array<FetchedMessage>(count);
  for (let i = 0; i < count; i++) {
    const recordEnd = reader.varint() + reader.at;
    if (recordEnd > end) throw new CorruptBatchError("record past the end of its batch");
    const attributes = buf[reader.at++];
    const timestampDelta = reader.varlong();
    const offsetDelta = reader.varint();
    const keyAt = reader.at;
    reader.skipBytes();
    const valueAt = reader.at;
    reader.skipBytes();
    const headersAt = reader.at;
    for (let h = reader.varint(); h > 0; h--) {
      reader.skipBytes();
      reader.skipBytes();
    }
    if (reader.at > recordEnd) throw new CorruptBatchError("record longer than its length");
    const headersEnd = reader.at;
    reader.at = recordEnd;
    records[i] = new FetchedMessage(
      batchContext,
      attributes,
      appendTime
        ? batchContext.maxTimestamp
        : Number.isSafeInteger(firstTimestamp + timestampDelta)
        ? String(firstTimestamp + timestampDelta)
        : (BigInt(batchContext.firstTimestamp) + BigInt(timestampDelta)).toString(),
      exactOffsets
        ? String(firstOffset + offsetDelta)
        : (BigInt(batchContext.firstOffset) + BigInt(offsetDelta)).toString(),
      buf,
      keyAt,
      valueAt,
      headersAt,
      headersEnd,
    );
  }
  return records;
}

/**
 * One fetched record in kafkajs' shape. Its key, value and headers are read from the fetched
 * bytes when asked for (kafkajs itself asks only for the key of a transaction marker), and
 * {@link toStreamRecord} reads them straight into the runtime's record without the Buffers.
 */
export class FetchedMessage implements DecodedMessage {
  readonly isControlRecord: boolean;
  readonly magicByte: number;

  constructor(
    readonly batchContext: BatchContext,
    readonly attributes: number,
    readonly timestamp: string,
    readonly offset: string,
    readonly bytes: Buffer,
    readonly keyAt: number,
    readonly valueAt: number,
    readonly headersAt: number,
    readonly headersEnd: number,
  ) {
    this.isControlRecord = batchContext.isControlBatch;
    this.magicByte = batchContext.magicByte ?? 2;
  }

  get key(): Buffer | null {
    return new Reader(this.bytes, this.keyAt).bytes();
  }

  get value(): Buffer | null {
    return new Reader(this.bytes, this.valueAt).bytes();
  }

  /** kafkajs' header object: a repeated name holds its values in an array. */
  get headers(): DecodedMessage["headers"] {
    const reader = new Reader(this.bytes, this.headersAt);
    const headers: DecodedMessage["headers"] = {};
    for (let h = reader.varint(); h > 0; h--) {
      const name = reader.text();
      const value = reader.bytes();
      const seen = headers[name];
      if (seen === undefined) headers[name] = value;
      else if (Array.isArray(seen)) seen.push(value);
      else headers[name] = [seen, value];
    }
    return headers;
  }

  /**
   * The runtime's record: key and header values as text. A repeated header gives the first of
   * its values present; a header without a value is left out.
   */
  toStreamRecord(topic: string, partition: number): StreamRecord {
    const reader = new Reader(this.bytes, this.keyAt, this.headersEnd);
    const key = reader.nullableText(recurring);
    const value = reader.view();
    const headers = recurringHeaders.headers(reader);
    return {
      topic,
      partition,
      offset: this.offset,
      key,
      value,
      headers,
      timestamp: this.timestamp,
    };
  }
}

/** Reads a batch's records: zigzag varints, length-prefixed bytes and text. */
class Reader {
  constructor(readonly buf: Buffer, public at: number, readonly end = buf.length) {}

  /** A zigzag varint of up to 64 bits, exact while it fits a double's 53. */
  varlong(): number {
    const buf = this.buf;
    let raw = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.end) throw new CorruptBatchError("varint past the end of its batch");
      const byte = buf[this.at++];
      raw += (byte & 0x7f) * scale;
      if (byte < 0x80) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      scale *= 128;
    }
    throw new CorruptBatchError("varint longer than 10 bytes");
  }

  /** A zigzag varint; most are one byte (lengths under 64, deltas, header counts). */
  varint(): number {
    const byte = this.buf[this.at];
    if (byte < 0x80 && this.at < this.end) {
      this.at++;
      return (byte >>> 1) ^ -(byte & 1);
    }
    return this.varlong();
  }

  /** Moves past length-prefixed bytes (length -1: null), checking they are in the batch. */
  skipBytes(): void {
    const length = this.varint();
    if (length > 0) this.at += length;
    if (this.at > this.end) throw new CorruptBatchError("bytes past the end of their batch");
  }

  /** Length-prefixed bytes as a Buffer over the fetched bytes (no copy); length -1 is null. */
  bytes(): Buffer | null {
    const length = this.varint();
    if (length < 0) return null;
    const from = this.at;
    this.at += length;
    return this.buf.subarray(from, this.at);
  }

  /** Length-prefixed bytes as a plain Uint8Array over the fetched bytes; length -1 is null. */
  view(): Uint8Array | null {
    const length = this.varint();
    if (length < 0) return null;
    const from = this.at;
    this.at += length;
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset + from, length);
  }

  /** A header's name: length-prefixed UTF-8 (-1 reads as "null", as kafkajs names it). */
  text(): string {
    return String(this.nullableText());
  }

  /**
   * Length-prefixed UTF-8 or null; short ASCII text skips the decoder call, and text that
   * recurs (keys, header names) comes from `cache` when it holds it.
   */
  nullableText(cache?: RecurringText): string | null {
    const length = this.varint();
    if (length < 0) return null;
    const from = this.at;
    const to = (this.at += length);
    if (length > 32) return this.buf.toString("utf8", from, to);
    if (cache) return cache.text(this.buf, from, to);
    return asciiText(this.buf, from, to) ?? this.buf.toString("utf8", from, to);
  }
}

/**
 * The last short text seen per hash slot: record keys, header names and most header values
 * (schema version, record type, the ingest time an upstream slice stamped) recur record after
 * record, and handing out the same string each time spares building it — and V8 looking a fresh
 * string up again each time it names a property of the headers object. A slot holds one text;
 * a clash replaces it, so the cache stays a fixed size whatever the topic holds.
 */
class RecurringText {
  readonly #slots = new Array<string | undefined>(1024).fill(undefined);

  text(buf: Uint8Array, from: number, to: number): string {
    const slot = fnv1a(buf, from, to) & 1023;
    const held = this.#slots[slot];
    if (held !== undefined && held.length === to - from) {
      let same = true;
      for (let i = 0; same && i < held.length; i++) same = held.charCodeAt(i) === buf[from + i];
      if (same) return held;
    }
    const text = asciiText(buf, from, to);
    if (text === undefined) return utf8.decode(buf.subarray(from, to));
    this.#slots[slot] = text;
    return text;
  }
}

const recurring = new RecurringText();

/** The 32-bit FNV-1a hash of `buf[from, to)`, as an unsigned number. */
function fnv1a(buf: Uint8Array, from: number, to: number): number {
  let hash = 0x811c9dc5;
  for (let i = from; i < to; i++) hash = Math.imul(hash ^ buf[i], 0x01000193);
  return hash >>> 0;
}

/** Whether `buf` from `at` holds all of `held`. */
function sameBytes(held: Uint8Array, buf: Uint8Array, at: number): boolean {
  for (let i = 0; i < held.length; i++) if (held[i] !== buf[at + i]) return false;
  return true;
}

/**
 * The last headers read per hash slot of their bytes, frozen: records of one producer and slice
 * carry the same header bytes (schema version and record type, the ingest time an upstream slice
 * stamped on a key), and handing out the same object spares reading each name and value and
 * building an object a record. Equal bytes are equal headers; a clash replaces the slot.
 */
class RecurringHeaders {
  readonly #bytes = new Array<Uint8Array | undefined>(64).fill(undefined);
  readonly #headers = new Array<Readonly<Record<string, string>> | undefined>(64).fill(undefined);

  /** The headers at the reader (its position at their count), read or recurring. */
  headers(reader: Reader): Readonly<Record<string, string>> {
    const buf = reader.buf, from = reader.at, to = reader.end;
    const slot = fnv1a(buf, from, to) & 63;
    const held = this.#bytes[slot];
    if (held !== undefined && held.length === to - from && sameBytes(held, buf, from)) {
      return this.#headers[slot]!;
    }
    const headers: Record<string, string> = {};
    for (let h = reader.varint(); h > 0; h--) {
      const name = String(reader.nullableText(recurring));
      const text = reader.nullableText(recurring);
      if (text !== null && !(name in headers)) headers[name] = text;
    }
    Object.freeze(headers);
    // Long header blocks are rare and not worth keeping a copy of.
    if (to - from <= 256) {
      // A copy: a view would keep the whole fetched buffer alive (Buffer's slice is a view).
      this.#bytes[slot] = Uint8Array.prototype.slice.call(buf, from, to);
      this.#headers[slot] = headers;
    }
    return headers;
  }
}

const recurringHeaders = new RecurringHeaders();
const utf8 = new TextDecoder();

/**
 * Puts {@link decodeRecordBatch} where kafkajs' fetch decoding will load it. Throws when kafkajs
 * is already loaded: its fetch decoding would keep its own decoder, silently.
 */
export function installRecordBatchDecoder(): void {
  replaceKafkajsModule(
    "protocol/recordBatch/v0/decoder.js",
    decodeRecordBatch,
    "record-batch decoder",
  );
}
