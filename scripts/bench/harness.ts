/**
 * What every bench scenario shares: the run's settings (from the command line), processes
 * measured for wall time, peak RSS and CPU (from /proc/<pid>), workers run with their `deno
 * task` permissions, fresh topics/databases/indexes per run, and the statistics of repeated runs.
 * Scenarios read workers' figures from their structured `stopped` line, never from messages.
 *
 * @module
 */
import kafkajs from "../../lib/connectors/kafka/kafkajs.ts";
import { PositionsReader, uncommitted } from "../../lib/connectors/kafka/mod.ts";
import { parseCommandLine } from "../../lib/runtime/cli.ts";
import { loadComposeEnv } from "../../tests/support/env_file.ts";
import { type Stopped, stoppedLine, taskArgs } from "../../tests/support/workers.ts";
import { cpuOf, type SteadyWindow } from "./steady.ts";

export const root = new URL("../../", import.meta.url).pathname;
export const env = loadComposeEnv(new URL("../../", import.meta.url));
// `--soak` alone means 30 minutes; `--soak 5` five.
const args = Deno.args.flatMap((a, i, all) =>
  a === "--soak" && (i === all.length - 1 || all[i + 1].startsWith("--")) ? [a, "30"] : [a]
);
const { flags } = parseCommandLine(args, ["no-python"]);

/** The bench's settings. */
export const settings = {
  ticks: Number(flags.ticks ?? 1_000_000),
  runs: Number(flags.runs ?? 3),
  symbols: Number(flags.symbols ?? 20),
  latencySeconds: Number(flags["latency-seconds"] ?? 30),
  // Scale-out needs keys spread evenly over the 6 partitions: 20 symbols put 40% in one.
  scaleSymbols: 200,
  producer: String(flags.producer ?? "kafkajs"),
  python: !flags["no-python"],
  only: flags.only ? String(flags.only).split(",") : undefined,
  soakMinutes: flags.soak === undefined ? 0 : Number(flags.soak),
};

export const brokers = `127.0.0.1:${env.KAFKA_PORT}`;
export const deno = Deno.execPath();
/** The native PostgreSQL's password: read when first needed, after `infra up` has made it. */
export const pgPassword = () =>
  Deno.readTextFileSync(`${root}.native/secrets/postgres_password`).trim();
export const pgUrl =
  `postgres://${env.POSTGRES_USER}@127.0.0.1:${env.POSTGRES_PORT}/${env.POSTGRES_DB}`;
export const kafka = new kafkajs.Kafka({ brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING });
// Progress is polled every 100 ms while a worker is measured: over one admin connection, so the
// broker does not build the metadata of every topic for each poll beside the worker.
export const positions = new PositionsReader(kafka);

const id = Date.now().toString(36);
let seq = 0;
/** A name no earlier run used. */
export const fresh = (what: string) => `bench-${id}-${what}-${seq++}`;
/** A port of the bench's range for a worker's /metrics. */
export const nextPort = () => 19900 + (seq++ % 90);

export function say(text: string) {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}`);
}

// The first command of a fresh clone (`infra up`) runs before the password file exists.
const safePassword = () => {
  try {
    return pgPassword();
  } catch {
    return "";
  }
};

/** A finished process: its output, wall seconds, peak RSS and CPU (user + system) seconds. */
export interface Proc {
  code: number;
  out: string;
  seconds: number;
  peakRssMb: number;
  cpuSeconds: number;
}

/** Runs a command, sampling its resident memory and CPU every 100 ms (peak RSS, last CPU). */
export async function measure(
  cmd: string,
  args: string[],
  extraEnv: Record<string, string> = {},
  window?: SteadyWindow,
): Promise<Proc> {
  const started = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    cwd: root,
    env: { NO_COLOR: "1", LOG_LEVEL: "warn", PGPASSWORD: safePassword(), ...extraEnv },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  window?.pids.push(child.pid);
  let peak = 0;
  let cpu = 0;
  const sample = () => {
    try {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      peak = Math.max(peak, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch { /* exited */ }
    cpu = cpuOf(child.pid) ?? cpu;
  };
  const sampler = setInterval(sample, 100);
  const out = await child.output();
  clearInterval(sampler);
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text.slice(-2000)}`);
  return {
    code: out.code,
    out: text,
    seconds: (performance.now() - started) / 1000,
    peakRssMb: peak / 1024,
    cpuSeconds: cpu,
  };
}

