/**
 * The deployment, proven without a Docker engine: the compose file validates with a real Compose
 * implementation, its configuration agrees with the workers, Prometheus and Grafana, promtool
 * accepts the Prometheus files, and every PromQL and SQL query of the rules and dashboards
 * returns data from the native stack after a replay.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { allOptions, type Worker } from "../../lib/runtime/mod.ts";
import { api } from "../../workers/api.ts";
import { ingest } from "../../workers/ingest.ts";
import { sink } from "../../workers/sink.ts";
import { transform } from "../../workers/transform.ts";
import { composeSecrets } from "../../scripts/up.ts";
import { ingestCsv, pipelineEnv } from "../support/pipeline.ts";
import { env, eventually, produce, requireServer, root } from "../support/servers.ts";
import { spawnWorker, taskArgs } from "../support/workers.ts";

const compose = `${root}compose`;

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(cmd, { args, cwd: root, stdout: "piped", stderr: "piped" })
      .output();
  } catch {
    throw new Error(`${cmd} is not installed: run bash scripts/setup.sh`);
  }
  const out = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { code: output.code, out };
}

// deno-lint-ignore no-explicit-any
type Yaml = any;

/** `docker-compose -f <files…> --env-file compose/.env config [extra…]`. */
function composeConfig(files: string[], extra: string[] = []) {
  return run("docker-compose", [
    ...files.flatMap((f) => ["-f", `${compose}/${f}`]),
    "--env-file",
    `${compose}/.env`,
    "config",
    ...extra,
  ]);
}

async function resolvedCompose(overlays: string[] = []): Promise<Yaml> {
  const { code, out } = await composeConfig(["docker-compose.yml", ...overlays]);
  assert.equal(code, 0, out);
  return parse(out);
}

const workers: Record<string, Worker> = { ingest, transform, sink, api };

Deno.test("the compose file validates with docker-compose config", async () => {
  const { code, out } = await composeConfig(["docker-compose.yml"], ["--quiet"]);
  assert.equal(code, 0, out);
  const version = await run("docker-compose", ["version", "--short"]);
  console.log(`validated with docker-compose ${version.out.trim()}`);
});

