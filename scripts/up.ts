/**
 * `deno task up` / `down` / `logs`: the whole pipeline with one command.
 *
 * With a Docker engine answering, this is `docker compose` on compose/docker-compose.yml.
 * Without one (our machines), the native mode: `deno task infra up`, then transform and sink as
 * background processes, then a replay of the bundled real data (S&P 500 daily and five stocks
 * monthly) by ingest in the foreground; it ends by printing where to look.
 */
import { resolveOptions } from "../lib/runtime/config.ts";
import { loadComposeEnv } from "../tests/support/env_file.ts";
import type { Kafka } from "kafkajs";
import {
  createKafka,
  kafkaOptions,
  PositionsReader,
  uncommitted,
} from "../lib/connectors/kafka/mod.ts";
import { createLogger, logProcessWarnings } from "../lib/runtime/log.ts";
import { kafkaBrokers } from "./infra/kafka.ts";
import { schemaRegistryUrl } from "./infra/schema_registry.ts";
import { generatedSecret } from "./infra/service.ts";
import { ownedPid, stopPidFile } from "./pid_file.ts";

/** Only errors: these scripts print their own progress. */
const log = createLogger("up", "error");
logProcessWarnings(log);

const root = new URL("../", import.meta.url).pathname;
const env = loadComposeEnv(new URL("../", import.meta.url));
const runDir = `${root}.native/workers`;
const deno = Deno.execPath();
const tasks = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).tasks as Record<string, string>;
const compose = ["compose", "-f", "compose/docker-compose.yml", "--env-file", "compose/.env"];
const kafkaDefaults = resolveOptions(kafkaOptions, { env: {}, flags: {} });
const workers = [
  { name: "transform", port: env.TRANSFORM_HTTP_PORT },
  { name: "sink", port: env.SINK_HTTP_PORT },
  { name: "api", port: env.API_HTTP_PORT },
];

async function dockerAnswers(): Promise<boolean> {
  try {
    const out = await new Deno.Command("docker", { args: ["info"], stdout: "null", stderr: "null" })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[], extraEnv: Record<string, string> = {}) {
  const status = await new Deno.Command(cmd, { args, cwd: root, env: extraEnv }).spawn().status;
  if (!status.success) Deno.exit(status.code || 1);
}

function taskArgs(task: string): string[] {
  return tasks[task].slice("deno ".length).split(" ");
}

function workerEnv(port: string): Record<string, string> {
  return {
    HTTP_PORT: port,
    KAFKA_BROKERS: kafkaBrokers(env),
    POSTGRES_URL:
      `postgres://${env.POSTGRES_USER}@127.0.0.1:${env.POSTGRES_PORT}/${env.POSTGRES_DB}`,
    ELASTICSEARCH_URL: `http://127.0.0.1:${env.ELASTICSEARCH_PORT}`,
    ELASTICSEARCH_INDEX: env.ELASTICSEARCH_INDEX,
    TICKS_TOPIC: env.TICKS_TOPIC,
    BARS_TOPIC: env.BARS_TOPIC,
    DLQ_TOPIC: env.DLQ_TOPIC,
    TOPIC_PARTITIONS: env.TOPIC_PARTITIONS,
    RECORD_FORMAT: env.RECORD_FORMAT,
    SCHEMA_REGISTRY_URL: schemaRegistryUrl,
    SCHEMA_COMPATIBILITY: env.SCHEMA_COMPATIBILITY,
  };
}

let client: Kafka | undefined;
function kafka(): Kafka {
  client ??= createKafka({ ...kafkaDefaults, kafkaBrokers: kafkaBrokers(env) }, log);
  return client;
}

async function ticksInTopic(): Promise<number> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(env.TICKS_TOPIC)) return 0;
    const offsets = await admin.fetchTopicOffsets(env.TICKS_TOPIC);
    return offsets.reduce((sum, o) => sum + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** What a worker's command line holds when `up` started it from this checkout. */
const workerMarker = (name: string) => `${root}workers/${name}.ts`;

async function startWorker(name: string, port: string) {
  const pidFile = `${runDir}/${name}.pid`;
  if (await ownedPid(pidFile, workerMarker(name))) {
    console.log(`${name.padEnd(10)} already running  http://127.0.0.1:${port}/metrics`);
    return;
  }
  // The worker's file by its absolute path, so its command line names this checkout.
  const args = [...taskArgs(name).slice(0, -1), workerMarker(name)].map((a) => `'${a}'`).join(" ");
  const vars = Object.entries(workerEnv(port)).map(([k, v]) => `${k}='${v}'`).join(" ");
  const script =
    `echo $$ > '${pidFile}'; exec env ${vars} '${deno}' ${args} >> '${runDir}/${name}.log' 2>&1`;
  await new Deno.Command("setsid", { args: ["-f", "sh", "-c", script], cwd: root }).output();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      await res.body?.cancel();
      if (res.ok) {
        console.log(`${name.padEnd(10)} ready            http://127.0.0.1:${port}/metrics`);
        return;
      }
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 500));
  }
  console.error(`${name} did not become ready; see ${runDir}/${name}.log`);
  Deno.exit(1);
}

