/**
 * The Alpha Vantage HTTP API: daily series per symbol, with throttle replies ("Note",
 * "Information"), 5xx and network errors retried with jittered backoff. The API key is sent but
 * never appears in a log line or an error message (URLs are reported without their query).
 * What a reply means is the caller's `read` (the domain's parser): bars, a throttle note, or an
 * error — this connector only knows which of those to retry.
 *
 * @example
 * ```ts
 * const bars = await fetchDaily({
 *   baseUrl: "https://www.alphavantage.co",
 *   apiKey: Deno.env.get("ALPHAVANTAGE_API_KEY") ?? "",
 *   symbol: "IBM",
 *   attempts: 5,
 *   baseMs: 1000,
 *   read: (body) => ({ kind: "bars", bars: [body] }),
 * });
 * ```
 * @module
 */
import { retry } from "../runtime/retry.ts";

/** What a reply says, as the caller's parser reads it. */
export type AlphaVantageReply<T> =
  | { kind: "bars"; bars: T[] }
  | { kind: "throttled"; message: string }
  | { kind: "error"; message: string };

export interface AlphaVantageRequest<T> {
  baseUrl: string;
  apiKey: string;
  symbol: string;
  attempts: number;
  baseMs: number;
  onRetry?: (reason: string, attempt: number, delayMs: number) => void;
  /** Reads a JSON reply for `symbol`. */
  read(body: unknown, symbol: string): AlphaVantageReply<T>;
}

class Retriable extends Error {}

/** Fetches TIME_SERIES_DAILY (full) for one symbol, oldest bar first. */
export async function fetchDaily<T>(req: AlphaVantageRequest<T>): Promise<T[]> {
  const url = new URL(req.baseUrl);
  url.searchParams.set("function", "TIME_SERIES_DAILY");
  url.searchParams.set("symbol", req.symbol);
  url.searchParams.set("outputsize", "full");
  url.searchParams.set("apikey", req.apiKey);
  const where = `${url.origin}${url.pathname}`;
  return await retry(async () => {
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    } catch (error) {
      // fetch errors can quote the URL, key included: report only the origin and the kind.
      throw new Retriable(`network error calling ${where}: ${(error as Error).name}`);
    }
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel();
      throw new Retriable(`${where} answered ${response.status}`);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`${where} answered ${response.status} for ${req.symbol}`);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new Retriable(`${where} sent a reply that is not JSON`);
    }
    const reply = req.read(body, req.symbol);
    if (reply.kind === "throttled") {
      throw new Retriable(`throttled: ${reply.message.slice(0, 200)}`);
    }
    if (reply.kind === "error") {
      throw new Error(`Alpha Vantage rejected ${req.symbol}: ${reply.message}`);
    }
    return reply.bars;
  }, {
    attempts: req.attempts,
    baseMs: req.baseMs,
    retryable: (error) => error instanceof Retriable,
    onRetry: (error, attempt, delayMs) => req.onRetry?.((error as Error).message, attempt, delayMs),
  }, `fetching ${req.symbol} from Alpha Vantage`);
}
