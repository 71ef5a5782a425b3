/**
 * Secrets (from env or *_FILE) never appear in a log line or an error, through a whole pipeline
 * run with every secret set and in the error paths; unreachable servers end a worker clearly.
 */
import assert from "node:assert/strict";
import { groups, pipelineEnv } from "../support/pipeline.ts";
import { encodeBar } from "../../lib/market/record.ts";
import { pgPassword, produce, requireServer } from "../support/servers.ts";

const bar = {
  symbol: "SP500",
  interval: "1d" as const,
  start: Date.UTC(2000, 0, 3),
  open: 1469.25,
  high: 1478,
  low: 1438.36,
  close: 1455.22,
  volume: 931800000,
  trades: null,
  vwap: null,
  ret: null,
  logRet: null,
  sma: null,
  ema: null,
  rsi: null,
  volatility: null,
  zscore: null,
};
import { runToEnd, taskArgs } from "../support/workers.ts";

Deno.test("no secret appears in any log line of a full pipeline run with every secret set", async () => {
  await requireServer("kafka");
  await requireServer("postgres");
  await requireServer("elasticsearch");
  const p = await pipelineEnv();
  const secrets = {
    // The real database password, given directly rather than through the native default file.
    POSTGRES_PASSWORD: pgPassword(),
    ELASTICSEARCH_USERNAME: "elastic",
    ELASTICSEARCH_PASSWORD: `es-${crypto.randomUUID()}`,
    KAFKA_SASL_PASSWORD: `kafka-${crypto.randomUUID()}`,
    ALPHAVANTAGE_API_KEY: `av-${crypto.randomUUID()}`,
  };
  const env = { ...secrets, LOG_LEVEL: "debug" };
  try {
    const lines: string[] = [];
    const ingest = await runToEnd(taskArgs("ingest"), [], { ...p.env, ...env, LOG_LEVEL: "debug" });
    lines.push(...ingest.lines);
    const g = groups("secrets");
    for (const [worker, group] of [["transform", g.transform], ["sink", g.sink]] as const) {
      const w = await runToEnd(taskArgs(worker), ["--once"], { ...p.env, ...env, ...group });
      lines.push(...w.lines);
    }
    const { rows } = await p.db.pool.query("select count(*)::int as n from bars");
    assert.equal(rows[0].n, 6408, "the run did its work");
    assert.ok(lines.length > 5);
    for (const [name, value] of Object.entries(secrets)) {
      if (name === "ELASTICSEARCH_USERNAME") continue;
      assert.ok(lines.every((l) => !l.includes(value)), `${name} leaked into the logs`);
    }
  } finally {
    await p.cleanup();
  }
});

Deno.test("a wrong password: bounded retries, then exit 1 with a clear message and no secret", async () => {
  await requireServer("postgres");
  const wrong = `wrong-${crypto.randomUUID()}`;
  const w = await runToEnd(
    taskArgs("sink"),
    ["--once"],
    {
      POSTGRES_PASSWORD: wrong,
      MAX_RETRY_ATTEMPTS: "2",
      RETRY_BASE_MS: "10",
      HTTP_PORT: "0",
    },
    1,
    60_000,
  );
  const text = w.lines.join("\n");
  assert.match(
    text,
    /stopping: opening output postgres failed after 2 attempts: cannot connect to PostgreSQL at 127\.0\.0\.1:\d+: password authentication failed/,
  );
  assert.ok(!text.includes(wrong));
});

Deno.test("an unreachable server at start: bounded retries, then exit 1 naming it", async () => {
  const w = await runToEnd(
    taskArgs("sink"),
    ["--once"],
    {
      POSTGRES_URL: "postgres://market@127.0.0.1:1/marketdata",
      MAX_RETRY_ATTEMPTS: "3",
      RETRY_BASE_MS: "10",
      HTTP_PORT: "0",
    },
    1,
    60_000,
  );
  const text = w.lines.join("\n");
  assert.equal(w.lines.filter((l) => l.includes("connect failed, retrying")).length, 2);
  assert.match(text, /failed after 3 attempts: cannot connect to PostgreSQL at 127\.0\.0\.1:1/);
  const es = await runToEnd(
    taskArgs("api"),
    [],
    {
      ELASTICSEARCH_URL: "http://127.0.0.1:1",
      MAX_RETRY_ATTEMPTS: "2",
      RETRY_BASE_MS: "10",
      HTTP_PORT: "0",
    },
    1,
    60_000,
  );
  assert.match(es.lines.join("\n"), /cannot reach Elasticsearch at 127\.0\.0\.1:1/);
});

Deno.test("the sink writes to PostgreSQL over TLS, verifying the server's certificate", async () => {
  await requireServer("postgres");
  const ca = ".native/postgres/tls/server.crt";
  try {
    await Deno.stat(ca);
  } catch {
    throw new Error(
      `no ${ca}: restart PostgreSQL with \`deno task infra down postgres && deno task infra up postgres\``,
    );
  }
  const p = await pipelineEnv();
  try {
    await produce(p.topics.bars, [encodeBar(bar)]);
    const w = await runToEnd(taskArgs("sink"), ["--once"], {
      ...p.env,
      POSTGRES_SSL: "true",
      POSTGRES_SSL_CA_FILE: ca,
      CONSUMER_GROUP: `${p.index}-tls`,
    });
    assert.equal(w.lines.filter((l) => l.includes('"level":"error"')).length, 0);
    assert.equal((await p.db.pool.query("select count(*)::int as n from bars")).rows[0].n, 1);
    const wrongCa = await runToEnd(taskArgs("sink"), ["--once"], {
      ...p.env,
      POSTGRES_SSL: "true",
      POSTGRES_SSL_CA_FILE: ".native/kafka/tls/ca.pem",
      CONSUMER_GROUP: `${p.index}-tls-wrong`,
      MAX_RETRY_ATTEMPTS: "1",
    }, 1);
    assert.match(
      wrongCa.lines.join("\n"),
      /cannot connect to PostgreSQL.*(self[- ]signed|certificate)/i,
    );
  } finally {
    await p.cleanup();
  }
});
