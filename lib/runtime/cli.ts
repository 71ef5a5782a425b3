/**
 * Command-line parsing, kept in this one module so that a later switch to `@std/cli` (not
 * reachable from our machines today) touches nothing else.
 *
 * @example
 * ```ts
 * const { flags, positionals } = parseCommandLine(["--once", "--batch-size", "10"], ["once"]);
 * // flags: { once: "true", "batch-size": "10" }
 * ```
 * @module
 */
import { parseArgs } from "node:util";

/** Flags as raw strings (booleans become `"true"`), plus the positional arguments. */
export interface CommandLine {
  flags: Record<string, string>;
  positionals: string[];
}

/**
 * Parses `--name value`, `--name=value` and bare boolean flags.
 * Unknown flags are kept, so the caller can name them in its own error message.
 */
export function parseCommandLine(args: string[], booleanFlags: string[]): CommandLine {
  const options: Record<string, { type: "boolean" | "string" }> = {};
  for (const name of booleanFlags) options[name] = { type: "boolean" };
  // Every flag that is not declared boolean takes a value; declaring them up front is what
  // makes parseArgs accept `--name value` (it otherwise treats unknown flags as booleans).
  for (const arg of args) {
    const match = /^--([a-z0-9][a-z0-9-]*)/.exec(arg);
    if (match && !options[match[1]]) options[match[1]] = { type: "string" };
  }
  const { values, positionals } = parseArgs({
    args,
    options,
    allowPositionals: true,
    strict: true,
  });
  const flags: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) flags[name] = String(value);
  }
  return { flags, positionals };
}
