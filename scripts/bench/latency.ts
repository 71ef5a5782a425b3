/**
 * The whole pipeline at once — transform and sink running continuously while ingest sends —
 * first unpaced (its maximum: ticks / time until the sink has caught up), then paced at 50% and
 * 90% of that, where the workers' `pipeline_ingest_latency_seconds` histograms give ingest →
 * acknowledged-write latency per store.
 *
 * @module
 */
import { taskArgs, waitReady } from "../../tests/support/workers.ts";
import {
  deno,
  type Figures,
  fresh,
  freshPipeline,
  lagOf,
  nextPort,
  repeat,
  root,
  say,
  settings,
  stat,
  synthetic,
  worker,
} from "./harness.ts";

/** The cumulative buckets `[le, count]` of `pipeline_ingest_latency_seconds{output}`, by le. */
export function latencyBuckets(metrics: string, output: string): [number, number][] {
  const buckets: [number, number][] = [];
  for (const line of metrics.split("\n")) {
    if (!line.startsWith("pipeline_ingest_latency_seconds_bucket{")) continue;
    if (!line.includes(`output="${output}"`)) continue;
    const le = /le="([^"]+)"/.exec(line)![1];
    buckets.push([le === "+Inf" ? Infinity : Number(le), Number(line.split(" ").at(-1))]);
  }
  return buckets.sort((a, b) => a[0] - b[0]);
}

/**
 * A quantile of cumulative buckets, interpolated within the bucket as Prometheus'
 * histogram_quantile does (so as exact as the bucket bounds); NaN without observations.
 */
export function bucketQuantile(buckets: [number, number][], quantile: number): number {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return NaN;
  const rank = quantile * total;
  let [lower, below] = [0, 0];
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      return lower + (le - lower) * ((rank - below) / Math.max(count - below, 1));
    }
    [lower, below] = [le, count];
  }
  return NaN;
}

/** What cumulative buckets counted since `before` (an earlier scrape of the same histogram). */
export function bucketsSince(
  now: [number, number][],
  before: [number, number][],
): [number, number][] {
  return now.map(([le, count], i) => [le, count - (before[i]?.[1] ?? 0)]);
}

/** A quantile of `pipeline_ingest_latency_seconds{output}` over everything observed so far. */
export function histogramQuantile(metrics: string, output: string, quantile: number): number {
  return bucketQuantile(latencyBuckets(metrics, output), quantile);
}

/** How long a paced run counts as its start (cold processes), for the figures after it. */
const warmUpSeconds = 5;

