/**
 * The error for a failure no retry can fix — wrong credentials, a missing authorisation, a bad
 * setting. The runtime stops the worker at once with its message instead of backing off; every
 * other error (a broker or store away, a partition without a leader) is retried.
 *
 * @example
 * ```ts
 * throw new NonRetriableError("Kafka refused the credentials (SASL authentication failed)");
 * ```
 * @module
 */
export class NonRetriableError extends Error {
  override name = "NonRetriableError";
}

/** `error`, or the first error in its `cause` chain, that is a `kind`. */
export function causeOf<T extends Error>(
  error: unknown,
  kind: abstract new (...args: never[]) => T,
): T | undefined {
  for (let e = error, depth = 0; e && depth < 10; depth++) {
    if (e instanceof kind) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether `error`, or any error it was caused by, is a {@link NonRetriableError}. */
export function isNonRetriable(error: unknown): boolean {
  return causeOf(error, NonRetriableError) !== undefined;
}
