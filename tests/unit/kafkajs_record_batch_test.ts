/**
 * Our record-batch decoder against kafkajs' own, on batches kafkajs' own encoder wrote: the
 * messages must be identical, field for field, whatever the records hold.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { toRecord } from "../../lib/connectors/kafka/consumer.ts";
import {
  decodeRecordBatch,
  type FetchDecoder,
  FetchedMessage,
  installRecordBatchDecoder,
} from "../../lib/connectors/kafka/kafkajs_record_batch.ts";
import { kafkajsOwn } from "../support/kafkajs_own.ts";

const require = createRequire(import.meta.url);
const internal = (path: string) => require(require.resolve(`kafkajs/src/${path}`));

type Decode = (fetched: FetchDecoder) => Promise<{ records: unknown[] }>;

const Decoder = internal("protocol/decoder.js");
// kafkajs' own encoder and decoder, even where ours are installed in their place.
const { RecordBatch } = kafkajsOwn("protocol/recordBatch/v0/index.js") as {
  RecordBatch(fields: object): Promise<{ buffer: Buffer }>;
};
const Record = kafkajsOwn("protocol/recordBatch/record/v0/index.js") as (f: object) => unknown;
const { Types } = internal("protocol/message/compression/index.js");
const own = kafkajsOwn("protocol/recordBatch/v0/decoder.js") as Decode;
assert.notEqual(own, decodeRecordBatch);

interface Spec {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | Buffer[]>;
  timestampDelta?: number;
}

/** Bytes of one record batch, as kafkajs' producer would write them. */
async function batchBytes(
  records: Spec[],
  { firstOffset = "0", firstTimestamp = 1_700_000_000_000, compression = Types.None } = {},
): Promise<Buffer> {
  const encoded = await RecordBatch({
    compression,
    firstOffset,
    firstTimestamp,
    maxTimestamp: firstTimestamp + 5_000,
    lastOffsetDelta: records.length - 1,
    records: records.map((r, i) => Record({ ...r, offsetDelta: i })),
  });
  return encoded.buffer;
}

// deno-lint-ignore no-explicit-any
type Message = any;

/** A message's fields as kafkajs documents them, read the way a consumer reads them. */
const fields = (m: Message) => ({
  magicByte: m.magicByte,
  attributes: m.attributes,
  timestamp: m.timestamp,
  offset: m.offset,
  key: m.key,
  value: m.value,
  headers: m.headers,
  isControlRecord: m.isControlRecord,
  batchContext: m.batchContext,
});

/**
 * Both decoders over the same bytes (twice back to back, the way fetched data holds them): the
 * messages' fields, and the runtime's records made of them.
 */
async function both(bytes: Buffer) {
  const twice = Buffer.concat([bytes, bytes]);
  const decode = async (d: Decode) => {
    const fetched = new Decoder(twice);
    const batches = [await d(fetched), await d(fetched)];
    const messages = batches.flatMap((b) => b.records as Message[]);
    return {
      batches: batches.map(({ records, ...context }) => ({ ...context, count: records.length })),
      messages: messages.map(fields),
      records: messages.map((m) => toRecord("t", 3, m)),
      read: fetched.offset,
    };
  };
  const ours = await decode(decodeRecordBatch);
  // Message by message: a diff of thousands of records at once takes minutes to print.
  const same = (theirs: Awaited<ReturnType<typeof decode>>, why = "") => {
    assert.deepStrictEqual(ours.batches, theirs.batches, why);
    assert.equal(ours.read, theirs.read, why);
    assert.equal(ours.messages.length, theirs.messages.length, why);
    ours.messages.forEach((m, i) => assert.deepStrictEqual(m, theirs.messages[i], `${why} #${i}`));
    ours.records.forEach((r, i) => assert.deepStrictEqual(r, theirs.records[i], `${why} #${i}`));
  };
  const fetched = await decodeRecordBatch(new Decoder(bytes));
  assert.ok(fetched.records.every((m) => m instanceof FetchedMessage));
  const theirs = await decode(own);
  return { ours, theirs, same: (why?: string) => same(theirs, why) };
}

const text = (s: string) => Buffer.from(s);

