/**
 * Pid files of the processes `infra` and `up` start. A pid file can outlive its process (a
 * reboot, a kill -9), and the number may since belong to someone else's process: a pid counts
 * as ours only while that process's command line still names what we started (the service's
 * directory, the worker's file), so a stale file never gets another process signalled.
 *
 * @example
 * ```ts
 * const pid = await ownedPid(".native/kafka/pid", "/repo/.native/kafka");
 * if (pid) Deno.kill(pid, "SIGTERM");
 * ```
 * @module
 */

/** The pid in `file` if that process is alive and its command line contains `marker`. */
export async function ownedPid(file: string, marker: string): Promise<number | null> {
  let pid: number;
  try {
    pid = Number((await Deno.readTextFile(file)).trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 1) return null;
  // `ps` rather than /proc/<pid>/cmdline: Deno opens /proc paths only with all permissions.
  const ps = await new Deno.Command("ps", {
    args: ["-o", "args=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!ps.success) return null; // no such process
  return new TextDecoder().decode(ps.stdout).includes(marker) ? pid : null;
}

/**
 * Stops the process of `file` (SIGTERM, then SIGKILL after `graceMs`) if it is ours, and removes
 * the file either way. Resolves to whether a process was stopped.
 */
export async function stopPidFile(file: string, marker: string, graceMs = 30_000) {
  const pid = await ownedPid(file, marker);
  if (pid !== null) {
    Deno.kill(pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && await ownedPid(file, marker) !== null) {
      await new Promise((r) => setTimeout(r, 250));
    }
    if (await ownedPid(file, marker) !== null) Deno.kill(pid, "SIGKILL");
  }
  await Deno.remove(file).catch(() => {});
  return pid !== null;
}
