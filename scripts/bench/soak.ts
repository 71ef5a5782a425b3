/**
 * The soak (`deno task bench --soak <minutes>`, default 30): the whole pipeline running for a
 * long time at 50% of its measured all-at-once maximum. Every 10 s it samples each worker's RSS
 * (/proc) and V8 heap (its /metrics), both consumer groups' lag, and the p99 ingest → stored
 * latency of the last 10 s (the sink's histogram buckets, differenced). It passes when RSS after
 * warm-up grows by less than 10%, lag stays bounded, and every bar published is in both stores.
 *
 * @module
 */
import { readToEnd } from "../../lib/connectors/kafka/mod.ts";
import { taskArgs, waitReady } from "../../tests/support/workers.ts";
import {
  deno,
  env,
  fresh,
  freshPipeline,
  kafka,
  lagOf,
  nextPort,
  psql,
  root,
  say,
} from "./harness.ts";
import { bucketQuantile, bucketsSince, continuous, latencyBuckets } from "./latency.ts";

const workers = ["ingest", "transform", "sink"] as const;
type WorkerName = typeof workers[number];

/** One sample of the soak, every 10 s. */
export interface SoakSample {
  seconds: number;
  rssMb: Record<WorkerName, number>;
  heapMb: Record<WorkerName, number>;
  lagTransform: number;
  lagSink: number;
  p99PostgresMs: number;
  p99ElasticsearchMs: number;
}

export interface SoakResult {
  minutes: number;
  rate: number;
  maxRate: number;
  samples: SoakSample[];
  checks: { name: string; value: string; passed: boolean }[];
  passed: boolean;
}

const rssOf = (pid: number) => {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return NaN; // exited
  }
};

async function scrape(port: number): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    return await res.text();
  } catch {
    return "";
  }
}

const heapOf = (metrics: string) => {
  const line = metrics.split("\n").find((l) => l.startsWith("worker_memory_heap_used_bytes"));
  return line ? Number(line.split(" ").at(-1)) / 2 ** 20 : NaN;
};

/** The median of `values` (NaN-free). */
const median = (values: number[]) => {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : NaN;
};