/** A worker run: the process, and the fields of its `stopped` line. */
export interface WorkerRun extends Proc {
  stopped: Stopped;
}

/**
 * Runs a worker's task to its end with `flags` and `env`, JSON logs at info; its CPU sampled into
 * `window` too, if given.
 */
export async function worker(
  name: string,
  flagsList: string[],
  e: Record<string, string>,
  window?: SteadyWindow,
): Promise<WorkerRun> {
  const proc = await measure(deno, [...taskArgs(name), ...flagsList], {
    HTTP_PORT: "0",
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
    ...e,
  }, window);
  const stopped = stoppedLine(proc.out.split("\n"));
  if (!stopped) throw new Error(`${name} logged no stopped line:\n${proc.out.slice(-2000)}`);
  return { ...proc, stopped };
}

/** Records the group has committed on `topic`, over all its partitions. */
export async function committedOf(group: string, topic: string): Promise<number> {
  let committed = 0n;
  for (const p of (await positions.read(topic, group)).values()) {
    if (p.committed > 0n) committed += p.committed;
  }
  return Number(committed);
}

/** Records the group has not committed yet on `topic`. */
export async function lagOf(group: string, topic: string): Promise<number> {
  return uncommitted(await positions.read(topic, group));
}

export async function createTopic(topic: string, partitions = 6) {
  await measure("java", [
    "-cp",
    `${root}.native/kafka/libs/*`,
    "org.apache.kafka.tools.TopicCommand",
    "--bootstrap-server",
    brokers,
    "--create",
    "--topic",
    topic,
    "--partitions",
    String(partitions),
    "--replication-factor",
    "1",
  ]);
}

export async function psql(sql: string, url = pgUrl): Promise<string> {
  return (await measure("psql", [url, "-tAc", sql])).out.trim();
}

/** Fresh topics, database and index for one pipeline run, as the workers' environment. */
export async function freshPipeline(): Promise<Record<string, string>> {
  const ticks = fresh("ticks"), bars = fresh("bars"), db = fresh("db").replaceAll("-", "_");
  await createTopic(ticks);
  await createTopic(bars);
  await psql(`create database ${db}`);
  return {
    TICKS_TOPIC: ticks,
    BARS_TOPIC: bars,
    DLQ_TOPIC: fresh("dlq"),
    TRANSFORM_STATE_TOPIC: fresh("state"),
    CONSUMER_GROUP: fresh("group"),
    POSTGRES_URL: `postgres://${env.POSTGRES_USER}@127.0.0.1:${env.POSTGRES_PORT}/${db}`,
    ELASTICSEARCH_INDEX: fresh("index"),
    KAFKA_PRODUCER: settings.producer,
  };
}

/** The ingest flags of a synthetic source. */
export const synthetic = (ticks: number, symbols = settings.symbols) => [
  "--source",
  "synthetic",
  "--synthetic-ticks",
  String(ticks),
  "--synthetic-symbols",
  String(symbols),
];

/** A figure over repeated runs. */
export interface Stat {
  median: number;
  min: number;
  max: number;
  unit: string;
  runs: number[];
}

export function stat(values: number[], unit: string): Stat {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)],
    min: sorted[0],
    max: sorted.at(-1)!,
    unit,
    runs: values,
  };
}

/** Runs `fn` `settings.runs` times, saying each result. */
export async function repeat(
  label: string,
  unit: string,
  fn: () => Promise<number>,
): Promise<Stat> {
  const values: number[] = [];
  for (let i = 0; i < settings.runs; i++) {
    values.push(await fn());
    say(`${label} run ${i + 1}/${settings.runs}: ${values.at(-1)!.toFixed(0)} ${unit}`);
  }
  return stat(values, unit);
}

/** Figures a scenario returns, by name. */
export type Figures = Record<string, Stat>;
