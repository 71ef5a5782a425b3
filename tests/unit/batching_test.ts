import assert from "node:assert/strict";
import { Batcher } from "../../lib/runtime/batching.ts";

const collect = (policy: { count: number; byteSize: number; periodMs: number }) => {
  const sent: string[][] = [];
  const batcher = new Batcher<string>(policy, (batch) => {
    sent.push(batch);
    return Promise.resolve();
  }, (r) => r.length);
  return { sent, batcher };
};

Deno.test("batching: a batch is sent when it holds `count` records", async () => {
  const { sent, batcher } = collect({ count: 3, byteSize: 1 << 20, periodMs: 0 });
  for (const r of ["a", "b", "c", "d"]) await batcher.write(r);
  assert.deepEqual(sent, [["a", "b", "c"]]);
  await batcher.flush();
  assert.deepEqual(sent, [["a", "b", "c"], ["d"]]);
});

Deno.test("batching: a batch is sent when it reaches `byteSize`", async () => {
  const { sent, batcher } = collect({ count: 100, byteSize: 10, periodMs: 0 });
  for (const r of ["aaaa", "bbbb", "cccc", "d"]) await batcher.write(r);
  assert.deepEqual(sent, [["aaaa", "bbbb", "cccc"]]);
  await batcher.flush();
  assert.equal(batcher.pending, 0);
});

Deno.test("batching: a batch whose first record waited `periodMs` is sent without a flush", async () => {
  const { sent, batcher } = collect({ count: 100, byteSize: 1 << 20, periodMs: 10 });
  await batcher.write("a");
  await batcher.write("b");
  assert.deepEqual(sent, []);
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.deepEqual(sent, [["a", "b"]]);
  batcher.close();
});

Deno.test("batching: a failed timed send is reported by the next write, not lost silently", async () => {
  let fail = true;
  const batcher = new Batcher<string>({ count: 100, byteSize: 1 << 20, periodMs: 5 }, () => {
    if (fail) return Promise.reject(new Error("broker away"));
    return Promise.resolve();
  }, (r) => r.length);
  await batcher.write("a");
  await new Promise((resolve) => setTimeout(resolve, 30));
  await assert.rejects(() => batcher.write("b"), /broker away/);
  fail = false;
  await batcher.flush();
  batcher.close();
});

Deno.test("batching: a flush waits for every send before it, in order", async () => {
  const order: string[] = [];
  const batcher = new Batcher<string>({ count: 2, byteSize: 1 << 20, periodMs: 0 }, async (b) => {
    await new Promise((resolve) => setTimeout(resolve, b[0] === "a" ? 15 : 1));
    order.push(b.join(""));
  }, (r) => r.length);
  const first = batcher.write("a").then(() => batcher.write("b"));
  await first;
  await batcher.write("c");
  await batcher.flush();
  assert.deepEqual(order, ["ab", "c"]);
});
