/**
 * Worker configuration: each option is data (env name, default, help, parser), read from env
 * vars and overridden by flags, validated before anything connects.
 *
 * A flag's name is its env name in kebab case: `BATCH_SIZE` is `--batch-size`. Secrets come from
 * `NAME` or from the file named by `NAME_FILE` (the Docker secrets convention).
 *
 * @example
 * ```ts
 * const spec = { batchSize: int("BATCH_SIZE", "records per batch", 500, { min: 1 }) };
 * const values = resolveOptions(spec, { env: Deno.env.toObject(), flags: {} });
 * values.batchSize; // 500
 * ```
 * @module
 */
import { NonRetriableError } from "./non_retriable_error.ts";

/**
 * A bad or missing option, or a setting a server refused (an incompatible schema): its message is
 * one line that names it; the exit code is 2, and it is never retried.
 */
export class ConfigError extends NonRetriableError {
  override name = "ConfigError";
}

/** How one option is read. `T` is the parsed type the worker sees. */
export interface OptionSpec<T> {
  env: string;
  help: string;
  /** The raw default, as it would be written in env; absent means required. */
  default?: string;
  /** Secret values may come from `${env}_FILE` and are never printed. */
  secret?: boolean;
  /** For secrets: a file read when neither `NAME` nor `NAME_FILE` is set and it exists. */
  defaultFile?: string;
  /** A flag that takes no value (`--once` rather than `--once true`). */
  isSwitch?: boolean;
  parse(raw: string): T;
}

/** A set of named options. */
// deno-lint-ignore no-explicit-any
export type OptionSpecs = Record<string, OptionSpec<any>>;

/** The parsed values of a set of options. */
export type OptionValues<S extends OptionSpecs> = {
  [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never;
};

/** A string option. */
export function str(env: string, help: string, fallback?: string): OptionSpec<string> {
  return { env, help, default: fallback, parse: (raw) => raw };
}

/**
 * A secret: `NAME` or `NAME_FILE`, else `defaultFile` if it exists (the native mode's generated
 * password); empty means "not set".
 */
export function secret(env: string, help: string, defaultFile?: string): OptionSpec<string> {
  return { env, help, default: "", secret: true, defaultFile, parse: (raw) => raw };
}

type Bounds = { min?: number; max?: number };

/** `value` if it lies within `bounds`; otherwise an Error saying which bound it crosses. */
function within(value: number, bounds: Bounds): number {
  if (bounds.min !== undefined && value < bounds.min) {
    throw new Error(`must be at least ${bounds.min}, got ${value}`);
  }
  if (bounds.max !== undefined && value > bounds.max) {
    throw new Error(`must be at most ${bounds.max}, got ${value}`);
  }
  return value;
}

/** An integer option with optional bounds. */
export function int(
  env: string,
  help: string,
  fallback?: number,
  bounds: Bounds = {},
): OptionSpec<number> {
  return {
    env,
    help,
    default: fallback === undefined ? undefined : String(fallback),
    parse(raw) {
      if (!/^-?\d+$/.test(raw.trim())) throw new Error(`expected an integer, got "${raw}"`);
      return within(Number(raw), bounds);
    },
  };
}

/** A finite number option. */
export function num(
  env: string,
  help: string,
  fallback?: number,
  bounds: Bounds = {},
): OptionSpec<number> {
  return {
    env,
    help,
    default: fallback === undefined ? undefined : String(fallback),
    parse(raw) {
      const value = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(value)) {
        throw new Error(`expected a number, got "${raw}"`);
      }
      return within(value, bounds);
    },
  };
}

/** A boolean option: true/false, 1/0, yes/no. */
export function bool(env: string, help: string, fallback = false): OptionSpec<boolean> {
  return {
    env,
    help,
    default: String(fallback),
    isSwitch: true,
    parse(raw) {
      const value = raw.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(value)) return true;
      if (["false", "0", "no", "off", ""].includes(value)) return false;
      throw new Error(`expected true or false, got "${raw}"`);
    },
  };
}

/** One of a fixed set of words. */
export function oneOf<const W extends string>(
  env: string,
  help: string,
  words: readonly W[],
  fallback?: W,
): OptionSpec<W> {
  return {
    env,
    help: `${help} (${words.join(" | ")})`,
    default: fallback,
    parse(raw) {
      if (!(words as readonly string[]).includes(raw)) {
        throw new Error(`expected one of ${words.join(", ")}, got "${raw}"`);
      }
      return raw as W;
    },
  };
}

