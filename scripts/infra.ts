/**
 * Native infrastructure without Docker: Kafka (KRaft) and Elasticsearch from their Maven Central
 * jars, PostgreSQL and Prometheus from Debian's packages, all on 127.0.0.1 with data under
 * `.native/`. Ports and versions come from `compose/.env`, the file Compose reads too.
 *
 *   deno task infra up [service...]     start (idempotent), wait until healthy
 *   deno task infra down [service...]   stop what `up` started
 *   deno task infra status              what answers where
 *
 * @module
 */
import { resolveOptions } from "../lib/runtime/config.ts";
import { loadComposeEnv } from "../tests/support/env_file.ts";
import { createKafka, ensureTopics, kafkaOptions } from "../lib/connectors/kafka/mod.ts";
import { createLogger, logProcessWarnings } from "../lib/runtime/log.ts";
import { stopPidFile } from "./pid_file.ts";

/** Only errors: these scripts print their own progress. */
const log = createLogger("infra", "error");
logProcessWarnings(log);

const root = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const env = loadComposeEnv(new URL("../", import.meta.url));
const native = `${root}/.native`;
const isRoot = Deno.uid() === 0;
// Elasticsearch and PostgreSQL refuse to run as root; they get unprivileged users of their own.
const esUser = "esnode";
const pgUser = "postgres";

interface Service {
  name: string;
  port: number;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  healthy(): Promise<boolean>;
  /** Runs after the service is healthy, whether this `up` started it or it was running. */
  prepare?(): Promise<void>;
}

