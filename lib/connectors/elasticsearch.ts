/**
 * Elasticsearch through the official 8.x client: connection options (basic auth or API key from
 * env or `*_FILE`, TLS), an index template, and bulk indexing that retries what can succeed
 * later (429, 5xx) and returns what never will (mapping errors) instead of dropping it.
 *
 * @example
 * ```ts
 * declare const es: import("@elastic/elasticsearch").Client;
 * const docs = [{ id: "SP500|1d|2000-01-03", doc: { symbol: "SP500", close: 1455.22 } }];
 * const { rejected } = await bulkIndex(es, "market-bars", docs, { attempts: 5, baseMs: 200 });
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { Client, Serializer } from "@elastic/elasticsearch";
import { type OptionSpec, secret, str } from "../runtime/config.ts";
import { backoffDelay, sleep } from "../runtime/retry.ts";
import type { OutputSpec } from "../runtime/define.ts";
import { acknowledged } from "../runtime/lineage.ts";
import { jsonBytes, type JsonPiece, jsonPiece } from "./json_bytes.ts";

export const elasticsearchOptions = {
  elasticsearchUrl: str("ELASTICSEARCH_URL", "Elasticsearch URL", "http://127.0.0.1:9200"),
  elasticsearchUsername: str("ELASTICSEARCH_USERNAME", "basic-auth user (with the password)", ""),
  elasticsearchPassword: secret("ELASTICSEARCH_PASSWORD", "basic-auth password"),
  elasticsearchApiKey: secret("ELASTICSEARCH_API_KEY", "API key (instead of basic auth)"),
  elasticsearchCaFile: str("ELASTICSEARCH_CA_FILE", "PEM file of the cluster's CA", ""),
};

export interface ElasticsearchConnection {
  elasticsearchUrl: string;
  elasticsearchUsername: string;
  elasticsearchPassword: string;
  elasticsearchApiKey: string;
  elasticsearchCaFile: string;
}

// A bulk answer filtered as bulkIndex asks begins with `errors`; when that is false every item
// succeeded and none need be read. Most answers are such, and parsing their thousands of item
// statuses was 3% of all the sink allocated. Any other answer is parsed as usual.
const ALL_SUCCEEDED = '{"errors":false';

class BulkAnswerSerializer extends Serializer {
  override deserialize<T = unknown>(json: string): T {
    return (json.startsWith(ALL_SUCCEEDED)
      ? { errors: false, items: [] }
      : super.deserialize(json)) as T;
  }
}

/** Creates a client and checks the cluster answers (fails fast at start-up). */
export async function openElasticsearch(o: ElasticsearchConnection): Promise<Client> {
  const client = new Client({
    node: o.elasticsearchUrl,
    auth: o.elasticsearchApiKey
      ? { apiKey: o.elasticsearchApiKey }
      : o.elasticsearchUsername
      ? { username: o.elasticsearchUsername, password: o.elasticsearchPassword }
      : undefined,
    tls: o.elasticsearchCaFile ? { ca: Deno.readTextFileSync(o.elasticsearchCaFile) } : undefined,
    // Retries are ours (with backoff, per item); the client's would resend whole bulks at once.
    maxRetries: 0,
    Serializer: BulkAnswerSerializer,
    requestTimeout: 60_000,
  });
  try {
    await client.cluster.health({ timeout: "5s" });
  } catch (error) {
    await client.close().catch(() => {});
    const where = new URL(o.elasticsearchUrl).host;
    throw new Error(`cannot reach Elasticsearch at ${where}: ${(error as Error).message}`);
  }
  return client;
}

/** A document that will never index, with the cluster's reason. */
export interface Rejected {
  /** position in the `docs` given to {@link bulkIndex} */
  position: number;
  status: number;
  reason: string;
}

/** A document and its `_id`; the document as an object or already as its JSON (text or bytes). */
export interface BulkDocument {
  id: string;
  doc: JsonPiece | Record<string, unknown>;
}

/**
 * Indexes `docs` under their ids. Items rejected with 429 or 5xx are retried with backoff up to
 * `attempts`; then the call throws (nothing is dropped). Other rejections are returned.
 */
