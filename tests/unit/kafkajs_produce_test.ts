/**
 * Our produce path against kafkajs' own: for every batch kafkajs' produce request can hand the
 * encoder, the bytes must be kafkajs' bytes, and kafkajs' own decoder must read them back; the
 * grouping by partition must give kafkajs' groups.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import {
  type BatchFields,
  crc32c,
  encodeRecordBatch,
  groupByPartition,
  installProducePath,
  record,
  type RecordFields,
} from "../../lib/connectors/kafka/kafkajs_produce.ts";
import { kafkajsOwn } from "../support/kafkajs_own.ts";

const require = createRequire(import.meta.url);
const internal = (path: string) => require(require.resolve(`kafkajs/src/${path}`));

type Encoded = { buffer: Buffer; size(): number };
const theirs = kafkajsOwn("protocol/recordBatch/v0/index.js") as {
  RecordBatch(fields: object): Promise<Encoded>;
  MAGIC_BYTE: number;
};
const theirRecord = kafkajsOwn("protocol/recordBatch/record/v0/index.js") as (f: object) => unknown;
const theirGrouping = kafkajsOwn(
  "producer/groupMessagesPerPartition.js",
) as typeof groupByPartition;
const theirCrc = kafkajsOwn("protocol/recordBatch/crc32C/index.js") as (b: Buffer) => number;
const theirDecoder = kafkajsOwn("protocol/recordBatch/v0/decoder.js") as (
  d: unknown,
) => Promise<{ records: { key: Buffer | null; value: Buffer | null; headers: object }[] }>;
const Decoder = internal("protocol/decoder.js");
const Long = internal("utils/long.js");
const { Types } = internal("protocol/message/compression/index.js");

/** Both encoders over the same fields: the same bytes, the same size, and kafkajs reads them. */
async function same(records: RecordFields[], fields: Omit<BatchFields, "records"> = {}, why = "") {
  const batch = {
    firstTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_005_000,
    lastOffsetDelta: records.length - 1,
    ...fields,
  };
  const ours = await encodeRecordBatch({ ...batch, records: records.map(record) });
  const expected = await theirs.RecordBatch({
    ...batch,
    records: records.map((r) => theirRecord(r)),
  });
  assert.equal(ours.size(), expected.size(), why);
  assert.equal(ours.buffer.length, ours.size(), why);
  if (!ours.buffer.equals(expected.buffer)) {
    const at = ours.buffer.findIndex((b, i) => b !== expected.buffer[i]);
    assert.fail(`${why}: bytes differ from kafkajs' first at ${at} of ${expected.size()}`);
  }
  const decoded = await theirDecoder(new Decoder(ours.buffer));
  assert.equal(decoded.records.length, records.length, why);
  return decoded;
}

