/**
 * What every native service shares: the `Service` shape `deno task infra` drives, where data
 * lives (`.native/`, or a directory other users can reach), the ports and versions of
 * `compose/.env`, and the process helpers (run, wait, spawn detached, stop by pid file, fetch
 * jars from Maven Central).
 *
 * @module
 */
import { createLogger, logProcessWarnings } from "../../lib/runtime/log.ts";
import { loadComposeEnv } from "../../tests/support/env_file.ts";
import { stopPidFile } from "../pid_file.ts";

/** Only errors: these scripts print their own progress. */
export const log = createLogger("infra", "error");
logProcessWarnings(log);

export const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
export const env = loadComposeEnv(new URL("../../", import.meta.url));
export const native = `${root}/.native`;
export const isRoot = Deno.uid() === 0;
// Elasticsearch and PostgreSQL refuse to run as root; they get unprivileged users of their own.
export const esUser = "esnode";
export const pgUser = "postgres";

export interface Service {
  name: string;
  port: number;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  healthy(): Promise<boolean>;
  /** What `infra reset` deletes: the data the service keeps, not its installation or secrets. */
  data(): Promise<string[]>;
  /** Runs after the service is healthy, whether this `up` started it or it was running. */
  prepare?(): Promise<void>;
  /** Services that must be up first; `up` starts them too when they were not named. */
  dependsOn?: Service[];
}

export async function sh(
  cmd: string,
  args: string[],
  opts: { cwd?: string; quiet?: boolean } = {},
) {
  const out = await new Deno.Command(cmd, { args, cwd: opts.cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text.slice(-3000)}`);
  return text;
}

export function asUser(user: string, cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ["runuser", ["-u", user, "--", cmd, ...args]] : [cmd, args];
}

/** Whether every directory from `/` down to `path` lets other users through. */
export async function othersCanReach(path: string): Promise<boolean> {
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
export async function serviceDir(name: string): Promise<string> {
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

export async function exists(path: string) {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function portOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

export async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  seconds: number,
  log: string,
) {
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
export async function spawnDetached(
  dir: string,
  cmd: string,
  args: string[],
  cwd = dir,
  extraEnv: Record<string, string> = {},
) {
  const quoted = [cmd, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const script = `echo $$ > '${dir}/pid'; exec ${quoted} >> '${dir}/out.log' 2>&1`;
  await new Deno.Command("setsid", {
    args: ["-f", "sh", "-c", script],
    cwd,
    // Secrets go by environment, not argv, which any local user can read in `ps`.
    env: extraEnv,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
}

/** Stops the process `spawnDetached` started in `dir`, if the pid file still names it. */
export async function killPidFile(dir: string) {
  await stopPidFile(`${dir}/pid`, dir);
}

/** Resolves a pom's dependencies into `libs/` once per version (Maven caches in ~/.m2). */
export async function fetchJars(
  pom: string,
  versionProperty: string,
  version: string,
  libs: string,
) {
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

/** A random secret kept in `.native/secrets/` (made once; the same on every later call). */
export async function generatedSecret(file: string): Promise<string> {
  await Deno.mkdir(`${native}/secrets`, { recursive: true, mode: 0o700 });
  if (!(await exists(file))) {
    const bytes = crypto.getRandomValues(new Uint8Array(18));
    await Deno.writeTextFile(file, btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, "x"), {
      mode: 0o600,
    });
  }
  return (await Deno.readTextFile(file)).trim();
}
