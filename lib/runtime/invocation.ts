/**
 * Invoking a worker over HTTP (`--serve`): the worker consumes nothing until `POST /run`, which
 * runs once — a stream worker drains its input to the high-water marks of that moment (as
 * `--once`), an invoked worker runs its handler — and answers with the run's totals. One run at a
 * time: a second `POST /run` meanwhile gets 409 with the running one's start. A failed run
 * answers problem+json (RFC 9457) and leaves the worker serving; the next run starts afresh from
 * the group's commits, so nothing a failed run left is lost.
 *
 *   POST /run                        run now; 200 {recordsIn, recordsOut, deadLetters, …}
 *   POST /run?max_records=N          stream: start no slice once N records were read
 *   POST /run?until=<ISO time>       stream: start no slice whose first record is at/after it;
 *                                    invoked: the data interval's end (with `from`)
 *   POST /run?from=<ISO time>        invoked: the data interval's start
 *
 * Bounds on a stream are per slice (BATCH_SIZE records at most): a slice is handled whole or not
 * at all, because only whole slices are committed.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const handler = invocationEndpoint("sink", createLogger("sink"), () =>
 *   Promise.resolve({ recordsIn: 0, recordsOut: {}, deadLetters: 0 }));
 * const res = await handler(new Request("http://x/run", { method: "POST" }));
 * ```
 * @module
 */
import type { Lifecycle } from "./lifecycle.ts";
import { type Logger, redact } from "./log.ts";
import { isNonRetriable } from "./non_retriable_error.ts";

/** What a run may be bounded by (all optional). */
export interface RunBounds {
  /** Stream: start no slice once this many records were read. */
  maxRecords?: number;
  /** Stream: start no slice whose first record's time is at/after it; invoked: interval end. */
  until?: Date;
  /** Invoked: the data interval's start. */
  from?: Date;
}

/** A run's totals, as the `stopped` line names them, plus where a stream got to. */
export interface RunReport {
  recordsIn: number;
  recordsOut: Record<string, number>;
  deadLetters: number;
  /** Stream: the group's committed offset per partition after the run. */
  offsets?: Record<string, string>;
  /** Stream: whether a bound ended the run before the high-water marks. */
  bounded?: boolean;
}

class BadRequest extends Error {}

function parseBounds(url: URL): RunBounds {
  const bounds: RunBounds = {};
  const max = url.searchParams.get("max_records");
  if (max !== null) {
    if (!/^\d+$/.test(max) || Number(max) < 1) {
      throw new BadRequest(`max_records must be a whole number ≥ 1, not "${max}"`);
    }
    bounds.maxRecords = Number(max);
  }
  for (const name of ["until", "from"] as const) {
    const raw = url.searchParams.get(name);
    if (raw === null) continue;
    const at = new Date(raw);
    if (Number.isNaN(at.getTime())) {
      throw new BadRequest(`${name} must be an ISO time, not "${raw}"`);
    }
    bounds[name] = at;
  }
  if (bounds.from && bounds.until && bounds.from >= bounds.until) {
    throw new BadRequest("from must be before until");
  }
  return bounds;
}

const problem = (status: number, title: string, detail: string, extra = {}) =>
  Response.json({ type: "about:blank", title, status, detail, instance: "/run", ...extra }, {
    status,
    headers: { "content-type": "application/problem+json" },
  });

/** The `/run` route: one run at a time, totals or a problem in the answer. */
export function invocationEndpoint(
  worker: string,
  log: Logger,
  runOnce: (bounds: RunBounds) => Promise<RunReport>,
  ready: () => boolean = () => true,
): (request: Request) => Promise<Response> {
  let running: Date | undefined;
  return async (request) => {
    const url = new URL(request.url);
    if (url.pathname !== "/run") return new Response("not found\n", { status: 404 });
    if (request.method !== "POST") {
      return problem(405, "method not allowed", "start a run with POST /run");
    }
    let bounds: RunBounds;
    try {
      bounds = parseBounds(url);
    } catch (error) {
      if (error instanceof BadRequest) return problem(400, "bad run bounds", error.message);
      throw error;
    }
    if (running) {
      return problem(
        409,
        "a run is in progress",
        `${worker} is running since ${running.toISOString()}`,
        {
          runningSince: running.toISOString(),
        },
      );
    }
    if (!ready()) {
      return problem(503, "not connected yet", `${worker} has not reached its servers yet`);
    }
    const startedAt = new Date();
    running = startedAt;
    log.info("run invoked", { bounds });
    try {
      const report = await runOnce(bounds);
      const seconds = (Date.now() - startedAt.getTime()) / 1000;
      log.info("invoked run done", { ...report, seconds });
      return Response.json({
        worker,
        status: "ok",
        startedAt: startedAt.toISOString(),
        seconds,
        ...report,
      });
    } catch (error) {
      const final = isNonRetriable(error);
      log.error("invoked run failed", { error, final });
      // 503: retries ran out against a server that may come back (try again later); 500: a
      // failure no retry fixes.
      return problem(
        final ? 500 : 503,
        final ? "run failed" : "run failed, retries exhausted",
        redact((error as Error).message),
        { startedAt: startedAt.toISOString(), worker },
      );
    } finally {
      running = undefined;
    }
  };
}

/**
 * The lifecycle of one invoked run: the worker's options, log, metrics and stop signal, but a
 * failure of its own — it ends this run (answered as a problem), not the worker.
 */
export class RunScope implements Lifecycle {
  readonly halted: Promise<void>;
  #fatal?: Error;
  #halt: () => void = () => {};

  constructor(readonly parent: Lifecycle) {
    this.halted = new Promise((resolve) => (this.#halt = resolve));
    parent.halted.then(() => this.#halt());
  }

  get worker() {
    return this.parent.worker;
  }
  get options() {
    return this.parent.options;
  }
  get log() {
    return this.parent.log;
  }
  get metrics() {
    return this.parent.metrics;
  }
  get signal() {
    return this.parent.signal;
  }
  get fatal() {
    return this.#fatal ?? this.parent.fatal;
  }
  fail(error: Error) {
    this.#fatal ??= error;
    this.#halt();
  }
  setReady(ready: boolean) {
    this.parent.setReady(ready);
  }
  retryPolicy(what: string) {
    return this.parent.retryPolicy(what);
  }
  withShutdownTimeout(work: Promise<unknown>) {
    return this.parent.withShutdownTimeout(work);
  }
}
