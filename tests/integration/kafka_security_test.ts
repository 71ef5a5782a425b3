/**
 * Kafka with SASL/SCRAM-SHA-512 over TLS: the native broker's second listener (port
 * KAFKA_SASL_SSL_PORT, self-signed certificate, SCRAM user from `deno task infra up`).
 */
import assert from "node:assert/strict";
import { createTopics, env, readAll, requireServer, uniqueName } from "../support/servers.ts";
import { runToEnd, taskArgs } from "../support/workers.ts";

const secureBrokers = `127.0.0.1:${env.KAFKA_SASL_SSL_PORT}`;
const tls = {
  KAFKA_BROKERS: secureBrokers,
  KAFKA_SSL: "true",
  KAFKA_SSL_CA_FILE: ".native/kafka/tls/ca.pem",
  KAFKA_SASL_MECHANISM: "scram-sha-512",
  KAFKA_SASL_USERNAME: "market",
};

async function requireSecureListener() {
  await requireServer("kafka");
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port: Number(env.KAFKA_SASL_SSL_PORT) })).close();
  } catch {
    throw new Error(
      `no SASL_SSL listener on ${secureBrokers}: restart Kafka with \`deno task infra down kafka && deno task infra up kafka\``,
    );
  }
}

Deno.test("ingest and transform talk to Kafka over TLS with SCRAM-SHA-512, password from a file", async () => {
  await requireSecureListener();
  const ticks = uniqueName("secure-ticks"), bars = uniqueName("secure-bars");
  await createTopics([ticks, bars]);
  const e = {
    ...tls,
    KAFKA_SASL_PASSWORD_FILE: ".native/secrets/kafka_password",
    TICKS_TOPIC: ticks,
    BARS_TOPIC: bars,
    DLQ_TOPIC: uniqueName("secure-dlq"),
    TRANSFORM_STATE_TOPIC: uniqueName("secure-state"),
    CONSUMER_GROUP: uniqueName("secure"),
    HTTP_PORT: "0",
  };
  const logs = [
    ...(await runToEnd(taskArgs("ingest"), [], { ...e, LOG_LEVEL: "debug" })).lines,
    ...(await runToEnd(taskArgs("transform"), ["--once"], { ...e, LOG_LEVEL: "debug" })).lines,
  ];
  const password = Deno.readTextFileSync(".native/secrets/kafka_password").trim();
  assert.ok(
    logs.length > 3 && logs.every((l) => !l.includes(password)),
    "the SCRAM password leaked",
  );
  assert.equal((await readAll(ticks)).length, 5105);
  const daily = (await readAll(bars)).map((r) => JSON.parse(r.value)).filter((b) =>
    b.interval === "1d"
  );
  assert.equal(new Set(daily.map((b) => b.start)).size, 5105);
});

Deno.test("a wrong SCRAM password: exit 1 at once (no retries) with an authentication error, the password never shown", async () => {
  await requireSecureListener();
  const wrong = `wrong-${crypto.randomUUID()}`;
  const w = await runToEnd(
    taskArgs("ingest"),
    [],
    {
      ...tls,
      KAFKA_SASL_PASSWORD: wrong,
      TICKS_TOPIC: uniqueName("secure-denied"),
      HTTP_PORT: "0",
    },
    1,
    120_000,
  );
  const text = w.lines.join("\n");
  assert.match(text, /SASL SCRAM SHA512 authentication failed|Authentication failed/i);
  assert.ok(!text.includes(wrong));
  // Credentials no retry can fix end the worker at once, with the default retry budget.
  assert.ok(!/failed, retrying/.test(text), text);
});

Deno.test("without TLS the secured listener refuses the client", async () => {
  await requireSecureListener();
  const w = await runToEnd(
    taskArgs("ingest"),
    [],
    {
      ...tls,
      KAFKA_SSL: "false",
      KAFKA_SASL_PASSWORD_FILE: ".native/secrets/kafka_password",
      TICKS_TOPIC: uniqueName("secure-plain"),
      MAX_RETRY_ATTEMPTS: "1",
      HTTP_PORT: "0",
    },
    1,
    120_000,
  );
  assert.match(w.lines.join("\n"), /stopping: /);
});