Deno.test("kafkajs produce path: kafkajs' bytes for what kafkajs' producer sends", async (t) => {
  const cases: [string, RecordFields[], Omit<BatchFields, "records">?][] = [
    ["a tick with headers, as the workers send it", [{
      key: "AAPL",
      value: '{"symbol":"AAPL","price":187.5,"ts":1700000000000}',
      headers: { "record-type": "tick", "ingested-at": "1700000000123" },
    }]],
    ["Buffers, nulls and no headers", [
      { key: Buffer.from("K"), value: Buffer.from([0, 255, 7]) },
      { key: null, value: null },
      { value: "" },
    ]],
    ["non-ASCII text: accents, CJK, emoji and lone surrogates", [
      { key: "Zürich", value: "価格 📈 \ud800 x \udc00" },
      { key: "\ud83d", value: "end\ud83d" },
    ]],
    ["header arrays, Buffer header values, non-ASCII names", [{
      value: "v",
      headers: { twice: ["a", "b"], "zeit-ä": Buffer.from("ü"), leer: "" },
    }]],
    ["lengths past a one-byte varint", [
      { key: "k".repeat(200), value: Buffer.alloc(70_000, 7) },
      { value: "x".repeat(130), headers: { h: "y".repeat(64) } },
    ]],
    ["timestamp deltas of every width", [
      { value: "a", timestampDelta: -1 },
      { value: "b", timestampDelta: 63 },
      { value: "c", timestampDelta: -70_000 },
      { value: "d", timestampDelta: 2 ** 31 },
      { value: "e", timestampDelta: -(2 ** 31) - 1 },
      { value: "f", timestampDelta: 2 ** 40 },
      { value: "g", timestampDelta: 2 ** 60 },
      { value: "h", timestampDelta: -(2 ** 60) },
    ]],
    ["an idempotent, transactional batch past 2^53", [{ value: "a" }, { value: "b" }], {
      firstOffset: "9007199254740993",
      producerId: Long.fromString("9007199254740995"),
      producerEpoch: 3,
      firstSequence: 2 ** 31 - 1,
      partitionLeaderEpoch: 12,
      transactional: true,
    }],
    ["timestamps as kafkajs messages carry them, in text", [{ value: "a" }], {
      firstTimestamp: "1700000000000",
      maxTimestamp: "1700000000999",
      producerId: -1,
    }],
    ["gzip", Array.from({ length: 50 }, (_, i) => ({ key: `S${i}`, value: `${i}` })), {
      compression: Types.GZIP,
    }],
    ["no records", []],
    [
      "3,000 records",
      Array.from({ length: 3000 }, (_, i) => ({
        key: `S${i % 20}`,
        value: JSON.stringify({ symbol: `S${i % 20}`, price: i / 7, ts: 1_700_000_000_000 + i }),
        headers: { "record-type": "tick", "ingested-at": String(1_700_000_000_000 + i) },
        offsetDelta: i,
        timestampDelta: i,
      })),
    ],
  ];
  for (const [name, records, fields] of cases) {
    await t.step(name, async () => {
      const decoded = await same(records, fields, name);
      // What the broker will hand a consumer: the same keys and values.
      decoded.records.forEach((m, i) => {
        const key = records[i].key;
        if (key == null) assert.equal(m.key, null);
        else assert.deepStrictEqual(m.key, Buffer.from(key as string));
      });
    });
  }
});

Deno.test("kafkajs produce path: random records encode as kafkajs encodes them", async () => {
  let seed = 20261126;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = (n: number) => Math.floor(random() * n);
  const alphabet = ["a", "Z", "0", "{", '"', "é", "ß", "€", "価", "😀", "\ud800", "\udfff", " "];
  const text = (n: number) =>
    Array.from({ length: n }, () => alphabet[pick(alphabet.length)]).join("");
  const bytesOrText = (n: number) =>
    random() < 0.5 ? text(n) : Buffer.from(Array.from({ length: n }, () => pick(256)));
  for (let round = 0; round < 60; round++) {
    const records = Array.from({ length: 1 + pick(40) }, (_, i): RecordFields => {
      // kafkajs refuses a null header value (it measures it as a string); so no nulls here.
      const headers: Record<string, string | Buffer | (string | Buffer)[]> = {};
      for (let h = pick(4); h > 0; h--) {
        headers[text(1 + pick(6))] = random() < 0.2
          ? [bytesOrText(pick(20)), bytesOrText(pick(20))]
          : bytesOrText(pick(300));
      }
      return {
        key: random() < 0.2 ? null : bytesOrText(pick(40)),
        value: random() < 0.1 ? null : bytesOrText(pick(3000)),
        headers,
        offsetDelta: i,
        timestampDelta: Math.floor((random() - 0.3) * 10 ** pick(14)),
      };
    });
    await same(records, {}, `round ${round}`);
  }
});

