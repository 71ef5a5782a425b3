import assert from "node:assert/strict";
import { latestVersions } from "../../lib/market/mod.ts";
import { seededRandom } from "../../lib/market/synthetic.ts";

/** What latestVersions must give: each id's last item, in the order of those items. */
function expected<T extends { id: string }>(items: readonly T[]): T[] {
  const last = new Map<string, number>();
  items.forEach((item, i) => last.set(item.id, i));
  return items.filter((item, i) => last.get(item.id) === i);
}

Deno.test("latest versions: each id's last item, in the batch's order, over batches of any size", () => {
  const rnd = seededRandom(7);
  for (const size of [0, 1, 2, 100, 511, 512, 513, 3000, 20_000, 50]) {
    const ids = Math.max(1, Math.floor(size * (0.2 + rnd())));
    const items = Array.from({ length: size }, (_, n) => ({
      id: `SYM${Math.floor(rnd() * ids)}|1m|2024-01-02T14:${n % 60}`,
      n,
    }));
    assert.deepEqual(latestVersions(items, (b) => b.id), expected(items), `size ${size}`);
  }
});

Deno.test("latest versions: a batch without repeats is given back as it is", () => {
  const items = Array.from({ length: 1000 }, (_, n) => ({ id: `S|1m|${n}` }));
  assert.equal(latestVersions(items, (b) => b.id), items);
  const repeated = [...items, items[3]];
  const latest = latestVersions(repeated, (b) => b.id);
  assert.equal(latest.length, 1000);
  assert.equal(latest[999], items[3]);
  assert.ok(!latest.slice(0, 999).includes(items[3]));
});
