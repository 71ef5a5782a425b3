import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { FetchBatch, offsetAtLeast } from "../../lib/connectors/kafka/kafkajs_batch.ts";
import { kafkajsFile } from "../../lib/connectors/kafka/kafkajs_modules.ts";
import { seededRandom } from "../../lib/market/synthetic.ts";

// kafkajs' own batch, even when another test module has put ours in its place.
const require = createRequire(import.meta.url);
const file = kafkajsFile("consumer/batch.js");
const cache = require.cache as Record<string, unknown>;
const ours = cache[file];
delete cache[file];
const KafkajsBatch = require(file) as new (topic: string, offset: string, data: unknown) => {
  [method: string]: unknown;
};
if (ours) cache[file] = ours;
else delete cache[file];

const methods = [
  "isEmpty",
  "isEmptyIncludingFiltered",
  "isEmptyDueToFiltering",
  "isEmptyControlRecord",
  "isEmptyDueToLogCompactedMessages",
  "firstOffset",
  "lastOffset",
  "offsetLag",
  "offsetLagLow",
] as const;

Deno.test("offsets compare as numbers: by length, then digits, and past 2^53", () => {
  assert.equal(offsetAtLeast("10", "9"), true);
  assert.equal(offsetAtLeast("9", "10"), false);
  assert.equal(offsetAtLeast("123", "123"), true);
  assert.equal(offsetAtLeast("9007199254740993", "9007199254740992"), true);
  assert.equal(offsetAtLeast("-1", "0"), false);
});

Deno.test("the fetch batch keeps, drops and answers as kafkajs' own batch does", () => {
  const rnd = seededRandom(5);
  for (let round = 0; round < 2_000; round++) {
    const base = rnd() < 0.1 ? 9007199254740990n : BigInt(Math.floor(rnd() * 1e6));
    const count = Math.floor(rnd() * 6);
    const messages = Array.from({ length: count }, (_, i) => ({
      offset: String(base + BigInt(i)),
      isControlRecord: rnd() < 0.15,
      key: null,
      batchContext: { producerId: "1", inTransaction: false },
    }));
    const fetched = String(base + BigInt(Math.floor(rnd() * (count + 2)) - 1));
    const data = {
      partition: 3,
      highWatermark: String(base + BigInt(count + Math.floor(rnd() * 3))),
      messages,
      abortedTransactions: [],
    };
    const theirs = new KafkajsBatch("t", fetched, data);
    const mine = new FetchBatch("t", fetched, data) as unknown as Record<string, unknown>;
    for (const field of ["topic", "partition", "highWatermark", "fetchedOffset"]) {
      assert.deepEqual(mine[field], theirs[field], field);
    }
    for (const field of ["rawMessages", "messagesWithinOffset", "messages"]) {
      assert.deepEqual(mine[field], theirs[field], `${field} at ${fetched}`);
    }
    for (const method of methods) {
      const call = (b: Record<string, unknown>) => (b[method] as () => unknown).call(b);
      assert.deepEqual(call(mine), call(theirs), `${method} at ${fetched}`);
    }
  }
});
