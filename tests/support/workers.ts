/**
 * Runs workers as real processes, with the permissions their `deno task` gives them (read from
 * deno.json), so permission mistakes fail the tests as they would fail a user.
 */
import { root } from "./servers.ts";

const tasks = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).tasks as Record<string, string>;

/** `deno run` arguments of a task, e.g. ["run", "--allow-net=...", ..., "workers/sink.ts"]. */
export function taskArgs(task: string): string[] {
  const command = tasks[task];
  if (!command?.startsWith("deno run ")) throw new Error(`task ${task} is not a deno run task`);
  return command.slice("deno ".length).split(" ");
}

/** Arguments for a script outside deno.json (test workers), with the transform's permissions. */
export function scriptArgs(script: string): string[] {
  const args = taskArgs("transform");
  args[args.length - 1] = script;
  return args;
}

export interface WorkerProcess {
  child: Deno.ChildProcess;
  /** stderr lines so far (JSON logs) */
  lines: string[];
  /** resolves with the exit code */
  exited: Promise<number>;
  kill(signal?: Deno.Signal): void;
}

/** Starts `deno <args> <flags>` in the repository root with `env` added. */
export function spawnWorker(
  args: string[],
  flags: string[],
  env: Record<string, string>,
): WorkerProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...args, ...flags],
    cwd: root,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      lines.push(...parts);
      if (Deno.env.get("TEST_WORKER_LOGS")) parts.forEach((l) => console.error(l));
    }
    if (buffer) lines.push(buffer);
  };
  const reading = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const exited = child.status.then(async (s) => {
    await reading;
    return s.code;
  });
  return {
    child,
    lines,
    exited,
    kill(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    },
  };
}

/** Runs a worker to completion; fails with its log tail when the exit code is unexpected. */
export async function runToEnd(
  args: string[],
  flags: string[],
  env: Record<string, string>,
  expectCode = 0,
  timeoutMs = 300_000,
): Promise<WorkerProcess> {
  const w = spawnWorker(args, flags, env);
  const timer = setTimeout(() => w.kill("SIGKILL"), timeoutMs);
  const code = await w.exited;
  clearTimeout(timer);
  if (code !== expectCode) {
    throw new Error(
      `${args.at(-1)} exited ${code}, expected ${expectCode}:\n${w.lines.slice(-15).join("\n")}`,
    );
  }
  return w;
}

/** The fields of a worker's last `stopped` log line (JSON logs): its exit code and totals. */
export interface Stopped {
  exitCode: number;
  recordsIn: number;
  recordsOut: Record<string, number>;
  deadLetters: number;
  /** Wall seconds after connecting, until done. */
  runSeconds?: number;
  /** CPU seconds (user + system) of the same window. */
  cpuSeconds?: number;
}

/** Reads the `stopped` line from a worker's JSON log lines, by its fields. */
export function stoppedLine(lines: readonly string[]): Stopped | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i].startsWith("{")) continue;
    try {
      const entry = JSON.parse(lines[i]);
      if (entry.msg === "stopped") return entry as Stopped;
    } catch { /* not a log line */ }
  }
  return undefined;
}

/** Polls a worker's /readyz every `everyMs` until it answers 200 (`timeoutMs` at most). */
export async function waitReady(port: number, everyMs = 100, timeoutMs = 60_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      await res.body?.cancel();
      if (res.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`worker on port ${port} never became ready`);
}