/** Runs transform and sink continuously; ingest sends `ticks` at `rate` ticks/s (0: unpaced). */
export async function continuous(rate: number, ticks: number): Promise<Record<string, number>> {
  const e = await freshPipeline();
  const ports = { transform: nextPort(), sink: nextPort() };
  const groups = { transform: fresh("group"), sink: fresh("group") };
  const spawn = (name: "transform" | "sink") =>
    new Deno.Command(deno, {
      args: taskArgs(name),
      cwd: root,
      env: {
        ...e,
        CONSUMER_GROUP: groups[name],
        HTTP_PORT: String(ports[name]),
        LOG_LEVEL: "warn",
      },
      stdout: "null",
      stderr: "null",
    }).spawn();
  const running = [spawn("transform"), spawn("sink")];
  try {
    await waitReady(ports.transform);
    await waitReady(ports.sink);
    const started = performance.now();
    // The first seconds hold every process's cold start (JIT, first fetches and writes): the
    // histograms as they stood then, subtracted at the end, give the steady state after it.
    const warmedUp = rate > 0 && ticks / rate > 2 * warmUpSeconds
      ? new Promise<string | undefined>((resolve) =>
        setTimeout(
          () =>
            fetch(`http://127.0.0.1:${ports.sink}/metrics`).then((r) => r.text()).then(
              resolve,
              () => resolve(undefined),
            ),
          warmUpSeconds * 1000,
        )
      )
      : undefined;
    // Synthetic ticks are 100 ms apart in event time: ×(rate/10) replays them at `rate`.
    const ing = await worker("ingest", synthetic(ticks), { ...e, REPLAY_SPEED: String(rate / 10) });
    const ingested = performance.now();
    while (
      (await lagOf(groups.transform, e.TICKS_TOPIC)) + (await lagOf(groups.sink, e.BARS_TOPIC)) > 0
    ) {
      if (performance.now() - ingested > 300_000) throw new Error("pipeline never caught up");
      await new Promise((r) => setTimeout(r, 100));
    }
    const caughtUp = performance.now();
    const metrics = await (await fetch(`http://127.0.0.1:${ports.sink}/metrics`)).text();
    const q = (output: string, quantile: number) =>
      histogramQuantile(metrics, output, quantile) * 1000;
    const early = warmedUp && await warmedUp;
    const afterWarmUp = (output: string) => {
      if (early === undefined) return NaN;
      const since = bucketsSince(latencyBuckets(metrics, output), latencyBuckets(early, output));
      return bucketQuantile(since, 0.99) * 1000;
    };
    return {
      rate: ticks / ((caughtUp - started) / 1000),
      sent: ticks / ing.seconds,
      catchUpMs: caughtUp - ingested,
      p50: q("postgres", 0.5),
      p99: q("postgres", 0.99),
      esP50: q("elasticsearch", 0.5),
      esP99: q("elasticsearch", 0.99),
      p99Warm: afterWarmUp("postgres"),
      esP99Warm: afterWarmUp("elasticsearch"),
    };
  } finally {
    for (const child of running) child.kill("SIGTERM");
    await Promise.all(running.map((c) => c.status));
  }
}

/** The unpaced maximum, then p50/p99 latency at 50% and 90% of it. */
export async function latencyUnderLoad(): Promise<Figures> {
  say("the whole pipeline at once, unpaced ...");
  const figures: Figures = {};
  figures.e2eConcurrent = await repeat(
    "pipeline at once",
    "ticks/s (ingest start → sink caught up, all three running)",
    async () => (await continuous(0, settings.ticks)).rate,
  );
  const maxRate = figures.e2eConcurrent.median;
  for (const share of [0.5, 0.9]) {
    const rate = Math.round(maxRate * share);
    const runs: Record<string, number>[] = [];
    for (let i = 0; i < settings.runs; i++) {
      say(`  ${share * 100}% load: ${rate} ticks/s for ${settings.latencySeconds} s ...`);
      runs.push(await continuous(rate, rate * settings.latencySeconds));
      const r = runs.at(-1)!;
      say(
        `  ${share * 100}% load run ${i + 1}: sent ${r.sent.toFixed(0)} ticks/s; p50 ${
          r.p50.toFixed(0)
        } ms, p99 ${r.p99.toFixed(0)} ms (PostgreSQL; ${
          r.p99Warm.toFixed(0)
        } ms after the first ${warmUpSeconds} s); caught up ${
          r.catchUpMs.toFixed(0)
        } ms after the last tick`,
      );
    }
    const pct = share * 100;
    const at = `at ${rate} ticks/s`;
    figures[`latencyP50_${pct}pct`] = stat(runs.map((r) => r.p50), `ms ingest → PostgreSQL ${at}`);
    figures[`latencyP99_${pct}pct`] = stat(runs.map((r) => r.p99), `ms ingest → PostgreSQL ${at}`);
    figures[`latencyEsP50_${pct}pct`] = stat(runs.map((r) => r.esP50), `ms → Elasticsearch ${at}`);
    figures[`latencyEsP99_${pct}pct`] = stat(runs.map((r) => r.esP99), `ms → Elasticsearch ${at}`);
    const warm = `after the first ${warmUpSeconds} s ${at}`;
    figures[`latencyP99Warm_${pct}pct`] = stat(
      runs.map((r) => r.p99Warm),
      `ms → PostgreSQL ${warm}`,
    );
    figures[`latencyEsP99Warm_${pct}pct`] = stat(
      runs.map((r) => r.esP99Warm),
      `ms → Elasticsearch ${warm}`,
    );
  }
  return figures;
}