async function sh(cmd: string, args: string[], opts: { cwd?: string; quiet?: boolean } = {}) {
  const out = await new Deno.Command(cmd, { args, cwd: opts.cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text.slice(-3000)}`);
  return text;
}

function asUser(user: string, cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ["runuser", ["-u", user, "--", cmd, ...args]] : [cmd, args];
}

/** Whether every directory from `/` down to `path` lets other users through. */
async function othersCanReach(path: string): Promise<boolean> {
  const parts = path.split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const mode = (await Deno.stat("/" + parts.slice(0, i).join("/"))).mode ?? 0o755;
    if ((mode & 0o001) === 0) return false;
  }
  return true;
}

/**
 * The directory of a service that runs as its own user (Elasticsearch, PostgreSQL):
 * `.native/<name>`, unless that user cannot reach it — a clone under a private directory such
 * as /root (0700) — then `/var/lib/marketdata/<checkout>/<name>`, linked from `.native/<name>`.
 */
async function serviceDir(name: string): Promise<string> {
  const inside = `${native}/${name}`;
  if (!isRoot || await othersCanReach(root)) return inside;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(root));
  const id = [...new Uint8Array(digest)].slice(0, 6).map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  const outside = `/var/lib/marketdata/${id}/${name}`;
  await Deno.mkdir(outside, { recursive: true });
  await Deno.chmod(`/var/lib/marketdata`, 0o755);
  await Deno.chmod(`/var/lib/marketdata/${id}`, 0o755);
  await Deno.mkdir(native, { recursive: true });
  if (!(await exists(inside))) await Deno.symlink(outside, inside);
  return outside;
}

async function exists(path: string) {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function portOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, seconds: number, log: string) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  let tail = "";
  try {
    tail = (await Deno.readTextFile(log)).split("\n").slice(-25).join("\n");
  } catch { /* no log yet */ }
  throw new Error(
    `${what} did not become healthy within ${seconds}s; last lines of ${log}:\n${tail}`,
  );
}

/** Starts a detached process (own session, survives this script) and records its pid. */
async function spawnDetached(dir: string, cmd: string, args: string[], cwd = dir) {
  const quoted = [cmd, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const script = `echo $$ > '${dir}/pid'; exec ${quoted} >> '${dir}/out.log' 2>&1`;
  await new Deno.Command("setsid", {
    args: ["-f", "sh", "-c", script],
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
}

/** Stops the process `spawnDetached` started in `dir`, if the pid file still names it. */
async function killPidFile(dir: string) {
  await stopPidFile(`${dir}/pid`, dir);
}

/** Resolves a pom's dependencies into `libs/` once per version (Maven caches in ~/.m2). */
async function fetchJars(pom: string, versionProperty: string, version: string, libs: string) {
  const stamp = `${libs}/.version`;
  if (await exists(stamp) && (await Deno.readTextFile(stamp)).trim() === version) return;
  console.log(`fetching jars for ${pom} ${version} from Maven Central ...`);
  await Deno.remove(libs, { recursive: true }).catch(() => {});
  await sh("mvn", [
    "-q",
    "-B",
    "-f",
    `${root}/scripts/infra/${pom}/pom.xml`,
    `-D${versionProperty}=${version}`,
    "dependency:copy-dependencies",
    `-DoutputDirectory=${libs}`,
  ]);
  await Deno.writeTextFile(stamp, version);
}

const kafka: Service = {
  name: "kafka",
  port: Number(env.KAFKA_PORT),
  url: `127.0.0.1:${env.KAFKA_PORT}`,
  healthy: () => portOpen(Number(env.KAFKA_PORT)),
  async start() {
    const dir = `${native}/kafka`;
    const libs = `${dir}/libs`;
    await Deno.mkdir(dir, { recursive: true });
    await fetchJars("kafka", "kafka.version", env.KAFKA_VERSION, libs);
    const port = env.KAFKA_PORT, controller = env.KAFKA_CONTROLLER_PORT;
    const secure = env.KAFKA_SASL_SSL_PORT;
    const tls = await kafkaTls(dir);
    await Deno.writeTextFile(
      `${dir}/server.properties`,
      [
        "process.roles=broker,controller",
        "node.id=1",
        `controller.quorum.voters=1@127.0.0.1:${controller}`,
        `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller},SASL_SSL://127.0.0.1:${secure}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${port},SASL_SSL://127.0.0.1:${secure}`,
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
        // A second listener with SASL/SCRAM-SHA-512 over TLS, as a secured deployment runs.
        "sasl.enabled.mechanisms=SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
        `ssl.keystore.location=${tls.keystore}`,
        `ssl.keystore.password=${tls.password}`,
        "ssl.keystore.type=PKCS12",
        `log.dirs=${dir}/data`,
        `num.partitions=${env.TOPIC_PARTITIONS}`,
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=6",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=true",
        "log.retention.hours=-1",
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(
      `${dir}/log4j.properties`,
      [
        "log4j.rootLogger=WARN, stdout",
        "log4j.appender.stdout=org.apache.log4j.ConsoleAppender",
        "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout",
        "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n",
        "log4j.logger.kafka.server.KafkaRaftServer=INFO",
        "",
      ].join("\n"),
    );
    const cp = `${libs}/*`;
    if (!(await exists(`${dir}/data/meta.properties`))) {
      const id = (await sh("java", ["-cp", cp, "kafka.tools.StorageTool", "random-uuid"]))
        .trim().split("\n").pop()!.trim();
      await sh("java", [
        `-Dlog4j.configuration=file:${dir}/log4j.properties`,
        "-cp",
        cp,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        id,
        "-c",
        `${dir}/server.properties`,
      ]);
    }
    await spawnDetached(dir, "java", [
      `-Xms${env.KAFKA_HEAP}`,
      `-Xmx${env.KAFKA_HEAP}`,
      `-Dlog4j.configuration=file:${dir}/log4j.properties`,
      "-cp",
      cp,
      "kafka.Kafka",
      `${dir}/server.properties`,
    ]);
    await waitFor("kafka", kafka.healthy, 90, `${dir}/out.log`);
    await addScramUser(cp);
  },
  stop: () => killPidFile(`${native}/kafka`),
  prepare: ensureProjectTopics,
};

/**
 * The project's topics, as compose's `kafka-init` creates them: partitions from `.env`, and
 * every partition with a leader before any worker subscribes.
 */
async function ensureProjectTopics() {
  const connection = resolveOptions(kafkaOptions, { env: {}, flags: {} });
  const client = createKafka(
    { ...connection, kafkaBrokers: `127.0.0.1:${env.KAFKA_PORT}` },
    log,
  );
  const partitions = Number(env.TOPIC_PARTITIONS);
  await ensureTopics(client, [
    { topic: env.TICKS_TOPIC, partitions },
    { topic: env.BARS_TOPIC, partitions },
    { topic: env.DLQ_TOPIC, partitions },
    // transform's per-symbol state: a changelog partitioned like its input.
    { topic: "market.transform.changelog", partitions, compacted: true },
  ]);
}