Deno.test("kafkajs produce path: messages grouped by partition as kafkajs groups them", () => {
  const partitionMetadata = Array.from({ length: 6 }, (_, partition) => ({ partition }));
  const messages = Array.from({ length: 500 }, (_, i) => ({ key: `S${(i * 7) % 23}`, n: i }));
  // Any partitioner: this one as kafkajs' default would, by a hash of the key.
  const partitioner = ({ message }: { message: { key: string } }) =>
    [...message.key].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1009, 7) % 6;
  const ours = groupByPartition({ topic: "t", partitionMetadata, messages, partitioner });
  const expected = theirGrouping({ topic: "t", partitionMetadata, messages, partitioner });
  assert.deepStrictEqual(ours, expected);
  assert.deepStrictEqual(Object.keys(ours), Object.keys(expected));
  assert.equal(Object.values(ours).flat().length, messages.length);
  const none = { topic: "t", partitionMetadata: [], messages, partitioner };
  assert.deepStrictEqual(groupByPartition(none), theirGrouping(none));
});

Deno.test("kafkajs produce path: the producer's partitioner puts each key where kafkajs' default does", async () => {
  const { default: kafkajs } = await import("../../lib/connectors/kafka/kafkajs.ts");
  const { cachedKeyPartitioner } = await import("../../lib/connectors/kafka/kafkajs_producer.ts");
  const ours = cachedKeyPartitioner();
  const theirs = kafkajs.Partitioners.DefaultPartitioner();
  const keys = [
    "AAPL",
    "MSFT",
    "",
    "Zürich",
    "価格",
    ...Array.from({ length: 300 }, (_, i) => `S${i}`),
  ];
  for (const partitions of [1, 3, 6, 7, 64]) {
    const partitionMetadata = Array.from({ length: partitions }, (_, partition) => ({
      partitionErrorCode: 0,
      partitionId: partition,
      leader: 1,
      replicas: [1],
      isr: [1],
    }));
    for (const key of keys) {
      // Twice: the second answer comes from the cache.
      for (let i = 0; i < 2; i++) {
        const args = { topic: "t", partitionMetadata, message: { key, value: "v" } };
        assert.equal(ours(args), theirs(args), `${key} over ${partitions}`);
      }
    }
    const pinned = {
      topic: "t",
      partitionMetadata,
      message: { key: "AAPL", value: "v", partition: 0 },
    };
    assert.equal(ours(pinned), 0);
    const bytes = {
      topic: "t",
      partitionMetadata,
      message: { key: Buffer.from("AAPL"), value: "v" },
    };
    assert.equal(ours(bytes), theirs(bytes));
  }
});

Deno.test("kafkajs produce path: CRC-32C is kafkajs' for any length and start", () => {
  const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) % 256));
  for (const [from, to] of [[0, 0], [0, 1], [3, 10], [0, 8], [5, 1000], [1, 999], [0, 1000]]) {
    assert.equal(crc32c(bytes, from, to), theirCrc(bytes.subarray(from, to)), `${from}..${to}`);
  }
  // The check value of CRC-32C (RFC 3720): "123456789".
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
});

Deno.test("kafkajs produce path: kafkajs loaded through kafkajs.ts produces with ours; loaded before, the install refuses", async () => {
  const { default: kafkajs } = await import("../../lib/connectors/kafka/kafkajs.ts");
  assert.equal(typeof kafkajs.Kafka, "function");
  const batchPath = require.resolve("kafkajs/src/protocol/recordBatch/v0/index.js");
  const recordPath = require.resolve("kafkajs/src/protocol/recordBatch/record/v0/index.js");
  assert.equal(require(batchPath).RecordBatch, encodeRecordBatch);
  assert.equal(require(batchPath).MAGIC_BYTE, theirs.MAGIC_BYTE);
  assert.equal(require(recordPath), record);
  assert.equal(
    require(require.resolve("kafkajs/src/producer/groupMessagesPerPartition.js")),
    groupByPartition,
  );
  installProducePath(); // installed already: nothing to do
  const cache = require.cache as Record<string, unknown>;
  const installed = cache[batchPath];
  delete cache[batchPath];
  try {
    assert.throws(
      () => installProducePath(),
      /kafkajs was loaded before its record-batch encoder/,
    );
  } finally {
    cache[batchPath] = installed;
  }
});
