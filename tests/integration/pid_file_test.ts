import assert from "node:assert/strict";
import { ownedPid, stopPidFile } from "../../scripts/pid_file.ts";
import { root } from "../support/servers.ts";

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

Deno.test("a stale pid file never gets a process the project did not start signalled", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pidfile-" });
  // Someone else's process, whose number a stale pid file happens to hold.
  const stranger = new Deno.Command("sleep", { args: ["30"] }).spawn();
  // Ours: its command line names the service directory, as infra's processes do.
  const ours = new Deno.Command("sh", { args: ["-c", "sleep 30", dir] }).spawn();
  try {
    await Deno.writeTextFile(`${dir}/stale.pid`, String(stranger.pid));
    assert.equal(await ownedPid(`${dir}/stale.pid`, dir), null);
    assert.equal(await stopPidFile(`${dir}/stale.pid`, dir, 1000), false);
    assert.ok(alive(stranger.pid), "the stranger was left alone");
    await assert.rejects(Deno.stat(`${dir}/stale.pid`), Deno.errors.NotFound);

    await Deno.writeTextFile(`${dir}/ours.pid`, String(ours.pid));
    assert.equal(await ownedPid(`${dir}/ours.pid`, dir), ours.pid);
    assert.equal(await stopPidFile(`${dir}/ours.pid`, dir, 5000), true);
    assert.equal((await ours.status).signal, "SIGTERM");

    await Deno.writeTextFile(`${dir}/gone.pid`, "999999999");
    assert.equal(await ownedPid(`${dir}/gone.pid`, dir), null);

    // The same check under the permissions `deno task infra` and `up` run with.
    const again = new Deno.Command("sh", { args: ["-c", "sleep 30", dir] }).spawn();
    await Deno.writeTextFile(`${dir}/again.pid`, String(again.pid));
    await Deno.writeTextFile(
      `${dir}/probe.ts`,
      `import { ownedPid } from "${root}scripts/pid_file.ts";\n` +
        `console.log(await ownedPid("${dir}/again.pid", "${dir}"));\n`,
    );
    const probe = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        "--no-prompt",
        "--config",
        `${root}deno.json`,
        "-P=ops",
        `${dir}/probe.ts`,
      ],
      cwd: root,
      stdout: "piped",
    }).output();
    again.kill("SIGKILL");
    await again.status;
    assert.equal(new TextDecoder().decode(probe.stdout).trim(), String(again.pid));
  } finally {
    try {
      stranger.kill("SIGKILL");
    } catch { /* gone */ }
    try {
      ours.kill("SIGKILL");
    } catch { /* gone */ }
    await stranger.status;
    await ours.status;
    await Deno.remove(dir, { recursive: true });
  }
});
