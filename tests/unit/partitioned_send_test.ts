/**
 * Sending one request per partition: every record once, in its order within its partition; a
 * failure leaves exactly the records not acknowledged to be sent again.
 */
import assert from "node:assert/strict";
import { type Placed, sendPerPartition } from "../../lib/connectors/kafka/partitioned_send.ts";

const placed = (n: number, partitions: number): Placed[] =>
  Array.from({ length: n }, (_, i) => ({
    record: { key: `S${i % 7}`, value: String(i) },
    partition: (i * 5) % partitions,
  }));

Deno.test("per-partition sends: each request holds one partition's records, in order, chunk by chunk", async () => {
  const all = placed(100, 6);
  const requests: Placed[][] = [];
  await sendPerPartition(all, [40, 40, 20], (list) => Promise.resolve(void requests.push(list)));
  for (const list of requests) {
    assert.equal(new Set(list.map((p) => p.partition)).size, 1, "one partition a request");
    const values = list.map((p) => Number(p.record.value));
    assert.deepEqual(values, [...values].sort((a, b) => a - b), "in the order given");
  }
  const sent = requests.flat().map((p) => Number(p.record.value)).sort((a, b) => a - b);
  assert.deepEqual(sent, all.map((_, i) => i), "every record once");
  // The first chunk's 40 records hit all 6 partitions: 6 requests before the second chunk.
  assert.ok(requests.slice(0, 6).flat().every((p) => Number(p.record.value) < 40));
});

Deno.test("per-partition sends: a failed partition leaves its records and the later chunks unsent, not the acknowledged ones", async () => {
  const all = placed(100, 6);
  const acknowledged: Placed[] = [];
  const error = await sendPerPartition(all, [40, 60], (list) => {
    if (list[0].partition === 3 && Number(list[0].record.value) < 40) {
      return Promise.reject(new Error("leader gone"));
    }
    acknowledged.push(...list);
    return Promise.resolve();
  }).then(() => undefined, (e) => e as Error & { unsent: Placed["record"][] });
  assert.ok(error, "the send fails");
  assert.equal(error.message, "leader gone");
  const unsent = new Set(error.unsent.map((r) => Number(r.value)));
  const expected = all.flatMap((p, i) => (i < 40 && p.partition === 3) || i >= 40 ? [i] : []);
  assert.deepEqual([...unsent].sort((a, b) => a - b), expected);
  for (const p of acknowledged) assert.ok(!unsent.has(Number(p.record.value)), "acknowledged");
  assert.equal(acknowledged.length + unsent.size, all.length);
});
