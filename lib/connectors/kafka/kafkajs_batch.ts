/**
 * kafkajs' fetch batch (`consumer/batch.js`) without its work per message. kafkajs keeps the
 * messages at or past the fetched offset by parsing every message's offset into a 64-bit `Long`
 * (1–2% of a transform's CPU, and garbage), then copies the array twice more to drop aborted
 * transactions and control records. Offsets ascend within a partition, so here only the first
 * messages are compared, decimal offsets by their digits; an array is copied only when something
 * is dropped. The batch's fields and methods are kafkajs', with its 64-bit arithmetic in BigInt.
 * {@link installFetchBatch} must run before kafkajs loads (`kafkajs.ts`).
 *
 * @example
 * ```ts
 * offsetAtLeast("10", "9"); // true: offsets compared as numbers, not as text
 * ```
 * @module
 */
import { kafkajsModule, replaceKafkajsModule } from "./kafkajs_modules.ts";

interface BatchMessage {
  offset: string;
  isControlRecord?: boolean;
}

interface PartitionData {
  partition: number;
  highWatermark: string;
  messages: BatchMessage[];
  abortedTransactions?: unknown[];
}

type FilterAborted = (args: {
  messages: BatchMessage[];
  abortedTransactions?: unknown[];
}) => BatchMessage[];

/** Whether decimal offset `a` ≥ `b`: by length, then digits, for the non-negative ones. */
export function offsetAtLeast(a: string, b: string): boolean {
  if (a.charCodeAt(0) === 0x2d || b.charCodeAt(0) === 0x2d) return BigInt(a) >= BigInt(b);
  return a.length !== b.length ? a.length > b.length : a >= b;
}

/** The fetch batch kafkajs' consumer group makes for each partition of a fetch response. */
export class FetchBatch {
  readonly fetchedOffset: string;
  readonly topic: string;
  readonly partition: number;
  readonly highWatermark: string;
  readonly rawMessages: BatchMessage[];
  readonly messagesWithinOffset: BatchMessage[];
  readonly messages: BatchMessage[];

  constructor(topic: string, fetchedOffset: string | number, data: PartitionData) {
    this.fetchedOffset = String(fetchedOffset);
    this.topic = topic;
    this.partition = data.partition;
    this.highWatermark = data.highWatermark;
    const raw = data.messages;
    this.rawMessages = raw;
    let first = 0;
    while (first < raw.length && !offsetAtLeast(raw[first].offset, this.fetchedOffset)) first++;
    this.messagesWithinOffset = first === 0 ? raw : raw.slice(first);
    const kept = filterAborted()({
      messages: this.messagesWithinOffset,
      abortedTransactions: data.abortedTransactions,
    });
    this.messages = kept.some((m) => m.isControlRecord)
      ? kept.filter((m) => !m.isControlRecord)
      : kept;
  }

  isEmpty(): boolean {
    return this.messages.length === 0;
  }

  isEmptyIncludingFiltered(): boolean {
    return this.messagesWithinOffset.length === 0;
  }

  isEmptyDueToFiltering(): boolean {
    return this.isEmpty() && this.rawMessages.length > 0;
  }

  isEmptyControlRecord(): boolean {
    return this.isEmpty() && this.messagesWithinOffset.some((m) => m.isControlRecord);
  }

  isEmptyDueToLogCompactedMessages(): boolean {
    return this.rawMessages.length > 0 && this.isEmptyIncludingFiltered();
  }

  firstOffset(): string | null {
    return this.isEmptyIncludingFiltered() ? null : this.messagesWithinOffset[0].offset;
  }

  lastOffset(): string {
    if (this.isEmptyDueToLogCompactedMessages()) return this.fetchedOffset;
    if (this.isEmptyIncludingFiltered()) return (BigInt(this.highWatermark) - 1n).toString();
    return this.messagesWithinOffset[this.messagesWithinOffset.length - 1].offset;
  }

  /** The lag behind the batch's last offset. */
  offsetLag(): string {
    return (BigInt(this.highWatermark) - 1n - BigInt(this.lastOffset())).toString();
  }

  /** The lag behind the batch's first offset. */
  offsetLagLow(): string {
    if (this.isEmptyIncludingFiltered()) return "0";
    return (BigInt(this.highWatermark) - 1n - BigInt(this.firstOffset()!)).toString();
  }
}

const filterAborted = () => kafkajsModule("consumer/filterAbortedMessages.js") as FilterAborted;

/** Puts {@link FetchBatch} where kafkajs' consumer group will load its batch. */
export function installFetchBatch(): void {
  replaceKafkajsModule("consumer/batch.js", FetchBatch, "fetch batch");
}
