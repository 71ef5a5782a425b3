/**
 * Workers at a terminal, as a person runs them: under a pseudo-terminal (`script`), where Deno
 * would stop at a permission prompt and where logs are drawn for people. The commands are the
 * README's: `deno task <worker>` and the ad-hoc `deno run -q -P=<worker> workers/<worker>.ts`.
 */
import assert from "node:assert/strict";
import { pipelineEnv } from "../support/pipeline.ts";
import { readAll, requireServer, root } from "../support/servers.ts";

const denoDir = Deno.execPath().replace(/\/[^/]+$/, "");

/** Runs `command` through bash under a pseudo-terminal; the screen's text and the exit code. */
async function atTerminal(command: string, env: Record<string, string>) {
  const { code, stdout } = await new Deno.Command("script", {
    args: ["-qec", command, "/dev/null"],
    cwd: root,
    // A prompt waits for an answer: with no one typing, the test ends it and shows the screen.
    env: { ...env, PATH: `${denoDir}:${Deno.env.get("PATH")}`, TERM: "xterm-256color" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(90_000),
  }).output();
  return { code, screen: new TextDecoder().decode(stdout) };
}

// deno-lint-ignore no-control-regex
const plain = (text: string) => text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
const logLine = /^\d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO |WARN |ERROR) \w+ {2}\S/;

/** Every line the worker wrote: a readable log line or the progress bar, nothing else. */
function assertOnlyLogLines(screen: string) {
  const lines = plain(screen).split(/\r?\n/).flatMap((l) => l.split("\r")).map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("Task "));
  const stray = lines.filter((l) => !logLine.test(l) && !/^ingest \w+ \[[#-]+\]/.test(l));
  assert.deepEqual(stray, [], `lines that are not log lines:\n${screen}`);
}

Deno.test("ingest at a terminal: no permission prompt, a progress bar, readable logs, records in Kafka", async (t) => {
  await requireServer("kafka");
  const p = await pipelineEnv();
  const env = { ...p.env, SYNTHETIC_TICKS: "20000", LOG_LEVEL: "info" };
  try {
    for (
      const [form, command] of [
        ["task", "deno task ingest --source synthetic"],
        ["ad hoc", "deno run -q -P=ingest workers/ingest.ts --source synthetic"],
      ]
    ) {
      await t.step(`${form}: ${command}`, async () => {
        const before = (await readAll(p.topics.ticks)).length;
        const { code, screen } = await atTerminal(command, env);
        assert.ok(!/Deno requests|Allow\?/.test(screen), `a permission prompt:\n${screen}`);
        assert.equal(code, 0, screen);
        assert.match(plain(screen), /\[#{30}\] 100\.0% 20000\/20000/, "the finished progress bar");
        assert.match(plain(screen), /INFO {2}ingest {2}stopped {2}exitCode=0/);
        assert.doesNotMatch(screen, /TimeoutNegativeWarning|\(node:\d+\)|experimental/);
        assertOnlyLogLines(screen);
        assert.equal((await readAll(p.topics.ticks)).length - before, 20000);
      });
    }
    for (const worker of ["transform", "sink"]) {
      await t.step(`ad hoc: deno run -q -P=${worker} workers/${worker}.ts --once`, async () => {
        const { code, screen } = await atTerminal(
          `deno run -q -P=${worker} workers/${worker}.ts --once`,
          { ...env, CONSUMER_GROUP: `${p.topics.ticks}-${worker}` },
        );
        assert.ok(!/Deno requests|Allow\?/.test(screen), `a permission prompt:\n${screen}`);
        assert.equal(code, 0, screen);
        assert.match(plain(screen), new RegExp(`INFO  ${worker} {2}stopped {2}exitCode=0`));
        assertOnlyLogLines(screen);
      });
    }
    assert.ok((await readAll(p.topics.bars)).length > 0, "transform published bars");
  } finally {
    await p.cleanup();
  }
});