/** The native Kafka's SCRAM user and password (generated once, kept in `.native/secrets/`). */
export const kafkaScram = { user: "market", passwordFile: `${native}/secrets/kafka_password` };

async function generatedSecret(file: string): Promise<string> {
  await Deno.mkdir(`${native}/secrets`, { recursive: true, mode: 0o700 });
  if (!(await exists(file))) {
    const bytes = crypto.getRandomValues(new Uint8Array(18));
    await Deno.writeTextFile(file, btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, "x"), {
      mode: 0o600,
    });
  }
  return (await Deno.readTextFile(file)).trim();
}

/**
 * A self-signed certificate for 127.0.0.1/localhost in a PKCS12 keystore (made once with the
 * JDK's keytool) and its PEM, which clients trust through KAFKA_SSL_CA_FILE.
 */
async function kafkaTls(dir: string) {
  const tlsDir = `${dir}/tls`;
  const keystore = `${tlsDir}/broker.p12`;
  const password = await generatedSecret(`${native}/secrets/kafka_keystore_password`);
  if (!(await exists(keystore))) {
    await Deno.mkdir(tlsDir, { recursive: true });
    await sh("keytool", [
      "-genkeypair",
      "-alias",
      "broker",
      "-keyalg",
      "RSA",
      "-keysize",
      "2048",
      "-dname",
      "CN=localhost",
      "-ext",
      "SAN=ip:127.0.0.1,dns:localhost",
      "-validity",
      "3650",
      "-storetype",
      "PKCS12",
      "-keystore",
      keystore,
      "-storepass",
      password,
    ]);
    await sh("keytool", [
      "-exportcert",
      "-rfc",
      "-alias",
      "broker",
      "-keystore",
      keystore,
      "-storepass",
      password,
      "-file",
      `${tlsDir}/ca.pem`,
    ]);
  }
  return { keystore, password, caFile: `${tlsDir}/ca.pem` };
}

/** Creates (or resets) the SCRAM-SHA-512 credentials of the native user; idempotent. */
async function addScramUser(cp: string) {
  const password = await generatedSecret(kafkaScram.passwordFile);
  await sh("java", [
    `-Dlog4j.configuration=file:${native}/kafka/log4j.properties`,
    "-cp",
    cp,
    "kafka.admin.ConfigCommand",
    "--bootstrap-server",
    `127.0.0.1:${env.KAFKA_PORT}`,
    "--alter",
    "--add-config",
    `SCRAM-SHA-512=[iterations=4096,password=${password}]`,
    "--entity-type",
    "users",
    "--entity-name",
    kafkaScram.user,
  ]);
}

// The test framework's runner jars are left off the classpath: with randomizedtesting present,
// Elasticsearch's Randomness insists on a test context that a standalone node does not have.
const esTestRunnerJars =
  /^(randomizedtesting|junit|lucene-test-framework|mockito|byte-buddy|objenesis|hamcrest|mocksocket)/;