export async function bulkIndex(
  client: Client,
  index: string,
  docs: readonly BulkDocument[],
  policy: {
    attempts: number;
    baseMs: number;
    onRetry?: (items: number, status: number, reason: string, attempt: number) => void;
  },
): Promise<{ rejected: Rejected[] }> {
  const rejected: Rejected[] = [];
  // The bulk body is made here, each document serialized once (the client would serialize every
  // action and document again on each attempt); a document given as bytes is copied in as it is.
  const target = Buffer.from(`{"index":{"_index":${JSON.stringify(index)},"_id":`);
  const bodies = docs.map(({ doc }) => jsonPiece(doc));
  let pending = docs.map((_, i) => i);
  for (let attempt = 1; pending.length > 0; attempt++) {
    const body = jsonBytes((w) => {
      for (let k = 0; k < pending.length; k++) {
        const i = pending[k];
        w.piece(target);
        w.quoted(docs[i].id);
        w.text("}}\n");
        w.piece(bodies[i]);
        w.text("\n");
      }
    });
    const response = await client.bulk({
      operations: body as never,
      refresh: false,
      // Only what is read below: the full per-item response is most of the time spent parsing.
      filter_path: "errors,items.*.status,items.*.error",
    });
    const retry: number[] = [];
    let lastReason = "";
    let lastStatus = 0;
    response.items.forEach((item, k) => {
      const result = item.index!;
      if (result.status < 300) return;
      const reason = result.error
        ? `${result.error.type}: ${result.error.reason ?? ""}`
        : `status ${result.status}`;
      if (result.status === 429 || result.status >= 500) {
        retry.push(pending[k]);
        lastReason = reason;
        lastStatus = result.status;
      } else {
        rejected.push({ position: pending[k], status: result.status, reason });
      }
    });
    pending = retry;
    if (pending.length === 0) break;
    policy.onRetry?.(pending.length, lastStatus, lastReason, attempt);
    if (attempt >= policy.attempts) {
      throw new Error(
        `${pending.length} documents still rejected after ${attempt} bulk attempts: ${lastReason}`,
      );
    }
    await sleep(backoffDelay(attempt, policy.baseMs));
  }
  return { rejected };
}

/**
 * Creates the index (from its template) unless it, or an alias of that name, exists: left to the
 * first bulk, creation and shard allocation would stall the first write, by 60–90 ms on an idle
 * machine and far longer on a loaded one, and a template the cluster cannot apply would surface
 * only then. Another replica creating it at the same moment is no error.
 */
async function ensureIndex(client: Client, index: string): Promise<void> {
  if (await client.indices.exists({ index })) return;
  try {
    await client.indices.create({ index });
  } catch (error) {
    const type = (error as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error
      ?.type;
    if (type !== "resource_already_exists_exception") throw error;
  }
}

/** The opened Elasticsearch output. */
export interface ElasticsearchOutput {
  client: Client;
  index: string;
  bulk(docs: readonly BulkDocument[]): Promise<{ rejected: Rejected[] }>;
  close(): Promise<void>;
}

/** An Elasticsearch output writing to the index named by `index`; `template` is put on open. */
export function elasticsearchOutput(
  index: OptionSpec<string>,
  template: (index: string) => Record<string, unknown>,
): OutputSpec<ElasticsearchOutput> {
  return {
    options: { ...elasticsearchOptions, [`index:${index.env}`]: index },
    async open(ctx) {
      const name = ctx.options[`index:${index.env}`] as string;
      const client = await openElasticsearch(ctx.options as ElasticsearchConnection);
      await client.indices.putIndexTemplate({ name: `${name}-template`, ...template(name) });
      await ensureIndex(client, name);
      const policy = {
        attempts: ctx.options.maxRetryAttempts,
        baseMs: ctx.options.retryBaseMs,
        onRetry: (items: number, status: number, reason: string, attempt: number) =>
          ctx.log.warn("bulk items rejected, retrying them", {
            index: name,
            items,
            status,
            reason: reason.slice(0, 200),
            attempt,
          }),
      };
      return {
        client,
        index: name,
        bulk: async (docs) => {
          const result = await bulkIndex(client, name, docs, policy);
          acknowledged(ctx.name);
          ctx.metrics.recordsOut.inc(
            { output: `elasticsearch:${name}` },
            docs.length - result.rejected.length,
          );
          return result;
        },
        close: () => client.close(),
      };
    },
  };
}
