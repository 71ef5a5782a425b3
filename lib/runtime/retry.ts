/**
 * Retries with full-jitter exponential backoff, bounded in attempts. A
 * {@link NonRetriableError} (or an error caused by one) is never retried.
 *
 * @example
 * ```ts
 * const reply = await retry(() => fetch("http://127.0.0.1:9200/"), { attempts: 5, baseMs: 200 });
 * ```
 * @module
 */
import { isNonRetriable } from "./non_retriable_error.ts";

export interface RetryPolicy {
  /** Total tries, the first included. */
  attempts: number;
  baseMs: number;
  maxMs?: number;
  /** Return false to fail at once (for errors that no retry can fix). */
  retryable?: (error: unknown) => boolean;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Aborting stops waiting and ends the retries with the last error; no attempt follows. */
  signal?: AbortSignal;
}

/** Thrown when every attempt failed; `cause` is the last error. */
export class RetriesExhausted extends Error {
  override name = "RetriesExhausted";
  constructor(what: string, attempts: number, cause: unknown) {
    super(`${what} failed after ${attempts} attempts: ${(cause as Error)?.message ?? cause}`, {
      cause,
    });
  }
}

/** Delay before retry number `attempt` (1-based): random in [0, min(max, base·2^(attempt-1))]. */
export function backoffDelay(attempt: number, baseMs: number, maxMs = 30_000): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1));
}

/** Resolves after `ms`, or early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Runs `fn` until it succeeds or the policy gives up; throws {@link RetriesExhausted}. */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  what = "operation",
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (isNonRetriable(error) || (policy.retryable && !policy.retryable(error))) throw error;
      if (attempt >= policy.attempts || policy.signal?.aborted) {
        throw new RetriesExhausted(what, attempt, error);
      }
      const delay = backoffDelay(attempt, policy.baseMs, policy.maxMs);
      policy.onRetry?.(error, attempt, delay);
      await sleep(delay, policy.signal);
      if (policy.signal?.aborted) throw new RetriesExhausted(what, attempt, error);
    }
  }
}
