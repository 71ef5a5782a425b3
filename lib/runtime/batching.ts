/**
 * Output batching as a policy, in Benthos' words: a batch is sent when it holds `count` records,
 * or `byteSize` bytes, or when its first record has waited `periodMs` — whichever comes first.
 * A write that completes a batch waits for it to be sent (backpressure); a batch sent by the
 * period timer reports a failure on the next write or flush, so nothing fails unseen.
 *
 * @example
 * ```ts
 * const sent: string[][] = [];
 * const batcher = new Batcher<string>(
 *   { count: 2, byteSize: 1 << 20, periodMs: 50 },
 *   (batch) => Promise.resolve(void sent.push(batch)),
 *   (record) => record.length,
 * );
 * await batcher.write("a");
 * await batcher.write("b"); // the batch is full: sent now
 * await batcher.flush();
 * // sent: [["a", "b"]]
 * ```
 * @module
 */
import { int, type OptionSpecs } from "./config.ts";

/** When a batch is sent. */
export interface BatchPolicy {
  /** Records in a full batch. */
  count: number;
  /** Bytes in a full batch. */
  byteSize: number;
  /** Longest wait of a batch's first record (0: a batch waits only for count or bytes). */
  periodMs: number;
}

/** The options of a batch policy, under `prefix` (for example `OUTPUT_BATCH`). */
export function batchPolicyOptions(prefix: string, defaults: BatchPolicy): OptionSpecs {
  return {
    batchCount: int(`${prefix}_COUNT`, "records in a full output batch", defaults.count, {
      min: 1,
      max: 1_000_000,
    }),
    batchByteSize: int(`${prefix}_BYTES`, "bytes in a full output batch", defaults.byteSize, {
      min: 1,
    }),
    batchPeriodMs: int(
      `${prefix}_PERIOD_MS`,
      "longest wait of a batched record before its batch is sent",
      defaults.periodMs,
      { min: 0, max: 600_000 },
    ),
  };
}

/** Collects records and sends them in batches by a {@link BatchPolicy}. */
export class Batcher<R> {
  #records: R[] = [];
  #bytes = 0;
  #timer?: ReturnType<typeof setTimeout>;
  /** Sends run one after another, in order. */
  #sending: Promise<void> = Promise.resolve();
  #failure?: unknown;

  constructor(
    readonly policy: BatchPolicy,
    readonly send: (records: R[]) => Promise<void>,
    readonly sizeOf: (record: R) => number,
  ) {}

  /** Records waiting in the open batch. */
  get pending(): number {
    return this.#records.length;
  }

  /** Adds a record; resolves once it is batched, or sent when it completed a batch. */
  async write(record: R): Promise<void> {
    this.#throwFailure();
    this.#records.push(record);
    this.#bytes += this.sizeOf(record);
    if (this.#records.length >= this.policy.count || this.#bytes >= this.policy.byteSize) {
      await this.#cut();
      this.#throwFailure();
    } else if (this.#records.length === 1 && this.policy.periodMs > 0) {
      this.#timer = setTimeout(() => {
        this.#cut(); // a failure is kept in #failure, reported by the next write or flush
      }, this.policy.periodMs);
    }
  }

  /** Sends the open batch, then waits for every send so far. */
  async flush(): Promise<void> {
    await this.#cut();
    this.#throwFailure();
  }

  /** Stops the period timer (what is open stays unsent: flush first). */
  close(): void {
    clearTimeout(this.#timer);
  }

  #cut(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#records;
    this.#records = [];
    this.#bytes = 0;
    if (batch.length > 0) {
      this.#sending = this.#sending.then(() => {
        if (this.#failure === undefined) return this.send(batch);
      }).catch((error) => {
        this.#failure ??= error;
      });
    }
    return this.#sending;
  }

  #throwFailure() {
    if (this.#failure !== undefined) {
      const failure = this.#failure;
      this.#failure = undefined;
      throw failure;
    }
  }
}
