/**
 * What a newcomer meets first: a fresh copy of the repository with an empty `.native/` (a new
 * Kafka cluster, a new PostgreSQL cluster, empty Elasticsearch data), the README's up command
 * typed exactly as printed, with no Deno on PATH. Runs before `./denow task test` in `.ci/run`,
 * because it needs the project's ports to itself (`./denow task test:fresh`).
 */
import assert from "node:assert/strict";
// @ts-types="@types/pg"
import pg from "pg";
import { loadComposeEnv } from "../support/env_file.ts";
import { reachable } from "../support/servers.ts";

const existsSync = (path: string) => {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
};

const root = new URL("../../", import.meta.url).pathname;
const env = loadComposeEnv(new URL("../../", import.meta.url));
const ports = [
  env.KAFKA_PORT,
  env.ELASTICSEARCH_PORT,
  env.POSTGRES_PORT,
  env.PROMETHEUS_PORT,
  env.TRANSFORM_HTTP_PORT,
  env.SINK_HTTP_PORT,
  env.API_HTTP_PORT,
].map(Number);

/** The README's command lines, as printed in its "Set up, run, test" block. */
function readmeCommands(): string[] {
  const readme = Deno.readTextFileSync(`${root}README.md`);
  const block = /## Set up, run, test[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, "README has a sh block under 'Set up, run, test'");
  return block[1].split("\n").map((l) => l.replace(/\s+#.*$/, "").trim()).filter(Boolean);
}

/** The tracked (and new, not ignored) files of this checkout, copied as a fresh clone would be. */
async function freshCopy(): Promise<string> {
  const list = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: root,
    stdout: "piped",
  }).output();
  const files = new TextDecoder().decode(list.stdout).split("\0").filter(Boolean);
  const dir = await Deno.makeTempDir({ prefix: "marketdata-fresh-" });
  const copy = `${dir}/marketdata`;
  for (const file of files) {
    const stat = await Deno.lstat(`${root}${file}`).catch(() => null);
    if (!stat?.isFile) continue;
    await Deno.mkdir(`${copy}/${file.split("/").slice(0, -1).join("/")}`, { recursive: true });
    await Deno.copyFile(`${root}${file}`, `${copy}/${file}`);
    if (stat.mode !== null) await Deno.chmod(`${copy}/${file}`, stat.mode & 0o777);
  }
  return copy;
}

/** Runs one README line in `cwd` through bash, with no Deno on PATH; output passes through. */
async function typed(line: string, cwd: string): Promise<{ code: number; seconds: number }> {
  const path = (Deno.env.get("PATH") ?? "").split(":")
    .filter((p) => !p.includes("/.tools/") && !p.includes("/.deno/")).join(":");
  const started = performance.now();
  const { code } = await new Deno.Command("bash", {
    args: ["-c", line],
    cwd,
    env: { PATH: path },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
    // A hang is a failure too: a cold first run takes a few minutes, not twenty.
    signal: AbortSignal.timeout(20 * 60_000),
  }).output();
  return { code, seconds: (performance.now() - started) / 1000 };
}

Deno.test("fresh clone: the README's up command brings the pipeline up from an empty .native/, S&P 500 bars in both stores", async () => {
  const busy = [];
  for (const port of ports) if (await reachable(port)) busy.push(port);
  assert.deepEqual(
    busy,
    [],
    `ports ${busy.join(", ")} are taken: stop the running stack first (./denow task down)`,
  );
  const [upCommand] = readmeCommands().filter((l) => / task up\b/.test(l));
  assert.ok(upCommand, "the README names an up command");
  const downCommand = upCommand.replace(/ task up\b/, " task down");
  const copy = await freshCopy();
  try {
    const up = await typed(upCommand, copy);
    console.log(
      `"${upCommand}" on an empty .native/: exit ${up.code} in ${up.seconds.toFixed(1)} s`,
    );
    assert.equal(up.code, 0, `${upCommand} failed (see its output above)`);

    const csv = Deno.readTextFileSync(`${copy}/node_modules/vega-datasets/data/sp500-2000.csv`);
    const days = csv.split("\n").filter((l) => l.trim()).length - 1;
    const password = Deno.readTextFileSync(`${copy}/.native/secrets/postgres_password`).trim();
    const client = new pg.Client({
      host: "127.0.0.1",
      port: Number(env.POSTGRES_PORT),
      user: env.POSTGRES_USER,
      database: env.POSTGRES_DB,
      password,
    });
    await client.connect();
    try {
      const { rows } = await client.query(
        "select count(*)::int as n from bars where symbol = 'SP500' and interval = '1d'",
      );
      assert.equal(rows[0].n, days, "every S&P 500 day is a bar in PostgreSQL");
    } finally {
      await client.end();
    }
    const es = `http://127.0.0.1:${env.ELASTICSEARCH_PORT}/${env.ELASTICSEARCH_INDEX}`;
    await (await fetch(`${es}/_refresh`, { method: "POST" })).body?.cancel();
    const counted = await (await fetch(`${es}/_count?q=symbol:SP500%20AND%20interval:1d`)).json();
    assert.equal(counted.count, days, "every S&P 500 day is a document in Elasticsearch");
  } finally {
    const down = await typed(downCommand, copy);
    console.log(`"${downCommand}": exit ${down.code} in ${down.seconds.toFixed(1)} s`);
    const left = [];
    for (const port of ports) if (await reachable(port)) left.push(port);
    // What the run left on disk goes with the README's reset command.
    const resetCommand = downCommand.replace(/ task down\b/, " task infra reset");
    const reset = await typed(resetCommand, copy);
    const data = ["kafka/data", "postgres/data", "elasticsearch/home/data", "prometheus/data"];
    const kept = data.filter((d) => existsSync(`${copy}/.native/${d}`));
    await Deno.remove(copy.replace(/\/marketdata$/, ""), { recursive: true }).catch(() => {});
    assert.equal(down.code, 0, `${downCommand} failed`);
    assert.deepEqual(left, [], "down stops every server and worker it started");
    assert.equal(reset.code, 0, `${resetCommand} failed`);
    assert.deepEqual(kept, [], `${resetCommand} removes the servers' data`);
  }
});
