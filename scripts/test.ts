/**
 * `deno task test`: starts the native servers if they are not running (`deno task infra up`),
 * runs the unit, integration and e2e tests, and ends with the plain line `N passed, N failed`.
 * `tests/fresh/` (`deno task test:fresh`) starts no servers: it brings up a fresh copy itself.
 * Extra arguments go to `deno test` (for example `--filter sink`); `tests/…` arguments choose
 * the suites (the long fault tests are `deno task test:faults`).
 */
const root = new URL("../", import.meta.url).pathname;
// `deno task test:faults` passes tests/faults/; the default is everything else.
const suites = Deno.args.filter((a) => a.startsWith("tests/"));
const deno = Deno.execPath();

// The fresh-clone suite starts (and stops) a stack of its own in a copy of the repository.
const ownStack = suites.length > 0 && suites.every((s) => s.startsWith("tests/fresh"));
const infra = ownStack ? { success: true } : await new Deno.Command(deno, {
  args: ["task", "infra", "up"],
  cwd: root,
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!infra.success) {
  console.error("the native servers did not start: see above (deno task infra status)");
  console.log("0 passed, 1 failed");
  Deno.exit(1);
}

const child = new Deno.Command(deno, {
  args: [
    "test",
    // The tests drive servers, processes and a browser: playwright-core probes /proc paths that
    // Deno opens only with all permissions. The workers they spawn keep their tasks' narrow ones.
    "--allow-all",
    ...Deno.args.filter((a) => !a.startsWith("tests/")),
    ...(suites.length ? suites : ["tests/unit/", "tests/integration/", "tests/e2e/"]),
  ],
  cwd: root,
  env: { NO_COLOR: "1" },
  stdout: "piped",
  stderr: "inherit",
}).spawn();

// Pass the output through and keep the summary line: "ok | 12 passed (30 steps) | 0 failed".
let summary = "";
let buffer = "";
const encoder = new TextEncoder();
for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
  await Deno.stdout.write(encoder.encode(chunk));
  buffer += chunk;
  const lines = buffer.split("\n");
  buffer = lines.pop()!;
  for (const line of lines) if (/\d+ passed.*\d+ failed/.test(line)) summary = line;
}
const status = await child.status;
const passed = Number(/(\d+) passed/.exec(summary)?.[1] ?? 0);
// A run that never reached its summary (crash, type error) counts as one failure.
const failed = Number(/(\d+) failed/.exec(summary)?.[1] ?? (status.success ? 0 : 1));
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(status.code);