const elasticsearch: Service = {
  name: "elasticsearch",
  port: Number(env.ELASTICSEARCH_PORT),
  url: `http://127.0.0.1:${env.ELASTICSEARCH_PORT}`,
  healthy: () =>
    httpOk(
      `http://127.0.0.1:${env.ELASTICSEARCH_PORT}/_cluster/health?wait_for_status=yellow&timeout=1s`,
    ),
  async start() {
    const dir = await serviceDir("elasticsearch");
    const libs = `${dir}/libs`;
    const home = `${dir}/home`;
    await Deno.mkdir(`${home}/config`, { recursive: true });
    await fetchJars("elasticsearch", "es.version", env.ELASTICSEARCH_VERSION, `${dir}/all-libs`);
    await Deno.remove(libs, { recursive: true }).catch(() => {});
    await Deno.mkdir(libs, { recursive: true });
    for await (const entry of Deno.readDir(`${dir}/all-libs`)) {
      if (entry.name.endsWith(".jar") && !esTestRunnerJars.test(entry.name)) {
        await Deno.copyFile(`${dir}/all-libs/${entry.name}`, `${libs}/${entry.name}`);
      }
    }
    await Deno.copyFile(`${root}/scripts/infra/elasticsearch/EsNode.java`, `${dir}/EsNode.java`);
    if (isRoot) {
      await sh("sh", [
        "-c",
        `id ${esUser} >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin ${esUser}`,
      ]);
      await sh("chown", ["-R", esUser, home]);
      await sh("chmod", ["-R", "a+rX", dir]);
      await sh("chmod", ["a+rwx", dir]);
    }
    const extra = (Deno.env.get("ES_EXTRA_SETTINGS") ?? "").split(",").filter(Boolean)
      .map((kv) => `-Des.setting.${kv}`);
    const [cmd, args] = asUser(esUser, "java", [
      `-Xms${env.ELASTICSEARCH_HEAP}`,
      `-Xmx${env.ELASTICSEARCH_HEAP}`,
      ...extra,
      "-cp",
      `${libs}/*`,
      `${dir}/EsNode.java`,
      home,
      env.ELASTICSEARCH_PORT,
      env.ELASTICSEARCH_TRANSPORT_PORT,
    ]);
    await spawnDetached(dir, cmd, args);
    await waitFor("elasticsearch", elasticsearch.healthy, 120, `${dir}/out.log`);
  },
  stop: async () => killPidFile(await serviceDir("elasticsearch")),
};

async function pgBin(tool: string): Promise<string> {
  for (const dir of [`/usr/lib/postgresql/${env.POSTGRES_VERSION}/bin`]) {
    if (await exists(`${dir}/${tool}`)) return `${dir}/${tool}`;
  }
  throw new Error(
    `PostgreSQL ${env.POSTGRES_VERSION} is not installed: apt-get install postgresql-${env.POSTGRES_VERSION}`,
  );
}

/** The native PostgreSQL password: generated once, kept in `.native/secrets/` (never logged). */
export const postgresPasswordFile = `${native}/secrets/postgres_password`;

const postgres: Service = {
  name: "postgres",
  port: Number(env.POSTGRES_PORT),
  url: `postgres://${env.POSTGRES_USER}@127.0.0.1:${env.POSTGRES_PORT}/${env.POSTGRES_DB}`,
  healthy: async () => {
    try {
      await sh(await pgBin("pg_isready"), ["-h", "127.0.0.1", "-p", env.POSTGRES_PORT]);
      return true;
    } catch {
      return false;
    }
  },
  async start() {
    const dir = await serviceDir("postgres");
    const data = `${dir}/data`;
    await Deno.mkdir(`${dir}/run`, { recursive: true });
    await Deno.mkdir(`${native}/secrets`, { recursive: true, mode: 0o700 });
    await generatedSecret(postgresPasswordFile);
    // TLS as well as plain connections, with a self-signed certificate clients may pin
    // (POSTGRES_SSL=true, POSTGRES_SSL_CA_FILE=.native/postgres/tls/server.crt).
    if (!(await exists(`${dir}/tls/server.crt`))) {
      await Deno.mkdir(`${dir}/tls`, { recursive: true });
      await sh("openssl", [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout",
        `${dir}/tls/server.key`,
        "-out",
        `${dir}/tls/server.crt`,
      ]);
      await Deno.chmod(`${dir}/tls/server.key`, 0o600);
    }
    if (isRoot) await sh("chown", ["-R", pgUser, dir]);
    if (!(await exists(`${data}/PG_VERSION`))) {
      const pwfile = `${dir}/run/pwfile`;
      await Deno.copyFile(postgresPasswordFile, pwfile);
      if (isRoot) await sh("chown", [pgUser, pwfile]);
      const [cmd, args] = asUser(pgUser, await pgBin("initdb"), [
        "-D",
        data,
        "-U",
        env.POSTGRES_USER,
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        `--pwfile=${pwfile}`,
        "-E",
        "UTF8",
        "--locale=C",
      ]);
      try {
        await sh(cmd, args);
      } finally {
        await Deno.remove(pwfile).catch(() => {});
      }
    }
    const [cmd, args] = asUser(pgUser, await pgBin("pg_ctl"), [
      "-D",
      data,
      "-l",
      `${dir}/out.log`,
      "-w",
      "-t",
      "60",
      "-o",
      `-p ${env.POSTGRES_PORT} -k ${dir}/run -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 ` +
      `-c ssl=on -c ssl_cert_file=${dir}/tls/server.crt -c ssl_key_file=${dir}/tls/server.key`,
      "start",
    ]);
    await sh(cmd, args);
    await waitFor("postgres", postgres.healthy, 60, `${dir}/out.log`);
    // Over the server's own socket directory.
    const viaSocket = ["-h", `${dir}/run`, "-p", env.POSTGRES_PORT, "-U", env.POSTGRES_USER];
    const found = await sh(await pgBin("psql"), [
      ...viaSocket,
      "-d",
      "postgres",
      "-tAc",
      `select 1 from pg_database where datname = '${env.POSTGRES_DB}'`,
    ]);
    if (found.trim() !== "1") {
      await sh(await pgBin("createdb"), [...viaSocket, env.POSTGRES_DB]);
    }
  },
  async stop() {
    const data = `${await serviceDir("postgres")}/data`;
    if (!(await exists(`${data}/postmaster.pid`))) return;
    const [cmd, args] = asUser(pgUser, await pgBin("pg_ctl"), ["-D", data, "-m", "fast", "stop"]);
    await sh(cmd, args).catch((e) => console.error(e.message));
  },
};