Deno.test("the SASL/SCRAM + TLS overlay validates and sets only options the workers read", async () => {
  const { code, out } = await composeConfig(["docker-compose.yml", "docker-compose.sasl.yml"]);
  assert.equal(code, 0, out);
  const services = parse(out).services;
  for (const name of ["ingest", "transform", "sink"]) {
    const e = services[name].environment;
    assert.equal(e.KAFKA_SASL_MECHANISM, "scram-sha-512");
    assert.equal(e.KAFKA_SSL, "true");
    assert.match(e.KAFKA_SASL_PASSWORD_FILE, /^\/run\/secrets\//);
    const reads = new Set(
      Object.values(allOptions(workers[name])).flatMap((o) => [o.env, `${o.env}_FILE`]),
    );
    for (const key of Object.keys(e)) assert.ok(reads.has(key), `${name}: ${key}`);
    const [host, port] = e.KAFKA_BROKERS.split(":");
    assert.ok(services[host]);
    assert.match(
      services.kafka.environment.KAFKA_LISTENERS,
      new RegExp(`SECURE://0\\.0\\.0\\.0:${port}`),
    );
  }
});

Deno.test("the three-broker overlay validates; workers list every broker; replication fits the cluster", async () => {
  const { code, out } = await composeConfig(["docker-compose.yml", "docker-compose.cluster.yml"]);
  assert.equal(code, 0, out);
  const services = parse(out).services;
  const brokers = Object.keys(services).filter((n) => /^kafka(-\d+)?$/.test(n));
  assert.deepEqual(brokers.sort(), ["kafka", "kafka-2", "kafka-3"]);
  const ids = brokers.map((b) => String(services[b].environment.KAFKA_BROKER_ID));
  assert.equal(new Set(ids).size, 3, `broker ids ${ids}`);
  const hostPorts = new Set<string>();
  for (const b of brokers) {
    const e = services[b].environment;
    assert.equal(Number(e.KAFKA_DEFAULT_REPLICATION_FACTOR), 3);
    assert.equal(Number(e.KAFKA_MIN_INSYNC_REPLICAS), 2);
    assert.equal(Number(e.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR), 3);
    assert.match(e.KAFKA_ADVERTISED_LISTENERS, new RegExp(`INTERNAL://${b}:29092`));
    // docker-compose v1 prints "127.0.0.1:9192:9092/tcp"; v2 an object with `published`.
    for (const p of services[b].ports ?? []) {
      hostPorts.add(typeof p === "string" ? p.split(":").at(-2)! : String(p.published));
    }
  }
  // Each broker's host port is the one compose/.env gives that node (as in native mode).
  assert.deepEqual(
    [...hostPorts].sort(),
    [env.KAFKA_PORT, env.KAFKA_PORT_2, env.KAFKA_PORT_3].sort(),
  );
  const init = services["kafka-init"];
  for (const b of brokers) assert.equal(init.depends_on[b].condition, "service_healthy");
  assert.match(init.command.join("\n"), /--replication-factor 3/);
  assert.match(init.command.join("\n"), /min\.insync\.replicas=2/);
  for (const name of ["ingest", "transform", "sink"]) {
    const e = services[name].environment;
    const listed = e.KAFKA_BROKERS.split(",");
    assert.deepEqual(listed.map((h: string) => h.split(":")[0]).sort(), brokers.sort(), name);
    for (const h of listed) assert.equal(h.split(":")[1], "29092", `${name}: ${h}`);
    const reads = new Set(
      Object.values(allOptions(workers[name])).flatMap((o) => [o.env, `${o.env}_FILE`]),
    );
    for (const key of Object.keys(e)) assert.ok(reads.has(key), `${name}: ${key}`);
  }
});

Deno.test("the Avro overlay validates: workers use the seed's registry, wait for it, may reach it", async () => {
  const { code, out } = await composeConfig(["docker-compose.yml", "docker-compose.avro.yml"]);
  assert.equal(code, 0, out);
  const services = parse(out).services;
  const registry = services["schema-registry"];
  assert.equal(registry.image, `confluentinc/cp-schema-registry:${env.CONFLUENT_VERSION}`);
  assert.equal(env.CONFLUENT_VERSION, "7.3.0", "the seed's version");
  assert.ok(registry.healthcheck);
  assert.equal(
    registry.environment.SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL,
    env.SCHEMA_COMPATIBILITY,
  );
  const listener = new URL(registry.environment.SCHEMA_REGISTRY_LISTENERS);
  for (const name of ["ingest", "transform", "sink"]) {
    const s = services[name];
    assert.equal(s.environment.RECORD_FORMAT, "avro", name);
    const url = new URL(s.environment.SCHEMA_REGISTRY_URL);
    assert.ok(services[url.hostname], `${name}: ${url.hostname} is a service`);
    assert.equal(url.port, listener.port, `${name}: the registry's port`);
    assert.equal(s.depends_on[url.hostname].condition, "service_healthy");
    const net = s.command.find((a: string) => a.startsWith("--allow-net="));
    assert.ok(
      net.split("=")[1].split(",").includes(url.hostname),
      `${name} may reach the registry`,
    );
    assert.equal(s.command.at(-1), `workers/${name}.ts`);
    const reads = new Set(
      Object.values(allOptions(workers[name])).flatMap((o) => [o.env, `${o.env}_FILE`]),
    );
    for (const key of Object.keys(s.environment)) assert.ok(reads.has(key), `${name}: ${key}`);
  }
});

Deno.test("the airflow profile: seed's image, LocalExecutor, own database, DAGs read-only, connections to serving workers", async () => {
  const c = await resolvedCompose();
  const services = c.services as Record<string, Yaml>;
  const airflow = Object.keys(services).filter((n) =>
    n.startsWith("airflow-") && n !== "airflow-db"
  );
  assert.deepEqual(airflow.sort(), ["airflow-init", "airflow-scheduler", "airflow-webserver"]);
  const dag = Deno.readTextFileSync(`${compose}/airflow/dags/market_daily.py`);
  const connIds = [...new Set([...dag.matchAll(/"(market_\w+)", "\//g)].map((m) => m[1]))];
  assert.deepEqual(connIds.sort(), [
    "market_api",
    "market_ingest",
    "market_sink",
    "market_transform",
  ]);
  for (const name of airflow) {
    const s = services[name];
    assert.equal(s.image, `apache/airflow:${env.AIRFLOW_IMAGE_VERSION}`);
    assert.equal(env.AIRFLOW_IMAGE_VERSION, "2.5.1", "the seed's image");
    assert.deepEqual(s.profiles, ["airflow"]);
    const e = s.environment;
    assert.equal(e.AIRFLOW__CORE__EXECUTOR, "LocalExecutor");
    const db = /postgresql\+psycopg2:\/\/(\w+):.*@(\w+):(\d+)\/(\w+)/.exec(
      e.AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD,
    );
    assert.ok(db, "metadata database in PostgreSQL");
    assert.deepEqual(
      db.slice(1),
      ["airflow", "postgres", "5432", "airflow"],
      "own user and database",
    );
    assert.ok(services[db[2]], "the database host is a compose service");
    assert.doesNotMatch(JSON.stringify(e), /password=|:\/\/airflow:[^$]/i, "no password inline");
    assert.ok(
      s.volumes.some((v: Yaml) =>
        (typeof v === "string" ? v : `${v.source}:${v.target}:${v.read_only ? "ro" : ""}`)
          .match(/airflow\/dags:\/opt\/airflow\/dags:ro/)
      ),
      `${name} mounts the DAGs read-only`,
    );
    // Every connection the DAG uses: a serving worker, on the port it listens on.
    for (const id of connIds) {
      const url = new URL(e[`AIRFLOW_CONN_${id.toUpperCase()}`]);
      const target = services[url.hostname];
      assert.ok(target, `${id} → ${url.hostname} is a compose service`);
      assert.equal(String(target.environment.HTTP_PORT), url.port, `${id} port`);
      assert.equal(target.environment.HTTP_HOST ?? "0.0.0.0", "0.0.0.0");
      if (id === "market_ingest" || id === "market_sink") {
        assert.ok(target.command.includes("--serve"), `${url.hostname} waits for POST /run`);
      }
    }
  }
  assert.equal(
    services["airflow-init"].depends_on["airflow-db"].condition,
    "service_completed_successfully",
  );
  for (const name of ["airflow-webserver", "airflow-scheduler"]) {
    assert.equal(
      services[name].depends_on["airflow-init"].condition,
      "service_completed_successfully",
    );
    assert.ok(services[name].healthcheck, `${name} healthcheck`);
  }
  assert.match(services["airflow-init"].command.join("\n"), /airflow db upgrade/);
  assert.match(services["airflow-init"].command.join("\n"), /airflow_admin_password/);
  assert.match(services["airflow-db"].command.join("\n"), /create database airflow owner airflow/);
  for (const [name, worker] of [["ingest-serve", ingest], ["sink-serve", sink]] as const) {
    const reads = new Set(
      Object.values(allOptions(worker)).flatMap((o) => [o.env, `${o.env}_FILE`]),
    );
    for (const key of Object.keys(services[name].environment)) {
      assert.ok(reads.has(key), `${name}: ${key}`);
    }
  }
  // `deno task up` makes every secret file the compose file names.
  const dir = await Deno.makeTempDir();
  try {
    const names = await composeSecrets(dir);
    assert.ok(names.includes("airflow_db_password") && names.includes("airflow_secret_key"));
    const values = names.map((n) => Deno.readTextFileSync(`${dir}/${n}`).trim());
    assert.ok(values.every((v) => v.length >= 20));
    assert.equal(new Set(values).size, values.length, "each secret its own random value");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compose, workers, Prometheus and Grafana agree on env vars, hosts and ports", async (t) => {
  const c = await resolvedCompose();
  const services = c.services as Record<string, Yaml>;
  for (const [name, def] of Object.entries(workers)) {
    await t.step(`${name}: compose sets what it needs and nothing it does not read`, () => {
      const service = services[name];
      assert.ok(service, `compose has a ${name} service`);
      const reads = new Set(Object.values(allOptions(def)).map((s) => s.env));
      const secretFiles = new Set(
        Object.values(allOptions(def)).filter((s) => s.secret).map((s) => `${s.env}_FILE`),
      );
      const sets = Object.keys(service.environment ?? {});
      for (const key of sets) {
        assert.ok(
          reads.has(key) || secretFiles.has(key),
          `compose sets ${key} for ${name}, which no option reads`,
        );
      }
      const topics = Object.values(allOptions(def)).filter((s) =>
        /_TOPIC$/.test(s.env) && s.env !== "TRANSFORM_STATE_TOPIC"
      )
        .map((s) => s.env);
      const needed = ["HTTP_HOST", "HTTP_PORT", ...topics];
      if (name !== "api") needed.push("KAFKA_BROKERS");
      if (name === "sink" || name === "api") {
        needed.push(
          "POSTGRES_URL",
          "POSTGRES_PASSWORD_FILE",
          "ELASTICSEARCH_URL",
          "ELASTICSEARCH_INDEX",
        );
      }
      for (const key of needed) {
        assert.ok(sets.includes(key), `compose does not set ${key} for ${name}`);
      }
      assert.equal(
        service.environment.HTTP_HOST,
        "0.0.0.0",
        "Prometheus must reach it across the network",
      );
      assert.equal(String(service.environment.HTTP_PORT), String(def.httpPort), `${name} port`);
      assert.equal(
        env[`${name.toUpperCase()}_HTTP_PORT`],
        String(def.httpPort),
        `.env port of ${name}`,
      );
      if (name !== "api") {
        const [host, port] = service.environment.KAFKA_BROKERS.split(":");
        assert.ok(services[host], `KAFKA_BROKERS names the service ${host}`);
        assert.match(services.kafka.environment.KAFKA_LISTENERS, new RegExp(`:${port}\\b`));
      }
      for (const flag of service.command.filter((a: string) => a.startsWith("--allow-net="))) {
        for (const h of flag.slice("--allow-net=".length).split(",")) {
          assert.ok(
            services[h] || ["0.0.0.0", "www.alphavantage.co"].includes(h),
            `--allow-net host ${h}`,
          );
        }
      }
    });
  }
  await t.step("sink's stores are compose services on their container ports", () => {
    const e = services.sink.environment;
    const pg = new URL(e.POSTGRES_URL);
    assert.ok(services[pg.hostname]);
    assert.equal(pg.port, "5432");
    assert.equal(pg.pathname.slice(1), env.POSTGRES_DB);
    const es = new URL(e.ELASTICSEARCH_URL);
    assert.ok(services[es.hostname]);
    assert.equal(es.port, "9200");
  });
  await t.step(
    "Prometheus scrapes every worker at its service name and port, natively at 127.0.0.1",
    () => {
      for (
        const [file, hostOf] of [
          ["prometheus.yml", (s: string) => s],
          ["prometheus.native.yml", () => "127.0.0.1"],
        ] as const
      ) {
        const config = parse(Deno.readTextFileSync(`${compose}/prometheus/${file}`));
        const workerJob = config.scrape_configs.find((j: Yaml) => j.job_name === "workers");
        const targets = workerJob.static_configs.map((s: Yaml) =>
          `${s.labels.service}=${s.targets[0]}`
        ).sort();
        const expected = Object.entries(workers).map(([n, d]) => `${n}=${hostOf(n)}:${d.httpPort}`)
          .sort();
        assert.deepEqual(targets, expected, file);
      }
      assert.ok(
        services.prometheus.volumes.some((v: Yaml) => String(v.source ?? v).includes("rules.yml")),
      );
    },
  );
  await t.step("Grafana's datasources point at the compose services", () => {
    const ds = parse(
      Deno.readTextFileSync(`${compose}/grafana/provisioning/datasources/datasources.yml`),
    );
    const prom = ds.datasources.find((d: Yaml) => d.type === "prometheus");
    const promUrl = new URL(prom.url);
    assert.ok(services[promUrl.hostname]);
    assert.equal(promUrl.port, "9090");
    const pg = ds.datasources.find((d: Yaml) => d.type === "postgres");
    const [host, port] = pg.url.split(":");
    assert.ok(services[host]);
    assert.equal(port, "5432");
    assert.match(pg.secureJsonData.password, /\/run\/secrets\/postgres_password/);
    assert.ok(services.grafana.secrets.some((s: Yaml) => (s.source ?? s) === "postgres_password"));
  });
  await t.step("every stateful service has a named volume, every service a healthcheck", () => {
    for (const [name, s] of Object.entries(services)) {
      // Worker services get theirs from the image's HEALTHCHECK (see the Dockerfile test).
      const fromImage = String(s.image).startsWith("marketdata-worker:");
      const oneShot = s.restart === "no" && !fromImage;
      if (!oneShot) assert.ok(s.healthcheck || fromImage, `${name} healthcheck`);
    }
    for (
      const name of ["kafka", "postgres", "elasticsearch", "prometheus", "grafana", "zookeeper"]
    ) {
      const named = (v: Yaml) =>
        typeof v === "string"
          ? Object.keys(c.volumes).includes(v.split(":")[0])
          : v.type === "volume";
      assert.ok((services[name].volumes ?? []).some(named), `${name} has a named volume`);
    }
    assert.deepEqual(services.sink.depends_on.postgres, { condition: "service_healthy" });
    assert.deepEqual(services.transform.depends_on["kafka-init"], {
      condition: "service_completed_successfully",
    });
  });
});

Deno.test("the worker image: pinned Deno, cached dependency layer, non-root, healthcheck", async () => {
  const dockerfile = Deno.readTextFileSync(`${root}Dockerfile`);
  assert.match(dockerfile, /^ARG DENO_VERSION=(\S+)$/m);
  assert.equal(/^ARG DENO_VERSION=(\S+)$/m.exec(dockerfile)![1], env.DENO_VERSION);
  assert.match(dockerfile, /^FROM denoland\/deno:debian-\$\{DENO_VERSION\}$/m);
  const copyLock = dockerfile.indexOf("COPY deno.json deno.lock");
  const install = dockerfile.indexOf("RUN deno install --frozen");
  const copySource = dockerfile.indexOf("COPY lib/");
  assert.ok(
    copyLock >= 0 && copyLock < install && install < copySource,
    "dependencies cached before the source",
  );
  assert.match(dockerfile, /^USER deno$/m);
  assert.match(dockerfile, /^HEALTHCHECK .*\/healthz/ms);
  for (const dir of ["lib/", "workers/", "web/", "schemas/"]) {
    assert.match(dockerfile, new RegExp(`^COPY ${dir}`, "m"));
  }
  const ignored = Deno.readTextFileSync(`${root}.dockerignore`).split("\n");
  for (const entry of [".native", "node_modules", ".git", "compose/secrets"]) {
    assert.ok(ignored.includes(entry), entry);
  }
  // The image's workers run with the V8 heap settings of the native tasks (their memory bound):
  // the image's own, or a task's settings passed by its compose service's command.
  const imageFlags = /^ENV DENO_V8_FLAGS=(\S+)$/m.exec(dockerfile)?.[1];
  assert.ok(imageFlags, "the image sets DENO_V8_FLAGS");
  const tasks = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).tasks;
  // The Avro overlay replaces the workers' commands: it must pass the same flags.
  for (const overlays of [[], ["docker-compose.avro.yml"]]) {
    const services = (await resolvedCompose(overlays)).services as Record<string, Yaml>;
    for (const worker of ["ingest", "transform", "sink"]) {
      const taskFlags = / --v8-flags=(\S+) /.exec(tasks[worker])?.[1];
      assert.ok(taskFlags, `${worker} task sets --v8-flags`);
      if (taskFlags === imageFlags) continue;
      assert.ok(
        (services[worker].command as string[]).includes(`--v8-flags=${taskFlags}`),
        `${worker} (${
          ["compose", ...overlays].join(" + ")
        }): passes the task's --v8-flags=${taskFlags}`,
      );
    }
  }
});

Deno.test("promtool accepts the Prometheus configs and rules", async () => {
  for (const file of ["prometheus.yml", "prometheus.native.yml"]) {
    const r = await run("promtool", ["check", "config", `${compose}/prometheus/${file}`]);
    assert.equal(r.code, 0, r.out);
  }
  const rules = await run("promtool", ["check", "rules", `${compose}/prometheus/rules.yml`]);
  assert.equal(rules.code, 0, rules.out);
  assert.match(rules.out, /SUCCESS: \d+ rules found/);
});

/** Every PromQL expression of the rules and dashboards; alert thresholds are dropped. */
function promQueries(): string[] {
  const out: string[] = [];
  const rules = parse(Deno.readTextFileSync(`${compose}/prometheus/rules.yml`));
  for (const group of rules.groups) {
    for (const rule of group.rules) {
      if (rule.record) out.push(rule.expr);
      // An alert is silent while all is well; each side of it must still find its series.
      else {
        for (const part of String(rule.expr).split(/\s+(?:and|or|unless)\s+/)) {
          out.push(part.replace(/\s*(==|!=|>=|<=|>|<)\s*[\d.e+-]+\s*$/, ""));
        }
      }
    }
  }
  const dashboard = JSON.parse(
    Deno.readTextFileSync(`${compose}/grafana/dashboards/pipeline.json`),
  );
  for (const panel of dashboard.panels) for (const target of panel.targets) out.push(target.expr);
  return out;
}

/** Every SQL query of the market dashboard, with Grafana's macros expanded for a fixed range. */
function sqlQueries(): string[] {
  const dashboard = JSON.parse(Deno.readTextFileSync(`${compose}/grafana/dashboards/market.json`));
  const raw = [
    ...dashboard.templating.list.filter((v: Yaml) => v.type === "query").map((v: Yaml) => v.query),
    ...dashboard.panels.flatMap((p: Yaml) => p.targets.map((t: Yaml) => t.rawSql)),
  ];
  return raw.map((sql: string) =>
    sql
      .replace(
        /\$__timeFilter\(([^)]+)\)/g,
        "$1 BETWEEN '2000-01-01T00:00:00Z' AND '2021-01-01T00:00:00Z'",
      )
      .replaceAll("$symbol", "SP500")
      .replaceAll("$interval", "1d")
  );
}

Deno.test("every PromQL and SQL query of the rules and dashboards returns data after a replay", async () => {
  await requireServer("prometheus");
  const p = await pipelineEnv();
  const ports = [env.TRANSFORM_HTTP_PORT, env.SINK_HTTP_PORT];
  for (const port of ports) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: Number(port) })).close();
      throw new Error(
        `port ${port} is taken (a worker from \`deno task up\`?): run \`deno task down\` first`,
      );
    } catch (error) {
      if ((error as Error).message.startsWith("port")) throw error;
    }
  }
  const running = [
    spawnWorker(taskArgs("transform"), [], {
      ...p.env,
      HTTP_PORT: env.TRANSFORM_HTTP_PORT,
      CONSUMER_GROUP: `${p.index}-t`,
    }),
    spawnWorker(taskArgs("sink"), [], {
      ...p.env,
      HTTP_PORT: env.SINK_HTTP_PORT,
      CONSUMER_GROUP: `${p.index}-s`,
    }),
  ];
  try {
    await produce(p.topics.ticks, [{
      key: "SP500",
      value: "{broken",
      headers: { "schema-version": "1", "record-type": "bar" },
    }]);
    await ingestCsv(p);
    const prom = `http://127.0.0.1:${env.PROMETHEUS_PORT}`;
    await eventually("the sink to write every bar", async () => {
      const { rows } = await p.db.pool.query("select count(*)::int as n from bars");
      return rows[0].n === 6408;
    }, 120_000);
    const queries = promQueries();
    // Rates need two scrapes after the work; rules evaluate every 5 s.
    const empty = await eventually("every PromQL query to return series", async () => {
      const missing: string[] = [];
      for (const q of queries) {
        const res = await (await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`))
          .json();
        assert.equal(res.status, "success", `${q}: ${JSON.stringify(res)}`);
        if (res.data.result.length === 0) missing.push(q);
      }
      return missing.length === 0
        ? []
        : (console.log(`waiting for: ${missing.join(" | ")}`), false);
    }, 90_000);
    assert.deepEqual(empty, []);
    const sql = sqlQueries();
    for (const q of sql) {
      const { rows } = await p.db.pool.query(q);
      assert.ok(rows.length > 0, `no rows: ${q}`);
    }
    console.log(
      `${queries.length} PromQL queries and ${sql.length} SQL panel queries returned data`,
    );
  } finally {
    for (const w of running) w.kill("SIGTERM");
    for (const w of running) await w.exited;
    await p.cleanup();
  }
});
