import assert from "node:assert/strict";
import { applyChangelog, stampHeader, StateStore } from "../../lib/runtime/keyed_state.ts";
import { createLogger } from "../../lib/runtime/log.ts";
import type { Changelog } from "../../lib/runtime/stream.ts";
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

Deno.test("keyed state: a slice starting past the restored state is said to leave records in no state", async () => {
  const lines: string[] = [];
  const log = createLogger("t", "info", {}, { write: (l) => lines.push(l), format: "json" });
  const marker = (stamp: number): KafkaRecord => ({
    ...entry("A", 1, stamp),
    key: "\u0000next-offset",
  });
  const changelog: Changelog = {
    name: "counts.changelog",
    prepare: () => Promise.resolve(),
    read: () => Promise.resolve([entry("A", 1, 40), marker(40)]),
    write: () => Promise.resolve(),
  };
  const gaps = () =>
    lines.map((l) => JSON.parse(l)).filter((r) => r.level === "error" && r.missing !== undefined);
  // continuous with the state: nothing said
  const state = new StateStore(changelog, log);
  assert.equal((await state.partition(0, 40n)).next, 40n);
  assert.deepEqual(gaps(), []);
  // a fresh replica whose first slice starts 5 records past the stamp
  await new StateStore(changelog, log).partition(0, 45n);
  assert.deepEqual(gaps().map((r) => [r.partition, r.missing]), [[0, "40-44"]]);
});
