/** The @platformatic/kafka consumer's guard against records delivered twice within a stream. */
import assert from "node:assert/strict";
import { advances } from "../../lib/connectors/kafka/platformatic_consumer.ts";

Deno.test("a partition's offsets only go up within a stream: a record delivered again is refused", () => {
  const next = new Map<number, bigint>();
  assert.equal(advances(next, 5, 428n), true);
  assert.equal(advances(next, 5, 429n), true);
  assert.equal(advances(next, 5, 432n), true, "a gap (compaction, transaction markers) is no loss");
  assert.equal(advances(next, 5, 430n), false, "fetched again from before what was delivered");
  assert.equal(advances(next, 5, 432n), false, "the same offset twice");
  assert.equal(advances(next, 4, 0n), true, "partitions are independent");
  assert.equal(advances(next, 5, 433n), true);
  assert.deepEqual([...next], [[5, 434n], [4, 1n]]);
});
