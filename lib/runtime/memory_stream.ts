/**
 * A stream trigger and an output held in memory: the runtime's consume loop, commits, dead
 * letters, keyed state, lineage and shutdown can be driven by a unit test with no broker. Every
 * step that matters for ordering — an output acknowledging, a dead letter, a changelog write, a
 * commit — is appended to one `events` list, so a test can assert the order.
 *
 * @example
 * ```ts
 * const log = memoryStream({ partitions: 2 });
 * log.append("AAPL", "{}");
 * const trigger = log.trigger({ group: "test", batchSize: 10 });
 * const out = memoryOutput(log.events);
 * // defineWorker({ trigger, outputs: { out }, ... }) and runWorker(...) with --once
 * ```
 * @module
 */
import type { OutputSpec } from "./define.ts";
import { acknowledged, stampLineage } from "./lineage.ts";
import type {
  BatchConsumer,
  Changelog,
  OutgoingRecord,
  Positions,
  Stream,
  StreamRecord,
  StreamTrigger,
} from "./stream.ts";

export interface MemoryStreamOptions {
  partitions: number;
  topic?: string;
}

/** A partitioned log in memory with one consumer group's commits. */
export class MemoryStream {
  readonly topic: string;
  readonly partitions: StreamRecord[][];
  /** The group's committed offsets (the next offset to read), by partition. */
  readonly committed = new Map<number, bigint>();
  readonly deadLetters: OutgoingRecord[] = [];
  readonly changelogs = new Map<string, StreamRecord[][]>();
  /** The order things happened in: "out …", "dead-letter …", "changelog …", "commit p@next". */
  readonly events: string[] = [];
  /** `consume()` fails this many more times (a broker away), then works. */
  consumeFailures = 0;

  constructor(options: MemoryStreamOptions) {
    this.topic = options.topic ?? "memory.in";
    this.partitions = Array.from({ length: options.partitions }, () => []);
  }

  /** Appends a record to `partition` (default: by key); returns its offset. */
  append(
    key: string,
    value: string,
    options: { partition?: number; timestamp?: number; headers?: Record<string, string> } = {},
  ): bigint {
    const partition = options.partition ?? hashPartition(key, this.partitions.length);
    const log = this.partitions[partition];
    log.push({
      topic: this.topic,
      partition,
      offset: String(log.length),
      key,
      value: new TextEncoder().encode(value),
      headers: options.headers ?? {},
      timestamp: String(options.timestamp ?? Date.now()),
    });
    return BigInt(log.length - 1);
  }

  /** A trigger on this log for `group`, slices of at most `batchSize`. */
  trigger(settings: { group: string; batchSize?: number }): StreamTrigger {
    return { kind: "stream", options: {}, open: () => Promise.resolve(this.#open(settings)) };
  }

  #open(settings: { group: string; batchSize?: number }): Stream {
    const batchSize = settings.batchSize ?? 100;
    return {
      input: this.topic,
      group: settings.group,
      client: "memory",
      prepare: () => Promise.resolve(),
      positions: () => Promise.resolve(this.#positions()),
      consume: (onBatch, onCommitted, onAssigned) => {
        if (this.consumeFailures > 0) {
          this.consumeFailures--;
          return Promise.reject(new Error("memory stream: consumer could not start"));
        }
        onAssigned(this.partitions.map((_, p) => p));
        return Promise.resolve(this.#consume(batchSize, onBatch, onCommitted));
      },
      deadLetter: (records) => {
        for (const r of records) this.events.push(`dead-letter ${r.key}`);
        this.deadLetters.push(...records);
        return Promise.resolve();
      },
      changelog: (name) => this.#changelog(name),
      close: () => Promise.resolve(),
    };
  }

  #positions(): Positions {
    const positions: Positions = new Map();
    this.partitions.forEach((log, p) => {
      positions.set(p, { high: BigInt(log.length), committed: this.committed.get(p) ?? -1n });
    });
    return positions;
  }

  #consume(
    batchSize: number,
    onBatch: Parameters<Stream["consume"]>[0],
    onCommitted: Parameters<Stream["consume"]>[1],
  ): BatchConsumer {
    let stopping = false;
    let crash: (error: Error) => void = () => {};
    const crashed = new Promise<Error>((resolve) => (crash = resolve));
    // Where this member reads next: the group's commits at start, then its own progress.
    const next = this.partitions.map((_, p) => Number(this.committed.get(p) ?? 0n));
    const loop = (async () => {
      while (!stopping) {
        let handled = false;
        for (const [p, log] of this.partitions.entries()) {
          if (stopping) break;
          const records = log.slice(next[p], next[p] + batchSize);
          if (records.length === 0) continue;
          handled = true;
          const outcome = await onBatch({
            topic: this.topic,
            partition: p,
            records,
            highWatermark: BigInt(log.length),
            heartbeat: () => Promise.resolve(),
            isStale: () => false,
          });
          if (outcome === false) continue;
          next[p] += records.length;
          this.committed.set(p, BigInt(next[p]));
          this.events.push(`commit ${p}@${next[p]}`);
          onCommitted(p, BigInt(next[p]));
        }
        if (!handled) await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })().catch((error) => crash(error as Error));
    return {
      crashed,
      async stop() {
        stopping = true;
        await loop;
      },
    };
  }

  #changelog(name: string): Changelog {
    const parts = () => this.changelogs.get(name)!;
    return {
      name,
      open: () => Promise.resolve(),
      prepare: () => {
        if (!this.changelogs.has(name)) {
          this.changelogs.set(name, this.partitions.map(() => []));
        }
        return Promise.resolve();
      },
      read: (partitions, onRecord) => {
        for (const p of partitions) parts()[p].forEach(onRecord);
        return Promise.resolve();
      },
      write: (partition, records) => {
        const log = parts()[partition];
        for (const r of records) {
          log.push({
            topic: name,
            partition,
            offset: String(log.length),
            key: r.key,
            value: typeof r.value === "string" ? new TextEncoder().encode(r.value) : r.value,
            headers: r.headers ?? {},
            timestamp: String(Date.now()),
          });
        }
        this.events.push(`changelog ${partition} ${records.length}`);
        return Promise.resolve();
      },
    };
  }
}

/** A new in-memory log. */
export function memoryStream(options: MemoryStreamOptions): MemoryStream {
  return new MemoryStream(options);
}

function hashPartition(key: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
  return h % partitions;
}

/** An opened memory output: what it was sent, lineage stamped. */
export interface MemoryOutput {
  sent: OutgoingRecord[];
  send(records: OutgoingRecord[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * An output that keeps what it is sent and logs `out <key>` in `events` for each record, as a
 * real output would acknowledge it; `fail` may throw to make a send fail.
 */
export function memoryOutput(
  events: string[],
  fail: (records: OutgoingRecord[]) => void = () => {},
): OutputSpec<MemoryOutput> {
  return {
    options: {},
    open(ctx) {
      const sent: OutgoingRecord[] = [];
      return Promise.resolve({
        sent,
        send(records) {
          fail(records);
          const stamped = stampLineage(records);
          sent.push(...stamped);
          for (const r of stamped) events.push(`out ${r.key}`);
          acknowledged(ctx.name);
          return Promise.resolve();
        },
        close: () => Promise.resolve(),
      });
    },
  };
}
