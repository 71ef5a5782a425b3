/**
 * The worker's HTTP endpoint: `/metrics` (Prometheus text), `/healthz` (the process is alive)
 * and `/readyz` (connected and not draining), plus routes of an HTTP-triggered worker.
 *
 * @example
 * ```ts
 * import { createMetrics } from "./metrics.ts";
 * const metrics = createMetrics("example");
 * const server = serveWorkerHttp({ hostname: "127.0.0.1", port: 0, metrics, isReady: () => true });
 * await server.shutdown();
 * ```
 * @module
 */
import type { WorkerMetrics } from "./metrics.ts";

export interface WorkerHttpOptions {
  hostname: string;
  port: number;
  metrics: WorkerMetrics;
  isReady(): boolean;
  /** Requests for other paths; absent means 404. */
  handler?: (request: Request) => Response | Promise<Response>;
  onListen?: (addr: Deno.NetAddr) => void;
}

/** Starts the server; `shutdown()` stops it. */
export function serveWorkerHttp(options: WorkerHttpOptions): Deno.HttpServer<Deno.NetAddr> {
  const { metrics } = options;
  return Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: (addr) => options.onListen?.(addr),
  }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/healthz") return Response.json({ status: "alive" });
    if (path === "/readyz") {
      const ready = options.isReady();
      return Response.json({ ready }, { status: ready ? 200 : 503 });
    }
    if (path === "/metrics") {
      return new Response(await metrics.registry.metrics(), {
        headers: { "content-type": metrics.registry.contentType },
      });
    }
    if (options.handler) return await options.handler(request);
    return new Response("not found\n", { status: 404 });
  });
}

/**
 * Whether an `If-None-Match` header matches `etag` (RFC 9110 §13.1.2): `*`, or any of a list of
 * tags, compared weakly (`W/"x"` matches `"x"`).
 */
export function ifNoneMatchHits(header: string | null, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  const opaque = (tag: string) => tag.replace(/^W\//, "");
  const tags = header.match(/(W\/)?"[^"]*"/g) ?? [];
  return tags.some((tag) => opaque(tag) === opaque(etag));
}
