/**
 * Keyed state owned by the runtime: a worker declares `state: keyedState(topicOption(...))` and
 * its handler reads and writes values by key (`state.get(symbol)`, `state.set(symbol, value)`);
 * the runtime keeps them.
 *
 * Where: a changelog with as many partitions as the input (the stream's {@link Changelog}; on
 * Kafka a compacted topic), each input partition's keys in the changelog partition of the same
 * number, one record per key (the latest wins), so state follows its partition from replica to
 * replica and no record grows with the number of keys.
 *
 * When: after the handler's outputs were acknowledged, the keys it changed are written, each
 * stamped with the input offset the state now covers, together with a marker record holding the
 * same stamp; only then are the input offsets committed. A replica restores just the partitions
 * it is assigned (all of them in one read when they are assigned, again when a slice starts
 * past the held stamp: another replica absorbed the records in between), and drops redelivered
 * records below the stamp: after a crash between any two steps, a record is either absorbed once
 * or replayed from the state before it, so outputs never depend on where a crash fell.
 *
 * @example
 * ```ts
 * import { name } from "./config.ts";
 * const counts = keyedState<number>(name("COUNT_STATE_TOPIC", "changelog", "counts.changelog"));
 * // in the handler: state.set(key, (state.get(key) ?? 0) + 1);
 * ```
 * @module
 */
import type { OptionSpec } from "./config.ts";
import type { Logger } from "./log.ts";
import type { Changelog, StreamRecord } from "./stream.ts";

/** The state a worker declares: where its changelog lives. */
export interface KeyedStateSpec<V> {
  /** The option naming the changelog. */
  topic: OptionSpec<string>;
  /** Phantom: the value type the handler sees. */
  readonly value?: V;
}

/** Declares keyed state kept in the changelog topic named by `topic`. */
export function keyedState<V>(topic: OptionSpec<string>): KeyedStateSpec<V> {
  return { topic };
}

/** What a handler sees: the values of the partition being handled. */
export interface KeyedState<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
}

/** The header of every changelog record: the next input offset the state covers. */
export const stampHeader = "state.next-offset";
// The marker's key: a NUL byte, which no key of a record's own can start with.
const markerKey = "\u0000next-offset";

interface PartitionStore {
  values: Map<string, unknown>;
  /** The next input offset the state covers: records below it were absorbed already. */
  next: bigint;
}

/** A slice's view of its partition's state, and the keys it changed. */
export interface StateView<V> extends KeyedState<V> {
  changed: Map<string, V>;
}

/** The runtime side of keyed state for one input. */
export class StateStore {
  #partitions = new Map<number, PartitionStore>();
  // Restores started at an assignment, by partition: the first slice of each waits for its own.
  #restoring = new Map<number, Promise<PartitionStore | undefined>>();

  constructor(readonly changelog: Changelog, readonly log: Logger) {}

  /** Creates the changelog partitioned like `input` (refused when the counts differ). */
  prepare(input: string): Promise<void> {
    return this.changelog.prepare(input);
  }

