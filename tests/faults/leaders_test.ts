/**
 * What made the first `up` on a fresh machine fail: a worker meeting partitions that have no
 * leader yet. Here the broker is stopped right after transform connected — before its new input
 * topic exists, let alone has leaders — and started again a few seconds later; the worker waits
 * with backoff and goes on.
 */
import assert from "node:assert/strict";
import { pipelineEnv } from "../support/pipeline.ts";
import { eventually, infra, readAll, requireServer, uniqueName } from "../support/servers.ts";
import { runToEnd, spawnWorker, taskArgs } from "../support/workers.ts";

Deno.test("transform waits through a broker stopped right after it connected, before its topics have leaders, then goes on", async () => {
  await requireServer("kafka");
  const p = await pipelineEnv();
  // Topics nobody created yet: the worker creates its input when it starts consuming.
  const id = uniqueName("leaderless");
  const env = {
    ...p.env,
    TICKS_TOPIC: `${id}.ticks`,
    BARS_TOPIC: `${id}.bars`,
    TRANSFORM_STATE_TOPIC: `${id}.state`,
    TOPIC_PARTITIONS: "3",
    CONSUMER_GROUP: `${id}-transform`,
    LOG_LEVEL: "info",
  };
  const transform = spawnWorker(taskArgs("transform"), [], env);
  let exitCode: number | undefined;
  transform.exited.then((code) => (exitCode = code));
  try {
    await eventually(
      "transform connected",
      () => Promise.resolve(transform.lines.some((l) => l.includes('"msg":"connected"'))),
      60_000,
    );
    await infra("down", "kafka");
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, 4000));
    await infra("up", "kafka");
    console.log(`broker away for ${((Date.now() - downAt) / 1000).toFixed(1)} s`);
    assert.equal(exitCode, undefined, `transform ended:\n${transform.lines.slice(-10).join("\n")}`);

    await runToEnd(taskArgs("ingest"), [
      "--source",
      "synthetic",
      "--synthetic-ticks",
      "3000",
      "--synthetic-symbols",
      "6",
    ], env);
    await eventually(
      "bars published after the outage",
      async () => (await readAll(env.BARS_TOPIC)).length > 0,
      120_000,
    );
    assert.equal(exitCode, undefined, "transform is still running");
    const felt = transform.lines.filter((l) => /retrying|starting it again|kafkajs/.test(l));
    console.log(`${felt.length} log lines about the outage, e.g.\n${felt.slice(0, 3).join("\n")}`);
    assert.ok(felt.length > 0, "the outage was felt and ridden out");
    transform.kill("SIGTERM");
    assert.equal(await transform.exited, 0);
  } finally {
    transform.kill("SIGKILL");
    await p.cleanup();
  }
});
