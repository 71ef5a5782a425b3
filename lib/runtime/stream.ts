/**
 * The stream-trigger interface: what the runtime's consume loop needs from a partitioned log
 * (Kafka in `lib/connectors/kafka/`, memory in `memory_stream.ts`). The runtime programs against
 * these shapes alone, so it never imports a client library and a test can drive it without a
 * broker.
 *
 * A stream hands the runtime per-partition slices in offset order; the runtime resolves a slice
 * once its outputs, dead letters and state are written, and only then may the stream commit it.
 *
 * @example
 * ```ts
 * import { memoryStream } from "./memory_stream.ts";
 * const trigger: StreamTrigger = memoryStream({ partitions: 2 }).trigger({ group: "example" });
 * ```
 * @module
 */
import type { OptionSpecs } from "./config.ts";
import type { RuntimeContext } from "./context.ts";
import type { Logger } from "./log.ts";

/** A record as a stream delivers it; `value` is the raw payload. */
export interface StreamRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Uint8Array | null;
  headers: Record<string, string>;
  /** Milliseconds since the epoch, as text (Kafka's record timestamp). */
  timestamp: string;
}

/** A record to write: dead letters and changelog entries. `value` is already encoded. */
export interface OutgoingRecord {
  key: string;
  value: string | Uint8Array;
  headers?: Record<string, string>;
  /** A partition of its own choosing (a changelog follows its input); default: by key. */
  partition?: number;
}

/** Batch consumption settings (AWS Lambda's event-source mapping words). */
export interface ConsumeOptions {
  topic: string;
  group: string;
  /** Most records handed to `onBatch` at once. */
  batchSize: number;
  /** How long a fetch may wait for `batchSize` records to arrive. */
  batchWindowMs: number;
  /** How long the group waits for a silent member (a killed one) before reassigning. */
  sessionTimeoutMs: number;
  /** Partitions whose batches are handled at the same time (order holds within each). */
  concurrency: number;
  /** Told the input partitions this member holds after each rebalance. */
  onAssigned?: (partitions: number[]) => void;
  /** Where a consumer says what it did on its own (read partitions again, say). */
  log?: Logger;
}

/** One partition's slice of records, all from the same topic-partition, in offset order. */
export interface PartitionBatch {
  topic: string;
  partition: number;
  records: StreamRecord[];
  highWatermark: bigint;
  /** Keeps the group membership alive while a slow batch is retried. */
  heartbeat(): Promise<void>;
  /** Whether the partition has moved to another member since this slice was fetched. */
  isStale(): boolean;
}

/**
 * What `onBatch` resolves to: `false` when the slice must not be committed (its partition moved
 * away meanwhile; the new owner handles it again).
 */
export type SliceOutcome = boolean | void;

/** A running consumer; `stop()` waits for the slice in flight (and its commit), then leaves. */
export interface BatchConsumer {
  stop(): Promise<void>;
  /** Resolves when the consumer crashed on its own; never on `stop()`. */
  crashed: Promise<Error>;
}

/** Per partition: the end offset now and the group's committed offset (-1 when none). */
export type Positions = Map<number, { high: bigint; committed: bigint }>;

/** Where keyed state is kept: one changelog partition per input partition. */
export interface Changelog {
  readonly name: string;
  /** Connects what writing it needs; the runtime calls it while connecting, before the run. */
  open(): Promise<void>;
  /** Creates it partitioned like `input`, or refuses one with another partition count. */
  prepare(input: string): Promise<void>;
  /**
   * Hands every entry of these partitions to `onRecord`, oldest first within each (a restore;
   * entries are not collected, a changelog may be large); resolves once all were handed.
   */
  read(partitions: readonly number[], onRecord: (record: StreamRecord) => void): Promise<void>;
  /** Appends entries to one partition; resolves once they are durable. */
  write(partition: number, records: OutgoingRecord[]): Promise<void>;
}

/** An opened stream trigger. */
export interface Stream {
  /** The input's name (the topic). */
  readonly input: string;
  /** The consumer group's name. */
  readonly group: string;
  /** The client library, for the "consuming" log line. */
  readonly client: string;
  /** Creates the input if needed and waits until every partition can be read. */
  prepare(): Promise<void>;
  /** The input's end offsets now and the group's positions (drain-to-end reads them). */
  positions(): Promise<Positions>;
  /**
   * Starts consuming: `onBatch` per partition slice; when it resolves (not `false`), the offset
   * after the slice is committed and `onCommitted` told; when it throws, nothing is committed and
   * the consumer stops fetching.
   */
  consume(
    onBatch: (batch: PartitionBatch) => Promise<SliceOutcome>,
    onCommitted: (partition: number, nextOffset: bigint) => void,
    onAssigned: (partitions: number[]) => void,
  ): Promise<BatchConsumer>;
  /** Writes dead letters; resolves once they are durable (before the slice commits). */
  deadLetter(records: OutgoingRecord[]): Promise<void>;
  /** The changelog named `name` for keyed state. */
  changelog(name: string): Changelog;
  close(): Promise<void>;
}

/** Consume a partitioned log in a consumer group, in per-partition slices. */
export interface StreamTrigger {
  kind: "stream";
  /** Options the trigger reads: the input's name, the group, batching, dead letters, connection. */
  options: OptionSpecs;
  /** Connects with the resolved options; retried by the runtime until it answers. */
  open(ctx: RuntimeContext): Promise<Stream>;
}
