/**
 * `GET /lag` of a stream worker: how far its consumer group is behind the input right now, read
 * from the brokers (end offsets and the group's commits) rather than from the last slice's
 * gauge, which an idle worker never updates. What an orchestrator waits on ("has transform
 * caught up?") before starting the next step.
 *
 * @example
 * ```ts
 * import type { Stream } from "./stream.ts";
 * declare const stream: Stream;
 * const res = await lagEndpoint(stream)(new Request("http://x/lag"));
 * // { topic, group, lag: 0, partitions: { "0": { high: "10", committed: "10", lag: 0 } } }
 * ```
 * @module
 */
import { redact } from "./log.ts";
import type { Stream } from "./stream.ts";

/** Answers `GET /lag` with the group's lag per partition and in all; 503 when unreadable. */
export function lagEndpoint(stream: Stream): (request: Request) => Promise<Response> {
  return async () => {
    try {
      const positions = await stream.positions();
      const partitions: Record<string, { high: string; committed: string; lag: number }> = {};
      let total = 0;
      for (const [partition, { high, committed }] of positions) {
        // No commit yet: everything up to the end is still to read.
        const lag = Number(high - (committed < 0n ? 0n : committed));
        partitions[partition] = { high: String(high), committed: String(committed), lag };
        total += Math.max(0, lag);
      }
      return Response.json({ topic: stream.input, group: stream.group, lag: total, partitions });
    } catch (error) {
      return Response.json(
        { type: "about:blank", title: "lag unknown", status: 503, detail: redact(String(error)) },
        { status: 503, headers: { "content-type": "application/problem+json" } },
      );
    }
  };
}