/** Every secret file compose/docker-compose.yml names, generated (random) when missing. */
export async function composeSecrets(dir = `${root}compose/secrets`): Promise<string[]> {
  const file = await Deno.readTextFile(`${root}compose/docker-compose.yml`);
  const names = [...file.matchAll(/file: \.\/secrets\/(\w+)/g)].map((m) => m[1]);
  for (const name of names) {
    await generatedSecret(`${dir}/${name}`);
  }
  return names;
}

async function up() {
  if (await dockerAnswers()) {
    await composeSecrets();
    await run("docker", [...compose, "up", "-d", "--build"]);
    printUrls("compose");
    return;
  }
  console.log("no Docker engine answers: native mode (deno task infra)\n");
  await run(deno, ["task", "infra", "up"]);
  await Deno.mkdir(runDir, { recursive: true });
  for (const w of workers) await startWorker(w.name, w.port);
  // A second replay of the same series would only fill the dead-letter topic with late records
  // (see README, "Late and duplicate records"), so the demo data is replayed once.
  if (await ticksInTopic() > 0) {
    console.log(
      `\n${env.TICKS_TOPIC} already holds records: not replaying (deno task ingest replays on demand)`,
    );
  } else {
    console.log("\nreplaying the bundled real data through ingest ...");
    const ingestEnv = workerEnv(env.INGEST_HTTP_PORT);
    await run(deno, taskArgs("ingest"), ingestEnv);
    await run(deno, [
      ...taskArgs("ingest"),
      "--csv-path",
      "node_modules/vega-datasets/data/stocks.csv",
    ], ingestEnv);
  }
  await waitForCatchUp();
  printUrls("native");
}

/**
 * Waits until transform has committed every tick and then the sink every bar, so the numbers
 * printed below are final (a lag metric of 0 only speaks of the partitions seen so far).
 */
async function waitForCatchUp() {
  const deadline = Date.now() + 300_000;
  // Polled twice a second: one admin connection for all of it.
  const positions = new PositionsReader(kafka());
  const behind = async (topic: string, group: string) =>
    uncommitted(await positions.read(topic, group));
  try {
    while (Date.now() < deadline) {
      try {
        const ticks = await behind(env.TICKS_TOPIC, "transform");
        const bars = ticks === 0 ? await behind(env.BARS_TOPIC, "sink") : -1;
        if (ticks === 0 && bars === 0) return;
      } catch { /* the broker is busy; ask again */ }
      await new Promise((r) => setTimeout(r, 500));
    }
    console.log("(transform and sink are still catching up; the numbers below may grow)");
  } finally {
    await positions.close();
  }
}

function printUrls(mode: "native" | "compose") {
  const pg =
    `psql "postgres://${env.POSTGRES_USER}@127.0.0.1:${env.POSTGRES_PORT}/${env.POSTGRES_DB}"`;
  const password = mode === "native"
    ? "PGPASSWORD=$(cat .native/secrets/postgres_password)"
    : "PGPASSWORD=$(cat compose/secrets/postgres_password)";
  console.log(`
The pipeline is up (${mode}).
  bars in PostgreSQL:    ${password} ${pg} \\
                           -c "select interval, count(*), min(period_start), max(period_start) from bars group by 1"
  bars in Elasticsearch: curl -s 'http://127.0.0.1:${env.ELASTICSEARCH_PORT}/${env.ELASTICSEARCH_INDEX}/_search?q=symbol:SP500&size=1&sort=period_start:desc'
  Prometheus:            http://127.0.0.1:${env.PROMETHEUS_PORT}  (targets: /targets, alerts: /alerts)
  charts and API:        http://127.0.0.1:${env.API_HTTP_PORT}/  (OpenAPI: /openapi.json)
  worker metrics:        http://127.0.0.1:${env.TRANSFORM_HTTP_PORT}/metrics  http://127.0.0.1:${env.SINK_HTTP_PORT}/metrics${
    mode === "compose"
      ? `\n  Grafana:               http://127.0.0.1:${env.GRAFANA_PORT} (admin password: compose/secrets/grafana_admin_password)`
      : ""
  }
  logs:                  deno task logs        stop: deno task down`);
}

async function down() {
  if (await dockerAnswers()) {
    await run("docker", [...compose, "down"]);
    return;
  }
  for (const w of workers) {
    await stopPidFile(`${runDir}/${w.name}.pid`, workerMarker(w.name), 10_000);
    console.log(`${w.name.padEnd(14)} stopped`);
  }
  await run(deno, ["task", "infra", "down"]);
}

async function logs() {
  if (await dockerAnswers()) {
    await run("docker", [...compose, "logs", "-f"]);
    return;
  }
  await run("tail", ["-n", "50", "-F", ...workers.map((w) => `${runDir}/${w.name}.log`)]);
}

if (import.meta.main) {
  const command = Deno.args[0];
  if (command === "up") await up();
  else if (command === "down") await down();
  else if (command === "logs") await logs();
  else {
    console.error("usage: deno task up | down | logs");
    Deno.exit(2);
  }
}
