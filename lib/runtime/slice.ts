/**
 * One partition slice, start to commit: drop records the keyed state already absorbed, decode
 * (a RecordError → dead letter), hand the rest to the handler with their lineage in scope, flush
 * batched outputs, write the state's changelog, and only then let the stream commit. A failure
 * is retried with backoff and nothing is committed; after the last attempt the worker stops and
 * the slice is redelivered to whoever consumes next.
 *
 * @example
 * ```ts
 * import type { Lifecycle } from "./lifecycle.ts";
 * import type { Output, StreamWorker } from "./define.ts";
 * import type { Stream } from "./stream.ts";
 * declare const life: Lifecycle, stream: Stream, outputs: Record<string, Output>;
 * declare const def: StreamWorker<{}, {}, unknown>;
 * const onSlice = sliceHandler(life, def, stream, outputs);
 * ```
 * @module
 */
import { type Failure, sendDeadLetters } from "./dead_letters.ts";
import type {
  BatchSource,
  HandlerContext,
  Message,
  Output,
  StreamContext,
  StreamWorker,
} from "./define.ts";
import { type KeyedState, StateStore, type StateView } from "./keyed_state.ts";
import type { Lifecycle } from "./lifecycle.ts";
import { lineageOf, observeLineage, withLineage } from "./lineage.ts";
import { isRecordError } from "./record_error.ts";
import { RetriesExhausted, retry } from "./retry.ts";
import type { PartitionBatch, SliceOutcome, Stream } from "./stream.ts";

const noState: KeyedState<never> = {
  get() {
    throw new Error("this worker declares no state");
  },
  set() {
    throw new Error("this worker declares no state");
  },
};

/** Flushes every output that batches, so what a slice wrote is acknowledged before its commit. */
export async function flushOutputs(outputs: Record<string, Output>): Promise<void> {
  await Promise.all(Object.values(outputs).map((o) => o.flush?.()));
}

/** The function the consume loop calls per slice. */
export function sliceHandler(
  life: Lifecycle,
  // deno-lint-ignore no-explicit-any
  def: StreamWorker<any, any, unknown, any>,
  stream: Stream,
  outputs: Record<string, Output>,
  state?: StateStore,
): (batch: PartitionBatch) => Promise<SliceOutcome> {
  const { options, log, metrics } = life;
  const base: HandlerContext<unknown, unknown> = {
    options,
    outputs: outputs as never,
    log,
    metrics,
    signal: life.signal,
  };
  const deadLetters = (failures: Failure[]) =>
    sendDeadLetters(stream, def.name, failures, log, metrics);

  return async (batch) => {
    if (life.fatal) throw life.fatal;
    let moved = false;
    const started = performance.now();
    const first = batch.records[0].offset;
    const last = batch.records[batch.records.length - 1].offset;
    const where = { topic: batch.topic, partition: batch.partition, offsets: `${first}-${last}` };
    metrics.recordsIn.inc({ topic: batch.topic }, batch.records.length);
    try {
      await retry(async () => {
        // Records below the state's stamp were absorbed before a crash or a rebalance.
        const store = state && await state.partition(batch.partition, BigInt(first));
        const records = store && BigInt(first) < store.next
          ? batch.records.filter((r) => BigInt(r.offset) >= store.next)
          : batch.records;
        const messages: Message<unknown>[] = [];
        const failures: Failure[] = [];
        await def.beforeDecode?.(records, options);
        for (const record of records) {
          try {
            messages.push({ value: def.decode(record, options), record });
          } catch (error) {
            if (!isRecordError(error)) throw error;
            failures.push({ record, error });
          }
        }
        await deadLetters(failures);
        const source: BatchSource = {
          topic: batch.topic,
          partition: batch.partition,
          firstOffset: BigInt(first),
          lastOffset: BigInt(last),
        };
        const view: StateView<unknown> | undefined = store && state!.view(store);
        if (messages.length > 0) {
          const ctx: StreamContext<unknown, unknown, unknown> = {
            ...base,
            source,
            state: view ?? noState,
            deadLetter: (record, error) => deadLetters([{ record, error }]),
          };
          const lineage = lineageOf(messages.map((m) => m.record));
          await withLineage(lineage, async () => {
            await def.handle(messages, ctx as never);
            await flushOutputs(outputs);
          });
          observeLineage(lineage, metrics);
        }
        // The state moves past this slice only after its outputs (and dead letters) were
        // acknowledged, and before the offsets are committed.
        if (store && records.length > 0) {
          // A partition that moved away meanwhile belongs to its new owner's state: writing
          // ours now could overwrite newer state. The new owner handles the slice again.
          if (batch.isStale()) {
            moved = true;
            state!.forget(batch.partition);
            return;
          }
          await state!.write(batch.partition, store, view!, BigInt(last) + 1n);
        }
      }, {
        attempts: options.maxRetryAttempts,
        baseMs: options.retryBaseMs,
        retryable: (error) => !isRecordError(error),
        onRetry: (error, attempt, delayMs) => {
          batch.heartbeat().catch(() => {});
          metrics.errors.inc({ kind: "retriable" });
          life.setReady(false);
          log.warn("batch failed, retrying without commit", {
            ...where,
            error,
            attempt,
            delayMs: Math.round(delayMs),
          });
        },
      }, `batch ${batch.topic}[${batch.partition}] ${first}-${last}`);
    } catch (error) {
      // Retries exhausted (or a RecordError thrown for a whole batch): stop rather than spin
      // or skip; nothing was committed, so the batch is redelivered after a restart.
      const fatal = error instanceof RetriesExhausted
        ? error
        : new Error(`batch failed: ${(error as Error).message}`);
      life.fail(fatal);
      throw fatal;
    }
    if (moved) {
      log.info("partition moved to another replica mid-slice: left uncommitted", where);
      return false;
    }
    life.setReady(true);
    const lag = batch.highWatermark - (BigInt(last) + 1n);
    metrics.consumerLag.set(
      { topic: batch.topic, partition: String(batch.partition) },
      Number(lag < 0n ? 0n : lag),
    );
    metrics.batchDuration.observe((performance.now() - started) / 1000);
    metrics.lastSuccess.set(Date.now() / 1000);
    log.debug("batch done", { ...where, records: batch.records.length });
  };
}
