import assert from "node:assert/strict";
import { applyChangelog, stampHeader } from "../../lib/runtime/keyed_state.ts";
import type { KafkaRecord } from "../../lib/connectors/kafka/mod.ts";

const entry = (key: string, value: unknown, stamp: number): KafkaRecord => ({
  topic: "changelog",
  partition: 0,
  offset: "0",
  key,
  value: value === null ? null : new TextEncoder().encode(JSON.stringify(value)),
  headers: { [stampHeader]: String(stamp) },
  timestamp: "0",
});

Deno.test("changelog restore: the highest stamp wins per key; a late, older write rolls nothing back", () => {
  const store = { values: new Map<string, unknown>(), next: 0n };
  const stamps = new Map<string, bigint>();
  const decoder = new TextDecoder();
  for (
    const r of [
      entry("A", 1, 25),
      entry("B", 1, 25),
      entry("A", 2, 50),
      // a replica that lost the partition writes its older view after the new owner's
      entry("A", 1, 25),
      entry("B", null, 60), // a deletion
      entry("C", 7, 60),
    ]
  ) applyChangelog(store, stamps, r, decoder);
  assert.deepEqual(Object.fromEntries(store.values), { A: 2, C: 7 });
  assert.equal(store.next, 60n);
});
