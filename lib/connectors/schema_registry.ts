/**
 * A Confluent-compatible schema registry over its REST API (Confluent Schema Registry, or Apicurio
 * at `/apis/ccompat/v7`): set a subject's compatibility, register a schema under it (refused when
 * incompatible with the subject's latest), fetch a schema by id. A refusal is final — the worker
 * must not write a single record — and ends it with exit 2 quoting the registry; a registry that
 * does not answer is retried like any server.
 *
 * @example
 * ```ts
 * const registry = schemaRegistry("http://127.0.0.1:8081/apis/ccompat/v7");
 * const id = await registry.register("market.bars-value", { type: "string" }, "BACKWARD");
 * const schema = await registry.schemaById(id); // the schema's JSON text
 * ```
 * @module
 */
import { ConfigError } from "../runtime/config.ts";
import { redact } from "../runtime/log.ts";

/** Compatibility levels a subject can have (Confluent's names). */
export const COMPATIBILITY_LEVELS = [
  "BACKWARD",
  "BACKWARD_TRANSITIVE",
  "FORWARD",
  "FORWARD_TRANSITIVE",
  "FULL",
  "FULL_TRANSITIVE",
  "NONE",
] as const;
export type Compatibility = (typeof COMPATIBILITY_LEVELS)[number];

export interface SchemaRegistry {
  readonly url: string;
  /** Sets the subject's compatibility and registers `schema`; resolves to its id. */
  register(subject: string, schema: unknown, compatibility: Compatibility): Promise<number>;
  /** The schema (JSON text) with this id, or `undefined` when the registry has none. */
  schemaById(id: number): Promise<string | undefined>;
}

const contentType = "application/vnd.schemaregistry.v1+json";

/** A registry's answer that was not a success: status and its message. */
class RegistryAnswer extends Error {
  constructor(readonly status: number, readonly errorCode: number | undefined, message: string) {
    super(message);
  }
}

/** A client of the registry at `url` (no trailing slash needed). */
export function schemaRegistry(url: string): SchemaRegistry {
  const base = url.replace(/\/+$/, "");
  const call = async (method: string, path: string, body?: unknown) => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { "content-type": contentType, accept: contentType },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      // Unreachable or too slow: retriable like any server that is away.
      throw new Error(`schema registry ${base}: ${redact((error as Error).message)}`);
    }
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch { /* not JSON: keep the text */ }
    if (!res.ok) {
      const message = String(json.message ?? text).slice(0, 500);
      throw new RegistryAnswer(res.status, json.error_code as number | undefined, message);
    }
    return json;
  };
  // Replicas starting together set a new subject's compatibility at once: Apicurio creates the
  // rule for the first and answers the others 409 (the rule exists). That is no refusal: the
  // same PUT again updates the rule. Still 409 after that, it goes to the caller's retries.
  const setCompatibility = async (s: string, compatibility: Compatibility) => {
    for (let attempt = 1;; attempt++) {
      try {
        return await call("PUT", `/config/${s}`, { compatibility });
      } catch (error) {
        if (!(error instanceof RegistryAnswer && error.status === 409)) throw error;
        if (attempt === 3) {
          throw new Error(`schema registry ${base}: setting compatibility: 409 ${error.message}`);
        }
      }
    }
  };
  const refusal = (subject: string, reason: string) =>
    new ConfigError(`schema registry refused the schema for ${subject}: ${reason}`);

  return {
    url: base,
    async register(subject, schema, compatibility) {
      const text = JSON.stringify(schema);
      const s = encodeURIComponent(subject);
      try {
        await setCompatibility(s, compatibility);
        const check: Record<string, unknown> = await call(
          "POST",
          `/compatibility/subjects/${s}/versions/latest?verbose=true`,
          {
            schema: text,
          },
        ).catch((error) => {
          // A subject with no version yet: nothing to be compatible with.
          if (error instanceof RegistryAnswer && error.status === 404) {
            return { is_compatible: true };
          }
          throw error;
        });
        const incompatible = (reason: string) =>
          refusal(
            subject,
            `incompatible with the latest version (${compatibility})${reason ? `: ${reason}` : ""}`,
          );
        // The registry's own words: Confluent lists `messages`, Apicurio 2 gives a `reason`.
        const reason = Array.isArray(check.messages)
          ? check.messages.join("; ")
          : String(check.reason ?? "");
        if (check.is_compatible === false && reason) throw incompatible(reason);
        try {
          // Apicurio 3 says why only when refusing the version itself; its rule still decides.
          const { id } = await call("POST", `/subjects/${s}/versions`, { schema: text });
          return Number(id);
        } catch (error) {
          if (
            check.is_compatible === false && error instanceof RegistryAnswer && error.status < 500
          ) {
            throw incompatible(error.message);
          }
          throw error;
        }
      } catch (error) {
        if (error instanceof RegistryAnswer && error.status >= 400 && error.status < 500) {
          throw refusal(subject, `${error.status} ${error.message}`);
        }
        if (error instanceof RegistryAnswer) {
          throw new Error(`schema registry ${base}: ${error.status} ${error.message}`);
        }
        throw error;
      }
    },
    async schemaById(id) {
      try {
        const { schema } = await call("GET", `/schemas/ids/${id}`);
        return String(schema);
      } catch (error) {
        if (error instanceof RegistryAnswer && error.status === 404) return undefined;
        if (error instanceof RegistryAnswer) {
          throw new Error(`schema registry ${base}: ${error.status} ${error.message}`);
        }
        throw error;
      }
    },
  };
}
