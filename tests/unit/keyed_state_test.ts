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
    open: () => Promise.resolve(),
    prepare: () => Promise.resolve(),
    read: (_, onRecord) => Promise.resolve([entry("A", 1, 40), marker(40)].forEach(onRecord)),
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

Deno.test("keyed state: an assignment's partitions are restored in one read before their first slices; a failed read leaves each to its slice", async () => {
  const log = createLogger("t", "error", {}, { write: () => {}, format: "json" });
  const at = (partition: number, key: string, value: unknown, stamp: number): KafkaRecord => ({
    ...entry(key, value, stamp),
    partition,
  });
  const log0 = [at(0, "A", 1, 10), at(1, "B", 2, 20), at(2, "C", 3, 30), at(1, "B", 5, 25)];
  const reads: number[][] = [];
  let failNext = false;
  const changelog: Changelog = {
    name: "counts.changelog",
    open: () => Promise.resolve(),
    prepare: () => Promise.resolve(),
    read: (partitions, onRecord) => {
      reads.push([...partitions]);
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error("broker unreachable"));
      }
      return Promise.resolve(
        log0.filter((r) => partitions.includes(r.partition)).forEach(onRecord),
      );
    },
    write: () => Promise.resolve(),
  };

  const state = new StateStore(changelog, log);
  await state.assigned([0, 1, 2]);
  assert.deepEqual(reads, [[0, 1, 2]]);
  const one = await state.partition(1, 25n);
  assert.deepEqual([Object.fromEntries(one.values), one.next], [{ B: 5 }, 25n]);
  assert.equal((await state.partition(2, 30n)).values.get("C"), 3);
  assert.deepEqual(reads, [[0, 1, 2]], "the slices read nothing more");
  // a later assignment restores only what is not held
  await state.assigned([1, 2, 3]);
  assert.deepEqual(reads.at(-1), [3]);

  failNext = true;
  const other = new StateStore(changelog, log);
  await other.assigned([0, 2]); // resolves: the slices restore for themselves
  const zero = await other.partition(0, 10n);
  assert.deepEqual([Object.fromEntries(zero.values), zero.next], [{ A: 1 }, 10n]);
  assert.deepEqual(reads.slice(-2), [[0, 2], [0]]);
});
