/**
 * The consume loop of a stream trigger: start a consumer, hand its slices to the slice handler,
 * and when the consumer fails (a broker restarting, a partition without a leader yet, a
 * coordinator moving) start it again after a backoff; only what no retry can fix, or too many
 * failures in a row, ends the worker. With `untilEnd` (--once, --schedule) it stops once every
 * partition is committed up to the end offsets seen at the start.
 *
 * @example
 * ```ts
 * import type { Lifecycle } from "./lifecycle.ts";
 * import type { Stream } from "./stream.ts";
 * declare const life: Lifecycle, stream: Stream;
 * await consumeStream(life, stream, () => Promise.resolve(), { untilEnd: true });
 * ```
 * @module
 */
import type { Lifecycle } from "./lifecycle.ts";
import { isNonRetriable } from "./non_retriable_error.ts";
import { backoffDelay, RetriesExhausted, retry, sleep } from "./retry.ts";
import type { PartitionBatch, SliceOutcome, Stream } from "./stream.ts";

export interface LoopHooks {
  /** Stop at the end offsets of the start (drain), rather than run until stopped. */
  untilEnd: boolean;
  /** Runs once the input exists with leaders, before anything is read (state sized by it). */
  prepared?: () => Promise<void>;
  /** Told the partitions this member holds after each rebalance. */
  onAssigned?: (partitions: number[]) => void;
  /** How often a drain polls the group's commits (other replicas may finish partitions). */
  pollMs?: number;
  /** A drain starts no slice once this many records were read. */
  maxRecords?: number;
  /** A drain starts no slice whose first record's timestamp (ms) is at or after this. */
  until?: number;
}

/**
 * Consumes `stream`, slice by slice through `onSlice`, until done, stopped or failed; resolves to
 * whether a bound (`maxRecords`, `until`) ended a drain before its end offsets.
 */
export async function consumeStream(
  life: Lifecycle,
  stream: Stream,
  onSlice: (batch: PartitionBatch) => Promise<SliceOutcome>,
  hooks: LoopHooks,
): Promise<boolean> {
  const { options, log } = life;
  await retry(
    () => stream.prepare(),
    life.retryPolicy("preparing the input"),
    `preparing ${stream.input}`,
  );
  await hooks.prepared?.();
  let remaining: Map<number, bigint> | undefined;
  if (hooks.untilEnd) {
    const positions = await retry(
      () => stream.positions(),
      life.retryPolicy("reading end offsets"),
      "reading end offsets",
    );
    remaining = new Map();
    for (const [partition, { high, committed }] of positions) {
      if (committed < high && high > 0n) remaining.set(partition, high);
    }
    log.info("draining to high-water marks", {
      topic: stream.input,
      partitions: Object.fromEntries([...remaining].map(([p, h]) => [p, h.toString()])),
    });
    if (remaining.size === 0) return false;
  }
  // Once a drain has reached every end offset it starts no further slice: what arrived after the
  // start is left, uncommitted, for the next run. (Until then, a partition that is done may
  // still be read further: refusing its slices would make the client fetch them again and again.)
  let bounded = false;
  let read = 0;
  // A bound ends a partition (until) or the whole drain (maxRecords) before a slice starts.
  const withinBounds = (batch: PartitionBatch) => {
    if (hooks.maxRecords !== undefined && read >= hooks.maxRecords) {
      remaining!.clear();
    } else if (hooks.until !== undefined && Number(batch.records[0]?.timestamp) >= hooks.until) {
      remaining!.delete(batch.partition);
    } else {
      read += batch.records.length;
      return true;
    }
    bounded = true;
    if (remaining!.size === 0) wake();
    return false;
  };
  const slices = remaining
    ? (batch: PartitionBatch) =>
      remaining!.size > 0 && withinBounds(batch) ? onSlice(batch) : Promise.resolve(false)
    : onSlice;
  let wake: () => void = () => {};
  const finished = new Promise<void>((resolve) => (wake = resolve));
  life.halted.then(() => wake());
  const done = () => life.signal.aborted || !!life.fatal || remaining?.size === 0;
  const poll = remaining
    ? setInterval(() => refreshRemaining(life, stream, remaining!, wake), hooks.pollMs ?? 1000)
    : 0;
  // Failures in a row; any committed slice resets the count.
  let failures = 0;
  try {
    while (!done()) {
      const failure = await consumeUntilFailure(life, stream, slices, finished, {
        onCommitted: (partition, next) => {
          failures = 0;
          const target = remaining?.get(partition);
          if (target !== undefined && next >= target) remaining!.delete(partition);
          if (done()) wake();
        },
        onAssigned: hooks.onAssigned ?? (() => {}),
      });
      if (failure === undefined || done()) break;
      failures++;
      if (isNonRetriable(failure) || failures >= options.maxRetryAttempts) {
        life.fail(
          isNonRetriable(failure)
            ? failure
            : new RetriesExhausted("consuming " + stream.input, failures, failure),
        );
        break;
      }
      const delayMs = backoffDelay(failures, options.retryBaseMs);
      life.setReady(false);
      life.metrics.errors.inc({ kind: "retriable" });
      log.warn("consumer failed, starting it again", {
        topic: stream.input,
        error: failure,
        attempt: failures,
        delayMs: Math.round(delayMs),
      });
      await sleep(delayMs, life.signal);
    }
  } finally {
    clearInterval(poll);
  }
  return bounded;
}

/**
 * Runs one consumer until `finished` (done or stopping) or until it fails; resolves with the
 * failure, if any, after the consumer has stopped.
 */
async function consumeUntilFailure(
  life: Lifecycle,
  stream: Stream,
  onSlice: (batch: PartitionBatch) => Promise<SliceOutcome>,
  finished: Promise<void>,
  hooks: {
    onCommitted: (partition: number, next: bigint) => void;
    onAssigned: (partitions: number[]) => void;
  },
): Promise<Error | undefined> {
  let consumer;
  try {
    consumer = await stream.consume(onSlice, hooks.onCommitted, hooks.onAssigned);
  } catch (error) {
    return error as Error;
  }
  life.log.info("consuming", { topic: stream.input, group: stream.group, client: stream.client });
  const failure = await Promise.race([finished.then(() => undefined), consumer.crashed]);
  if (failure === undefined) await life.withShutdownTimeout(consumer.stop());
  else await consumer.stop().catch(() => {});
  if (!life.fatal) life.setReady(true);
  return failure;
}

async function refreshRemaining(
  life: Lifecycle,
  stream: Stream,
  remaining: Map<number, bigint>,
  wake: () => void,
) {
  try {
    const positions = await stream.positions();
    for (const [partition, target] of remaining) {
      const committed = positions.get(partition)?.committed ?? -1n;
      if (committed >= target) remaining.delete(partition);
    }
    if (remaining.size === 0) wake();
  } catch (error) {
    life.log.debug("could not poll group offsets", { error });
  }
}