Deno.test("kafkajs record batches: ours decodes what kafkajs' decoder decodes, field for field", async (t) => {
  const cases: [string, Spec[], Parameters<typeof batchBytes>[1]?][] = [
    ["a tick with two headers", [{
      key: text("AAPL"),
      value: text('{"symbol":"AAPL","price":1}'),
      headers: { "record-type": text("tick"), "ingested-at": text("1700000000123") },
    }]],
    ["null key, null value, no headers", [{ key: null, value: null }]],
    ["a repeated header name and a non-ASCII one", [{
      key: text("K"),
      value: text("v"),
      headers: { twice: [text("a"), text("b")], "zeit-ä": text("ü"), leer: Buffer.alloc(0) },
    }]],
    ["values longer than a one-byte varint", [
      { key: text("k".repeat(200)), value: Buffer.alloc(70_000, 7) },
      { key: text("short"), value: text("x".repeat(130)) },
    ]],
    ["negative and large timestamp deltas", [
      { value: text("a"), timestampDelta: -1 },
      { value: text("b"), timestampDelta: -70_000 },
      { value: text("c"), timestampDelta: 2 ** 40 },
    ]],
    ["offsets past 2^53", [{ value: text("a") }, { value: text("b") }], {
      firstOffset: "9007199254740990",
    }],
    ["gzip", Array.from({ length: 50 }, (_, i) => ({ key: text(`S${i}`), value: text(`${i}`) })), {
      compression: Types.GZIP,
    }],
    ["no timestamp", [{ value: text("a") }], { firstTimestamp: -1 }],
    // More distinct keys and header names than the cache of recurring text has slots.
    [
      "3,000 keys and header names, ASCII and not",
      Array.from({ length: 3000 }, (_, i) => ({
        key: text(i % 7 === 0 ? `Ä${i % 2500}` : `S${i % 2500}`),
        value: text(`${i}`),
        headers: { [`h${i % 1500}`]: text("x"), "record-type": text("tick") },
      })),
    ],
  ];
  for (const [name, records, options] of cases) {
    await t.step(name, async () => {
      const { ours, same } = await both(await batchBytes(records, options));
      same();
      assert.equal(ours.messages.length, 2 * records.length);
    });
  }
  await t.step("records with the same header bytes share one frozen headers object", async () => {
    const headers = { "schema-version": text("1"), "record-type": text("tick") };
    const { ours } = await both(
      await batchBytes([
        { key: text("A"), value: text("1"), headers },
        { key: text("B"), value: text("2"), headers },
        { key: text("C"), value: text("3"), headers: { ...headers, "ingested-at": text("7") } },
      ]),
    );
    const [a, b, c] = ours.records;
    assert.equal(a.headers, b.headers);
    assert.notEqual(a.headers, c.headers);
    assert.ok(Object.isFrozen(a.headers) && Object.isFrozen(c.headers));
    assert.deepEqual(c.headers, {
      "schema-version": "1",
      "record-type": "tick",
      "ingested-at": "7",
    });
  });
});

Deno.test("kafkajs record batches: random records decode as kafkajs decodes them", async () => {
  let seed = 20261126;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const bytes = (n: number) =>
    Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  for (let round = 0; round < 40; round++) {
    const records = Array.from({ length: 1 + Math.floor(random() * 30) }, (): Spec => {
      const headers: Record<string, Buffer> = {};
      for (let h = Math.floor(random() * 4); h > 0; h--) {
        headers[`h${Math.floor(random() * 3)}`] = bytes(Math.floor(random() * 300));
      }
      return {
        key: random() < 0.2 ? null : bytes(Math.floor(random() * 40)),
        value: random() < 0.1 ? null : bytes(Math.floor(random() * 2000)),
        headers,
        timestampDelta: Math.floor((random() - 0.3) * 1e7),
      };
    });
    (await both(await batchBytes(records))).same(`round ${round}`);
  }
});

Deno.test("kafkajs record batches: a batch cut off by the fetch limit ends the partition's data as kafkajs' does", async () => {
  const bytes = await batchBytes([{ value: text("a".repeat(100)) }, { value: text("b") }]);
  for (const cut of [bytes.length - 1, 70, 61]) {
    const fetched = new Decoder(Buffer.concat([bytes, bytes.subarray(0, cut)]));
    assert.equal((await decodeRecordBatch(fetched)).records.length, 2);
    await assert.rejects(decodeRecordBatch(fetched), { name: "KafkaJSPartialMessageError" });
    const theirs = new Decoder(Buffer.concat([bytes, bytes.subarray(0, cut)]));
    await own(theirs);
    await assert.rejects(own(theirs), { name: "KafkaJSPartialMessageError" });
  }
});

Deno.test("kafkajs record batches: a record whose lengths point past its batch is refused", async () => {
  const bytes = await batchBytes([{ key: text("k"), value: text("value") }]);
  // The value's length varint: after the record's length, attributes, both deltas and the key.
  const at = 61 + 1 + 1 + 1 + 1 + 1 + 1;
  assert.equal(bytes[at], 10); // zigzag 5
  const corrupt = Buffer.from(bytes);
  corrupt[at] = 0x7e; // zigzag 63: past the batch
  await assert.rejects(decodeRecordBatch(new Decoder(corrupt)), /past the end/);
});

Deno.test("kafkajs record batches: kafkajs loaded through kafkajs.ts fetches with ours; loaded before, the install refuses", async () => {
  const { default: kafkajs } = await import("../../lib/connectors/kafka/kafkajs.ts");
  assert.equal(typeof kafkajs.Kafka, "function");
  const path = require.resolve("kafkajs/src/protocol/recordBatch/v0/decoder.js");
  assert.equal(require(path), decodeRecordBatch);
  installRecordBatchDecoder(); // installed already: nothing to do
  const cache = require.cache as Record<string, unknown>;
  const installed = cache[path];
  delete cache[path];
  try {
    assert.throws(() => installRecordBatchDecoder(), /kafkajs was loaded before/);
  } finally {
    cache[path] = installed;
  }
});
