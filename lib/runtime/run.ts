/**
 * Runs a worker as a process: parses its options (exit 2 and one line naming the option on a bad
 * value), then hands it to the {@link Runtime} and exits with its code.
 *
 * @example
 * ```ts
 * import { defineWorker, invoke } from "./define.ts";
 * const hello = defineWorker({
 *   name: "hello", description: "says hello", trigger: invoke(), outputs: {}, options: {},
 *   httpPort: 0, handle: async (_event, { log }) => log.info("hello"),
 * });
 * if (import.meta.main) await run(hello);
 * ```
 * @module
 */
import { parseCommandLine } from "./cli.ts";
import { ConfigError, helpText, resolveOptions, secretValues } from "./config.ts";
import type { AnyValues, Worker } from "./define.ts";
import { registerSecret } from "./log.ts";
import { allOptions } from "./options.ts";
import { exitCodes, Runtime } from "./runtime.ts";
import { parseSchedule, type Schedule } from "./schedule.ts";

export { exitCodes } from "./runtime.ts";

/** How an embedding (a test, another program) runs a worker in its own process. */
export interface Embedding {
  /** The environment options are read from (default: the process's). */
  env?: Record<string, string>;
  /** Aborting it stops the worker like SIGTERM does. */
  signal?: AbortSignal;
}

/** Runs `def` with the process's arguments, then exits with its code. */
export async function run(def: Worker, args: string[] = Deno.args): Promise<never> {
  const code = await runWorker(def, args);
  Deno.exit(code);
}

/** {@link run} without exiting: resolves to the exit code (for embedding and tests). */
export async function runWorker(
  def: Worker,
  args: string[],
  embedding: Embedding = {},
): Promise<number> {
  const specs = allOptions(def);
  const switches = Object.values(specs).filter((s) => s.isSwitch).map((s) =>
    s.env.toLowerCase().replaceAll("_", "-")
  );
  let options: AnyValues;
  let schedule: Schedule | undefined;
  try {
    const { flags } = parseCommandLine(args, [...switches, "help"]);
    if (flags.help) {
      console.log(helpText(`${def.name}: ${def.description}`, specs, helpFlags(def)));
      return exitCodes.ok;
    }
    options = resolveOptions(specs, { env: embedding.env ?? Deno.env.toObject(), flags });
    if (options.schedule) {
      try {
        schedule = parseSchedule(options.schedule, options.scheduleTz);
      } catch (error) {
        const which = /time zone/.test((error as Error).message) ? "SCHEDULE_TZ" : "SCHEDULE";
        throw new ConfigError(`${which}: ${(error as Error).message}`);
      }
      if (options.once) throw new ConfigError("ONCE and SCHEDULE cannot be used together");
    }
    if (options.serve && (options.once || options.schedule)) {
      throw new ConfigError(
        `SERVE and ${options.once ? "ONCE" : "SCHEDULE"} cannot be used together`,
      );
    }
  } catch (error) {
    console.error(`${def.name}: configuration error: ${(error as Error).message}`);
    return exitCodes.config;
  }
  for (const value of secretValues(specs, options)) registerSecret(value);
  return await new Runtime(def, options, schedule).start(embedding.signal);
}

function helpFlags(def: Worker): string[] {
  const lines = ["  --help                       print this and exit"];
  if (def.trigger.kind !== "http") {
    lines.push(
      "  (--once, --schedule and --serve select the run mode; default: run continuously)",
      "  --serve routes: POST /run[?max_records=N&until=ISO] → 200 JSON totals, 409 while a run",
      "  is going, 5xx problem+json when it failed; GET /lag (stream workers) → the group's lag",
    );
  }
  return lines;
}
