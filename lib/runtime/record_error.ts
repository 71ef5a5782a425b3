/**
 * The error for a record that can never succeed (bad schema, invalid values). The runtime sends
 * such a record to the dead-letter topic with the reason and goes on with the rest of the batch;
 * every other error is treated as retriable.
 *
 * Domain code need not import this class: any error marked `deadLetter: true` with a string
 * `reason` is treated the same ({@link isRecordError}), so pure modules can define their own.
 *
 * @example
 * ```ts
 * const price = Number("-3");
 * if (!(price > 0)) throw new RecordError("price must be positive", "price");
 * ```
 * @module
 */
export class RecordError extends Error {
  override name = "RecordError";
  readonly deadLetter = true;
  /** A short machine-readable reason, used as a metric label and for `dlq list --reason`. */
  readonly reason: string;
  constructor(message: string, readonly field?: string, reason?: string) {
    super(message);
    this.reason = reason ?? (field ? `invalid-${field}` : "invalid-record");
  }
}

/** What the runtime needs of a record's error: its message and a short reason. */
export interface DeadLetterError extends Error {
  readonly deadLetter: true;
  readonly reason: string;
}

/** Whether `error` sends its record to the dead-letter topic (rather than being retried). */
export function isRecordError(error: unknown): error is DeadLetterError {
  return error instanceof Error &&
    (error as Partial<DeadLetterError>).deadLetter === true &&
    typeof (error as Partial<DeadLetterError>).reason === "string";
}