/** A comma-separated list, each item checked by `item` (which throws on a bad one). */
export function list<T>(
  env: string,
  help: string,
  fallback: string,
  item: (raw: string) => T,
): OptionSpec<T[]> {
  return {
    env,
    help,
    default: fallback,
    parse: (raw) => raw.split(",").map((s) => s.trim()).filter((s) => s !== "").map(item),
  };
}

/** Kafka topic and Elasticsearch index names: an allow-list, so no name can smuggle syntax. */
export function name(env: string, help: string, fallback: string): OptionSpec<string> {
  return {
    env,
    help,
    default: fallback,
    parse(raw) {
      if (!/^[a-z0-9][a-z0-9._-]{0,199}$/.test(raw)) {
        throw new Error(`"${raw}" is not a valid name (lowercase letters, digits, . _ -)`);
      }
      return raw;
    },
  };
}

/** The flag that sets an option: `BATCH_SIZE` → `batch-size`. */
export function flagName(env: string): string {
  return env.toLowerCase().replaceAll("_", "-");
}

/** Where raw values come from. `readFile` reads `*_FILE` secrets (injectable for tests). */
export interface ConfigSources {
  env: Record<string, string | undefined>;
  flags: Record<string, string>;
  readFile?: (path: string) => string;
}

/**
 * Resolves every option: flag, else env, else `NAME_FILE` for secrets, else default.
 * Throws {@link ConfigError} naming the first bad or missing option.
 */
export function resolveOptions<S extends OptionSpecs>(
  specs: S,
  sources: ConfigSources,
): OptionValues<S> {
  const readFile = sources.readFile ?? ((path: string) => Deno.readTextFileSync(path));
  const known = new Set(Object.values(specs).map((spec) => flagName(spec.env)));
  for (const flag of Object.keys(sources.flags)) {
    if (!known.has(flag)) throw new ConfigError(`unknown option --${flag} (see --help)`);
  }
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const flag = flagName(spec.env);
    let raw: string | undefined = sources.flags[flag] ?? sources.env[spec.env];
    let origin = sources.flags[flag] !== undefined ? `--${flag}` : spec.env;
    let file = sources.env[`${spec.env}_FILE`];
    if (raw === undefined && spec.secret && !file && spec.defaultFile) {
      try {
        Deno.statSync(spec.defaultFile);
        file = spec.defaultFile;
      } catch { /* no native secret: the option stays unset */ }
    }
    if (raw === undefined && spec.secret && file) {
      origin = `${spec.env}_FILE`;
      try {
        raw = readFile(file).trim();
      } catch (error) {
        const why = error instanceof Deno.errors.NotFound
          ? "no such file"
          : error instanceof Deno.errors.NotCapable
          ? "is outside the paths this worker may read (--allow-read)"
          : "cannot be read";
        throw new ConfigError(`${origin}: ${file} ${why}`);
      }
    }
    raw ??= spec.default;
    if (raw === undefined) {
      throw new ConfigError(`${spec.env} is required (or --${flag}): ${spec.help}`);
    }
    try {
      values[key] = spec.parse(raw);
    } catch (error) {
      // A secret's value is never echoed back, even when it is malformed.
      const detail = spec.secret ? "invalid value" : (error as Error).message;
      throw new ConfigError(`${origin}: ${detail}`);
    }
  }
  return values as OptionValues<S>;
}

/** The values of every secret option, so logs can redact them. */
export function secretValues(specs: OptionSpecs, values: Record<string, unknown>): string[] {
  return Object.entries(specs)
    .filter(([key, spec]) => spec.secret && typeof values[key] === "string" && values[key] !== "")
    .map(([key]) => values[key] as string);
}

/** `--help` text: every option with its flag, env name and default. */
export function helpText(title: string, specs: OptionSpecs, extraFlags: string[]): string {
  const rows = Object.values(specs).map((spec) => {
    const fallback = spec.secret
      ? `(or ${spec.env}_FILE)`
      : spec.default === undefined
      ? "(required)"
      : `[default: ${spec.default === "" ? '""' : spec.default}]`;
    return `  --${flagName(spec.env).padEnd(26)} ${spec.env.padEnd(28)} ${spec.help} ${fallback}`;
  });
  return [title, "", "Options (flag, env var, meaning):", ...extraFlags, ...rows, ""].join("\n");
}
