/**
 * Real Airflow for the DAG tests, without Docker: apache-airflow from PyPI at the versions pinned
 * in `compose/airflow/requirements.txt`, in a project-local venv (`.native/airflow-venv`, made
 * only when these tests run), with a fresh SQLite metadata database per run.
 */
import { root } from "./servers.ts";

const venv = `${root}.native/airflow-venv`;
const requirements = `${root}compose/airflow/requirements.txt`;

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

/** The venv's `airflow`, installed from the pins when missing or when the pins changed. */
export async function airflowInstalled(): Promise<{ airflow: string; installSeconds?: number }> {
  const pins = await Deno.readTextFile(requirements);
  const stamp = `${venv}/.pins`;
  const current = await Deno.readTextFile(stamp).catch(() => "");
  const airflow = `${venv}/bin/airflow`;
  if (current === pins) return { airflow };
  const started = performance.now();
  await Deno.remove(venv, { recursive: true }).catch(() => {});
  for (
    const [cmd, args] of [
      ["python3", ["-m", "venv", venv]],
      [`${venv}/bin/pip`, ["install", "-q", "--no-deps", "-r", requirements]],
    ] as const
  ) {
    const r = await run(cmd, [...args]);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.text.slice(-3000)}`);
  }
  await Deno.writeTextFile(stamp, pins);
  return { airflow, installSeconds: (performance.now() - started) / 1000 };
}

/** An Airflow home of its own (SQLite), migrated, reading the project's DAGs. */
export async function airflowHome(airflow: string, extraEnv: Record<string, string>) {
  const home = `${root}.native/airflow`;
  await Deno.remove(home, { recursive: true }).catch(() => {});
  await Deno.mkdir(home, { recursive: true });
  const env = {
    AIRFLOW_HOME: home,
    AIRFLOW__CORE__DAGS_FOLDER: `${root}compose/airflow/dags`,
    AIRFLOW__CORE__LOAD_EXAMPLES: "False",
    // The executor starts each task as `airflow tasks run …`: the venv's airflow first.
    PATH: `${venv}/bin:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
    ...extraEnv,
  };
  const cli = (...args: string[]) => run(airflow, args, env);
  const migrated = await cli("db", "migrate");
  if (migrated.code !== 0) {
    throw new Error(`airflow db migrate failed:\n${migrated.text.slice(-3000)}`);
  }
  return { home, env, cli };
}

/** Parses the DAG folder as the scheduler does; the import errors by file. */
export async function importErrors(home: { env: Record<string, string> }) {
  const script = [
    "import json",
    "from airflow.models import DagBag",
    "bag = DagBag(include_examples=False)",
    "print(json.dumps({'dags': sorted(bag.dag_ids), 'errors': bag.import_errors}))",
  ].join("\n");
  const r = await run(`${venv}/bin/python`, ["-c", script], home.env);
  const line = r.text.split("\n").find((l) => l.startsWith('{"dags"'));
  if (!line) throw new Error(`parsing the DAGs failed:\n${r.text.slice(-3000)}`);
  return JSON.parse(line) as { dags: string[]; errors: Record<string, string> };
}