const prometheus: Service = {
  name: "prometheus",
  port: Number(env.PROMETHEUS_PORT),
  url: `http://127.0.0.1:${env.PROMETHEUS_PORT}`,
  healthy: () => httpOk(`http://127.0.0.1:${env.PROMETHEUS_PORT}/-/ready`),
  async start() {
    const dir = `${native}/prometheus`;
    await Deno.mkdir(`${dir}/data`, { recursive: true });
    if (!(await exists("/usr/bin/prometheus"))) {
      throw new Error("prometheus is not installed: apt-get install prometheus");
    }
    await spawnDetached(dir, "/usr/bin/prometheus", [
      `--config.file=${root}/compose/prometheus/prometheus.native.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${env.PROMETHEUS_PORT}`,
      "--web.enable-lifecycle",
    ], `${root}/compose/prometheus`);
    await waitFor("prometheus", prometheus.healthy, 60, `${dir}/out.log`);
  },
  stop: () => killPidFile(`${native}/prometheus`),
};

export const services: Service[] = [kafka, elasticsearch, postgres, prometheus];

async function up(selected: Service[]) {
  // Start them side by side: the JVMs take the longest and do not depend on each other.
  const results = await Promise.allSettled(selected.map(async (s) => {
    if (await s.healthy()) {
      console.log(`${s.name.padEnd(14)} already running   ${s.url}`);
    } else {
      const started = Date.now();
      await s.start();
      console.log(
        `${s.name.padEnd(14)} started in ${((Date.now() - started) / 1000).toFixed(1)}s ${s.url}`,
      );
    }
    await s.prepare?.();
  }));
  const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
  for (const f of failed) console.error(String(f.reason?.message ?? f.reason));
  if (failed.length > 0) Deno.exit(1);
  console.log(`data and logs under ${native}/<service>/`);
}

async function status(selected: Service[]) {
  let allUp = true;
  for (const s of selected) {
    const ok = await s.healthy();
    allUp &&= ok;
    console.log(`${s.name.padEnd(14)} ${ok ? "up  " : "down"} ${s.url}`);
  }
  return allUp;
}

if (import.meta.main) {
  const [command = "status", ...names] = Deno.args;
  const selected = names.length ? services.filter((s) => names.includes(s.name)) : services;
  const unknown = names.filter((n) => !services.some((s) => s.name === n));
  if (unknown.length) {
    console.error(
      `unknown service ${unknown.join(", ")}; known: ${services.map((s) => s.name).join(", ")}`,
    );
    Deno.exit(2);
  }
  if (command === "up") await up(selected);
  else if (command === "down") {
    for (const s of [...selected].reverse()) {
      await s.stop();
      console.log(`${s.name.padEnd(14)} stopped`);
    }
  } else if (command === "status") Deno.exit((await status(selected)) ? 0 : 1);
  else {
    console.error(
      "usage: deno task infra up|down|status [kafka|elasticsearch|postgres|prometheus ...]",
    );
    Deno.exit(2);
  }
}
