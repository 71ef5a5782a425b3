/**
 * The `market_daily` DAG under real Airflow (pinned apache-airflow 2.x from PyPI, SQLite metadata)
 * against the native stack: workers in `--serve` mode (ingest, sink), transform running, the API.
 * Long and slow to install: `deno task test:airflow` (and `.ci/run`), not the everyday suite.
 */
import assert from "node:assert/strict";
import { airflowHome, airflowInstalled, importErrors } from "../support/airflow.ts";
import { pipelineEnv } from "../support/pipeline.ts";
import { elasticsearch, infra, readAll, requireServer } from "../support/servers.ts";
import { spawnWorker, taskArgs, waitReady, type WorkerProcess } from "../support/workers.ts";

Deno.test("market_daily under real Airflow: a day, a day with PostgreSQL stopped, a two-day backfill", async (t) => {
  await requireServer("kafka");
  await requireServer("postgres");
  await requireServer("elasticsearch");
  const { airflow, installSeconds } = await airflowInstalled();
  console.log(
    installSeconds === undefined
      ? "Airflow venv already installed from the pins"
      : `installed the pinned Airflow in ${installSeconds.toFixed(0)} s`,
  );
  const p = await pipelineEnv(3);
  const base = 19500 + Math.floor(Math.random() * 90) * 4;
  const ports = { ingest: base, transform: base + 1, sink: base + 2, api: base + 3 };
  const workers: WorkerProcess[] = [];
  const start = (task: string, flags: string[], env: Record<string, string>) => {
    const w = spawnWorker(taskArgs(task), flags, { ...p.env, LOG_LEVEL: "info", ...env });
    workers.push(w);
    return w;
  };
  const sink = start("sink", ["--serve"], {
    HTTP_PORT: String(ports.sink),
    CONSUMER_GROUP: `${p.index}-sink`,
    MAX_RETRY_ATTEMPTS: "3",
    RETRY_BASE_MS: "200",
  });
  start("ingest", ["--serve"], { HTTP_PORT: String(ports.ingest) });
  start("transform", [], {
    HTTP_PORT: String(ports.transform),
    CONSUMER_GROUP: `${p.index}-transform`,
  });
  start("api", [], { HTTP_PORT: String(ports.api) });
  const connections = Object.fromEntries(
    Object.entries(ports).map(([name, port]) => [
      `AIRFLOW_CONN_MARKET_${name.toUpperCase()}`,
      `http://127.0.0.1:${port}`,
    ]),
  );
  const home = await airflowHome(airflow, { ...connections, MARKET_RETRY_DELAY_SECONDS: "3" });
  const version = (await home.cli("version")).text.split("\n").find((l) =>
    /^\d+\.\d+\.\d+/.test(l)
  );
  console.log(`Airflow ${version}, home ${home.home}`);

  /** Daily bars of SP500 stored per day (PostgreSQL) and indexed (Elasticsearch). */
  const dailyBars = async () => {
    const { rows } = await p.db.pool.query(
      `select to_char(period_start at time zone 'UTC', 'YYYY-MM-DD') as day, count(*)::int as n
       from bars where symbol = 'SP500' and interval = '1d' group by 1 order by 1`,
    );
    const es = elasticsearch();
    await es.indices.refresh({ index: p.index });
    const hits = await es.search<{ period_start: string }>({
      index: p.index,
      size: 100,
      query: { bool: { filter: [{ term: { symbol: "SP500" } }, { term: { interval: "1d" } }] } },
    });
    await es.close();
    return {
      postgres: Object.fromEntries(rows.map((r) => [r.day, r.n])),
      elasticsearch: hits.hits.hits.map((h) => h._source!.period_start.slice(0, 10)).sort(),
    };
  };
  const dagRun = async (...args: string[]) => {
    const r = await home.cli(...args);
    const states = [...r.text.matchAll(/DagRun Finished: .*?state=(\w+)/g)].map((m) => m[1]);
    return { ...r, states };
  };

  try {
    for (const port of Object.values(ports)) await waitReady(port);

    await t.step("the DAG folder imports without errors", async () => {
      const parsed = await importErrors(home);
      console.log(`DagBag: ${JSON.stringify(parsed)}`);
      assert.deepEqual(parsed.errors, {});
      assert.ok(parsed.dags.includes("market_daily"));
      const listed = await home.cli("dags", "list-import-errors");
      assert.equal(listed.code, 0, listed.text.slice(-2000));
      assert.match(listed.text, /No data found/);
    });

    await t.step(
      "airflow dags test market_daily 2020-01-02: the day's bar in both stores",
      async () => {
        const r = await dagRun("dags", "test", "market_daily", "2020-01-02");
        console.log(
          r.text.split("\n").filter((l) =>
            /ingest 2020|sink: |records ingested|DagRun Finished/.test(l)
          ).join("\n"),
        );
        assert.deepEqual(r.states, ["success"], r.text.slice(-4000));
        const stored = await dailyBars();
        assert.deepEqual(stored.postgres, { "2020-01-02": 1 });
        assert.deepEqual(stored.elasticsearch, ["2020-01-02"]);
        assert.equal((await readAll(p.topics.ticks)).length, 1, "only that day was ingested");
      },
    );

    await t.step(
      "PostgreSQL stopped: the sink task fails and retries; the run succeeds once it is back",
      async () => {
        await infra("down", "postgres");
        const back = new Promise<void>((resolve, reject) =>
          setTimeout(() => infra("up", "postgres").then(resolve, reject), 12_000)
        );
        let r;
        try {
          r = await dagRun("dags", "test", "market_daily", "2020-01-03");
        } finally {
          await back;
        }
        const failures = r.text.split("\n").filter((l) =>
          /POST http:\/\/127\.0\.0\.1:\d+\/run → 5\d\d/.test(l)
        );
        console.log(
          `sink failures before PostgreSQL came back:\n${
            [...new Set(failures)].slice(0, 3).join("\n")
          }`,
        );
        assert.ok(failures.length > 0, "the sink task failed while PostgreSQL was stopped");
        assert.match(r.text, /UP_FOR_RETRY/);
        assert.deepEqual(r.states, ["success"], r.text.slice(-4000));
        assert.deepEqual((await dailyBars()).postgres, { "2020-01-02": 1, "2020-01-03": 1 });
        assert.equal(
          sink.lines.some((l) => l.includes('"msg":"stopping')),
          false,
          "sink still serving",
        );
      },
    );

    await t.step("a two-day backfill (6 and 7 January 2020) stores each day once", async () => {
      const r = await home.cli(
        "dags",
        "backfill",
        "market_daily",
        "-s",
        "2020-01-06",
        "-e",
        "2020-01-08",
      );
      assert.equal(r.code, 0, r.text.slice(-4000));
      const stored = await dailyBars();
      console.log(`after the backfill: ${JSON.stringify(stored)}`);
      const days = { "2020-01-02": 1, "2020-01-03": 1, "2020-01-06": 1, "2020-01-07": 1 };
      assert.deepEqual(stored.postgres, days);
      assert.deepEqual(stored.elasticsearch, Object.keys(days));
      assert.equal((await readAll(p.topics.ticks)).length, 4, "each day ingested once");
      const progress = [
        ...r.text.matchAll(/finished run (\d+) of (\d+).*?succeeded: (\d+).*?failed: (\d+)/g),
      ]
        .at(-1);
      console.log(`backfill: ${progress?.[0]}`);
      assert.ok(progress, r.text.slice(-3000));
      assert.deepEqual(progress.slice(1).map(Number), [2, 2, 8, 0], "2 runs, 4 tasks each");
    });
  } finally {
    for (const w of workers) w.kill("SIGTERM");
    for (const w of workers) await w.exited;
    await infra("up", "postgres");
    await p.cleanup();
  }
});