export async function soak(minutes: number): Promise<SoakResult> {
  say("soak: measuring the all-at-once maximum first ...");
  const maxRate = (await continuous(0, 1_000_000)).rate;
  const rate = Math.round(maxRate * 0.5);
  const ticks = Math.round(rate * minutes * 60);
  say(`soak: ${minutes} min at ${rate} ticks/s (50% of ${Math.round(maxRate)}): ${ticks} ticks`);

  const e = await freshPipeline();
  const ports: Record<WorkerName, number> = {
    ingest: nextPort(),
    transform: nextPort(),
    sink: nextPort(),
  };
  const groups = { transform: fresh("group"), sink: fresh("group") };
  const spawn = (name: WorkerName, flags: string[], extra: Record<string, string>) =>
    new Deno.Command(deno, {
      args: [...taskArgs(name), ...flags],
      cwd: root,
      env: { ...e, HTTP_PORT: String(ports[name]), LOG_LEVEL: "warn", ...extra },
      stdout: "null",
      stderr: "null",
    }).spawn();
  const children: Partial<Record<WorkerName, Deno.ChildProcess>> = {
    transform: spawn("transform", [], { CONSUMER_GROUP: groups.transform }),
    sink: spawn("sink", [], { CONSUMER_GROUP: groups.sink }),
  };
  const samples: SoakSample[] = [];
  try {
    await waitReady(ports.transform);
    await waitReady(ports.sink);
    const started = performance.now();
    // Synthetic ticks are 100 ms apart in event time: ×(rate/10) replays them at `rate`.
    children.ingest = spawn("ingest", [
      "--source",
      "synthetic",
      "--synthetic-ticks",
      String(ticks),
      "--synthetic-symbols",
      "20",
    ], { REPLAY_SPEED: String(rate / 10) });
    let ingestDone = false;
    children.ingest.status.then(() => (ingestDone = true));
    let previous = { postgres: [] as [number, number][], elasticsearch: [] as [number, number][] };
    const sample = async () => {
      const metrics = Object.fromEntries(
        await Promise.all(workers.map(async (w) => [w, await scrape(ports[w])] as const)),
      ) as Record<WorkerName, string>;
      const now = {
        postgres: latencyBuckets(metrics.sink, "postgres"),
        elasticsearch: latencyBuckets(metrics.sink, "elasticsearch"),
      };
      const s: SoakSample = {
        seconds: Math.round((performance.now() - started) / 1000),
        rssMb: Object.fromEntries(
          workers.map((w) => [w, children[w] ? rssOf(children[w]!.pid) : NaN]),
        ) as Record<WorkerName, number>,
        heapMb: Object.fromEntries(workers.map((w) => [w, heapOf(metrics[w])])) as Record<
          WorkerName,
          number
        >,
        lagTransform: await lagOf(groups.transform, e.TICKS_TOPIC).catch(() => NaN),
        lagSink: await lagOf(groups.sink, e.BARS_TOPIC).catch(() => NaN),
        p99PostgresMs: bucketQuantile(bucketsSince(now.postgres, previous.postgres), 0.99) * 1000,
        p99ElasticsearchMs:
          bucketQuantile(bucketsSince(now.elasticsearch, previous.elasticsearch), 0.99) * 1000,
      };
      previous = now;
      samples.push(s);
      if (samples.length % 6 === 0) {
        say(
          `soak ${s.seconds}s: RSS ${workers.map((w) => s.rssMb[w].toFixed(0)).join("/")} MiB, ` +
            `lag ${s.lagTransform}/${s.lagSink}, p99 ${s.p99PostgresMs.toFixed(0)} ms`,
        );
      }
    };
    while (!ingestDone) {
      await new Promise((r) => setTimeout(r, 10_000));
      await sample();
    }
    // Caught up: both groups at the end (10 minutes at most).
    const deadline = performance.now() + 600_000;
    while (
      (await lagOf(groups.transform, e.TICKS_TOPIC)) + (await lagOf(groups.sink, e.BARS_TOPIC)) > 0
    ) {
      if (performance.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await sample();
  } finally {
    for (const child of Object.values(children)) {
      try {
        child!.kill("SIGTERM");
      } catch { /* exited */ }
    }
    await Promise.all(Object.values(children).map((c) => c!.status));
  }

  // Every bar published is in both stores: distinct keys of the bars topic against the rows.
  say("soak: reading the bars topic to check every bar is stored ...");
  const keys = new Set<string>();
  const decoder = new TextDecoder();
  await readToEnd(kafka, e.BARS_TOPIC, undefined, (r) => {
    const v = JSON.parse(decoder.decode(r.value!));
    keys.add(`${v.symbol}|${v.interval}|${v.start}`);
  });
  const rows = Number(await psql("select count(*) from bars", e.POSTGRES_URL));
  const esUrl = `http://127.0.0.1:${env.ELASTICSEARCH_PORT}`;
  await fetch(`${esUrl}/${e.ELASTICSEARCH_INDEX}/_refresh`, { method: "POST" }).then((r) =>
    r.body?.cancel()
  );
  const docs = (await (await fetch(`${esUrl}/${e.ELASTICSEARCH_INDEX}/_count`)).json()).count;

  const warm = samples.filter((s) => s.seconds >= minutes * 60 * 0.2);
  const head = warm.slice(0, Math.max(1, Math.floor(warm.length / 5)));
  const tail = warm.slice(-Math.max(1, Math.floor(warm.length / 5)));
  // `median` leaves out samples taken after ingest exited (NaN), so every worker is measured alike.
  const growth = Object.fromEntries(workers.map((w) => [
    w,
    median(tail.map((s) => s.rssMb[w])) / median(head.map((s) => s.rssMb[w])) - 1,
  ]));
  const duringIngest = samples.slice(0, -1);
  const maxLag = Math.max(...duringIngest.map((s) => s.lagTransform + s.lagSink));
  const lagBound = rate * 10; // ten seconds of input
  const final = samples.at(-1)!;
  const checks = [
    ...Object.entries(growth).map(([w, g]) => ({
      name: `${w} RSS growth after warm-up`,
      value: `${(g * 100).toFixed(1)}%`,
      passed: g < 0.1,
    })),
    {
      name: "largest lag while ingesting (transform + sink)",
      value: `${maxLag} records (bound: ${lagBound}, 10 s of input)`,
      passed: maxLag <= lagBound,
    },
    {
      name: "lag after ingest ended",
      value: `${final.lagTransform + final.lagSink}`,
      passed: final.lagTransform + final.lagSink === 0,
    },
    {
      name: "bars published / in PostgreSQL / in Elasticsearch",
      value: `${keys.size} / ${rows} / ${docs}`,
      passed: keys.size === rows && rows === docs && rows > 0,
    },
  ];
  return { minutes, rate, maxRate, samples, checks, passed: checks.every((c) => c.passed) };
}

/** The samples as CSV, one row every 10 s. */
export function soakCsv(r: SoakResult): string {
  const header = [
    "seconds",
    ...workers.map((w) => `rss_${w}_mib`),
    ...workers.map((w) => `heap_${w}_mib`),
    "lag_transform",
    "lag_sink",
    "p99_postgres_ms",
    "p99_elasticsearch_ms",
  ];
  const f = (n: number) => (Number.isFinite(n) ? String(Math.round(n * 10) / 10) : "");
  const lines = r.samples.map((s) =>
    [
      s.seconds,
      ...workers.map((w) => f(s.rssMb[w])),
      ...workers.map((w) => f(s.heapMb[w])),
      s.lagTransform,
      s.lagSink,
      f(s.p99PostgresMs),
      f(s.p99ElasticsearchMs),
    ].join(",")
  );
  return [header.join(","), ...lines].join("\n") + "\n";
}

/** A short Markdown table: the checks, then the samples every 5 minutes. */
export function soakTable(r: SoakResult): string {
  const every = r.samples.filter((s, i) =>
    i === 0 || s.seconds % 300 < 10 || i === r.samples.length - 1
  );
  return [
    `Soak: ${r.minutes} min at ${r.rate} ticks/s (50% of the ${Math.round(r.maxRate)} ticks/s ` +
    `all-at-once maximum measured first); ${r.passed ? "PASSED" : "FAILED"}.`,
    "",
    "| check | value | passed |",
    "| --- | --- | --- |",
    ...r.checks.map((c) => `| ${c.name} | ${c.value} | ${c.passed ? "yes" : "no"} |`),
    "",
    "| s | RSS ingest / transform / sink (MiB) | heap (MiB) | lag transform / sink | p99 → PG / ES (ms, last 10 s) |",
    "| ---: | --- | --- | --- | --- |",
    ...every.map((s) =>
      `| ${s.seconds} | ${workers.map((w) => s.rssMb[w].toFixed(0)).join(" / ")} | ${
        workers.map((w) => s.heapMb[w].toFixed(0)).join(" / ")
      } | ${s.lagTransform} / ${s.lagSink} | ${s.p99PostgresMs.toFixed(0)} / ${
        s.p99ElasticsearchMs.toFixed(0)
      } |`
    ),
  ].join("\n") + "\n";
}

/**
 * Charts the soak's CSV as a PNG with matplotlib (in a project-local venv; PyPI is reachable,
 * a plotting library for Deno is not). Resolves to false when no chart could be made.
 */
export async function plotSoak(csv: string, png: string): Promise<boolean> {
  const venv = `${root}.native/bench-plot-venv`;
  try {
    try {
      await Deno.stat(`${venv}/bin/python`);
    } catch {
      await new Deno.Command("python3", { args: ["-m", "venv", venv] }).output();
    }
    const pip = await new Deno.Command(`${venv}/bin/pip`, {
      args: ["install", "-q", "matplotlib==3.10.7"],
    }).output();
    if (!pip.success) return false;
    const plot = await new Deno.Command(`${venv}/bin/python`, {
      args: [`${root}scripts/bench/soak_plot.py`, csv, png],
    }).output();
    return plot.success;
  } catch {
    return false;
  }
}
