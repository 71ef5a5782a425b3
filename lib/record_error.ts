/**
 * The error for a record that can never succeed (bad schema, invalid values). The runtime sends
 * such a record to the dead-letter topic with the reason and goes on with the rest of the batch;
 * every other error is treated as retriable.
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
  /** A short machine-readable reason, used as a metric label and for `dlq list --reason`. */
  readonly reason: string;
  constructor(message: string, readonly field?: string, reason?: string) {
    super(message);
    this.reason = reason ?? (field ? `invalid-${field}` : "invalid-record");
  }
}