  /**
   * The group gave this replica `partitions`: the state of any other one may go stale, and the
   * ones not held are restored now, all in one read of the changelog, rather than one read each
   * on its first slice (records would wait behind the restores). Resolves once they are
   * restored; a failed restore is retried by the slice that needs it, so this never rejects.
   */
  assigned(partitions: readonly number[]): Promise<void> {
    const held = new Set(partitions);
    for (const p of this.#partitions.keys()) {
      if (!held.has(p)) this.#partitions.delete(p);
    }
    for (const p of this.#restoring.keys()) {
      if (!held.has(p)) this.#restoring.delete(p);
    }
    const missing = partitions.filter((p) => !this.#partitions.has(p) && !this.#restoring.has(p));
    if (missing.length === 0) return Promise.resolve();
    const restored = this.#restore(missing).catch((error) => {
      this.log.warn("restoring state at assignment failed: each partition restores on its slice", {
        changelog: this.changelog.name,
        partitions: missing,
        error,
      });
      return undefined;
    });
    for (const p of missing) this.#restoring.set(p, restored.then((stores) => stores?.get(p)));
    return restored.then(() => {});
  }

  /** Drops the held state of `partition` (it is restored again when next needed). */
  forget(partition: number) {
    this.#partitions.delete(partition);
    this.#restoring.delete(partition);
  }

  /**
   * The state of `partition` for a slice starting at `firstOffset`: the held one (or the one
   * restored at the assignment) while it is continuous with the slice, else restored from the
   * changelog partition. A slice that starts past the held stamp means another replica absorbed
   * the records in between (the group moved the partition there and back, whether or not this
   * member saw the assignment change, or wrote its last slice after this one's restore), so the
   * held state is stale.
   */
  async partition(partition: number, firstOffset: bigint): Promise<PartitionStore> {
    const pending = this.#restoring.get(partition);
    if (pending) {
      this.#restoring.delete(partition);
      const restored = await pending;
      if (restored) this.#partitions.set(partition, restored);
    }
    const held = this.#partitions.get(partition);
    if (held && firstOffset <= held.next) return held;
    if (held) {
      this.log.info("state moved on elsewhere, restoring", {
        partition,
        heldNextOffset: held.next.toString(),
        firstOffset: firstOffset.toString(),
      });
    }
    const store = (await this.#restore([partition])).get(partition)!;
    this.#partitions.set(partition, store);
    // The slice should start where the state stops; past it, the records between were absorbed
    // by no one (the input's retention dropped them, or a consumer skipped them). Said loudly:
    // the state cannot hold them, and refusing the slice would stop the partition for good. (On
    // a compacted or transactional input a gap can be no loss: the line says where to look.)
    if (store.next > 0n && firstOffset > store.next) {
      this.log.error("records in no state: the slice starts past the restored state", {
        changelog: this.changelog.name,
        partition,
        missing: `${store.next}-${firstOffset - 1n}`,
      });
    }
    return store;
  }

  /** Reads the changelog partitions `partitions` into one store each. */
  async #restore(partitions: readonly number[]): Promise<Map<number, PartitionStore>> {
    const started = performance.now();
    const stores = new Map<number, { store: PartitionStore; stamps: Map<string, bigint> }>();
    for (const p of partitions) {
      stores.set(p, { store: { values: new Map(), next: 0n }, stamps: new Map() });
    }
    const decoder = new TextDecoder();
    await this.changelog.read(partitions, (record) => {
      const into = stores.get(record.partition);
      if (into) applyChangelog(into.store, into.stamps, record, decoder);
    });
    const ms = Math.round(performance.now() - started);
    for (const [partition, { store }] of stores) {
      this.log.info("state restored", {
        changelog: this.changelog.name,
        partition,
        keys: store.values.size,
        nextOffset: store.next.toString(),
        ms,
      });
    }
    return new Map([...stores].map(([p, { store }]) => [p, store]));
  }

  /** A view for one slice: reads see this partition's values and the slice's own writes. */
  view<V>(store: PartitionStore): StateView<V> {
    const changed = new Map<string, V>();
    return {
      changed,
      get: (key) => (changed.has(key) ? changed.get(key) : store.values.get(key) as V | undefined),
      set: (key, value) => void changed.set(key, value),
    };
  }

  /**
   * Writes the slice's changed keys and the marker to the changelog partition, stamped with
   * `next`; resolves when the brokers acknowledged. Then the held state moves on.
   */
  async write<V>(partition: number, store: PartitionStore, view: StateView<V>, next: bigint) {
    const headers = { [stampHeader]: next.toString() };
    const records = [...view.changed].map(([key, value]) => ({
      key,
      value: JSON.stringify(value),
      headers,
      partition,
    }));
    records.push({ key: markerKey, value: next.toString(), headers, partition });
    await this.changelog.write(partition, records);
    for (const [key, value] of view.changed) store.values.set(key, value);
    store.next = next;
  }
}

/**
 * Applies one changelog record to a partition's state (restore). A key keeps the value with the
 * highest stamp, not simply the last one appended: a replica that lost its partition while
 * writing must not roll a key back.
 */
export function applyChangelog(
  store: PartitionStore,
  stamps: Map<string, bigint>,
  record: StreamRecord,
  decoder: TextDecoder,
) {
  const text = record.headers[stampHeader];
  const stamp = text === undefined ? 0n : BigInt(text);
  if (stamp > store.next) store.next = stamp;
  if (record.key === null || record.key === markerKey) return;
  if (stamp < (stamps.get(record.key) ?? -1n)) return;
  stamps.set(record.key, stamp);
  if (record.value === null) store.values.delete(record.key);
  else store.values.set(record.key, JSON.parse(decoder.decode(record.value)));
}
