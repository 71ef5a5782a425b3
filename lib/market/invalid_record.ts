/**
 * The error for a market record that can never be valid (a missing field, a bad price, an
 * unreadable payload). It names the field and a short reason; it is marked `deadLetter`, which is
 * how the worker runtime recognises an error that sends its record to the dead-letter topic —
 * so this pure domain code needs nothing from the runtime.
 *
 * @example
 * ```ts
 * const price = Number("-3");
 * if (!(price > 0)) throw new InvalidRecord("price must be positive", "price");
 * ```
 * @module
 */
export class InvalidRecord extends Error {
  override name = "InvalidRecord";
  /** Dead-letter the record; the rest of the batch goes on. */
  readonly deadLetter = true;
  /** A short machine-readable reason (`invalid-price`, `late-record`): a metric label. */
  readonly reason: string;
  constructor(message: string, readonly field?: string, reason?: string) {
    super(message);
    this.reason = reason ?? (field ? `invalid-${field}` : "invalid-record");
  }
}
