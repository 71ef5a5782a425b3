/**
 * Reads a dotenv file (`KEY=value` lines, `#` comments, optional quotes), the format of
 * `compose/.env` that Docker Compose and the native mode share.
 *
 * @example
 * ```ts
 * const env = parseEnvFile("KAFKA_PORT=9092\n# comment\n");
 * env.KAFKA_PORT; // "9092"
 * ```
 * @module
 */

/** Parses dotenv text; throws on a line that is neither blank, a comment nor `KEY=value`. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split("\n").forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(trimmed);
    if (!match) throw new Error(`line ${index + 1}: expected KEY=value`);
    let value = match[2].trim();
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    out[match[1]] = value;
  });
  return out;
}

/** `compose/.env` of this checkout, with the process env taking precedence. */
export function loadComposeEnv(root = new URL("../", import.meta.url)): Record<string, string> {
  const file = parseEnvFile(Deno.readTextFileSync(new URL("compose/.env", root)));
  const merged: Record<string, string> = { ...file };
  for (const key of Object.keys(file)) {
    const fromProcess = Deno.env.get(key);
    if (fromProcess !== undefined) merged[key] = fromProcess;
  }
  return merged;
}
