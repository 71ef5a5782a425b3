/**
 * Reads a dotenv file the way Docker Compose does (`KEY=value` and `export KEY=value` lines, `#`
 * comments on their own line or after an unquoted value, single and double quotes), the format of
 * `compose/.env` that Compose and the native mode share.
 *
 * @example
 * ```ts
 * const env = parseEnvFile("KAFKA_PORT=9092\n# comment\n");
 * env.KAFKA_PORT; // "9092"
 * ```
 * @module
 */

/**
 * One value as Compose reads it: `'single'` is literal, `"double"` takes `\n`, `\"` and `\\`
 * escapes, and an unquoted value ends where ` #` starts a comment.
 */
function envValue(raw: string): string | undefined {
  const text = raw.trim();
  const quote = text[0];
  if (quote === "'" || quote === '"') {
    let out = "";
    for (let i = 1; i < text.length; i++) {
      const c = text[i];
      if (c === quote) {
        const rest = text.slice(i + 1).trim();
        return rest === "" || rest.startsWith("#") ? out : undefined;
      }
      if (quote === '"' && c === "\\" && i + 1 < text.length) {
        const next = text[++i];
        out += next === "n" ? "\n" : next === "t" ? "\t" : next;
      } else {
        out += c;
      }
    }
    return undefined; // no closing quote
  }
  return text.replace(/(^|\s+)#.*$/, "").trim();
}

/** Parses dotenv text; throws on a line that is neither blank, a comment nor `KEY=value`. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split("\n").forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(trimmed);
    const value = match ? envValue(match[2]) : undefined;
    if (!match || value === undefined) {
      throw new Error(`line ${index + 1}: expected KEY=value (quotes closed)`);
    }
    out[match[1]] = value;
  });
  return out;
}

/** `compose/.env` of this checkout, with the process env taking precedence. */
export function loadComposeEnv(root = new URL("../../", import.meta.url)): Record<string, string> {
  const file = parseEnvFile(Deno.readTextFileSync(new URL("compose/.env", root)));
  const merged: Record<string, string> = { ...file };
  for (const key of Object.keys(file)) {
    const fromProcess = Deno.env.get(key);
    if (fromProcess !== undefined) merged[key] = fromProcess;
  }
  return merged;
}
