/**
 * kafkajs' own modules: reading one of them, and putting a module of ours in place of one before
 * kafkajs loads (kafkajs captures each module it requires when it loads).
 *
 * @example
 * ```ts
 * import { kafkajsModule } from "./kafkajs_modules.ts";
 * const { Types } = kafkajsModule("protocol/message/compression/index.js") as {
 *   Types: Record<string, number>;
 * };
 * console.log(Types.GZIP); // 1
 * ```
 * @module
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** The file of kafkajs' module at `path` under its `src/`. */
export const kafkajsFile = (path: string): string => require.resolve(`kafkajs/src/${path}`);

const loaded = new Map<string, unknown>();

/**
 * kafkajs' module at `path` under its `src/` (ours where ours replaced it), resolved once: each
 * resolution asks the file system for real paths, and the produce path wants the encoder for
 * every record batch (1–2% of a transform's CPU).
 */
export function kafkajsModule(path: string): unknown {
  if (!loaded.has(path)) loaded.set(path, require(kafkajsFile(path)));
  return loaded.get(path);
}

/**
 * Makes `exports` what kafkajs gets when it requires its module at `path`. Throws when kafkajs is
 * already loaded: it would keep its own module, silently.
 */
export function replaceKafkajsModule(path: string, exports: unknown, what: string): void {
  const file = kafkajsFile(path);
  const cache = require.cache as Record<string, { exports: unknown } | undefined>;
  if (cache[file]?.exports === exports) return;
  if (cache[kafkajsFile("index.js")] || cache[file]) {
    throw new Error(
      `kafkajs was loaded before its ${what} was installed: import kafkajs through lib/connectors/kafka/kafkajs.ts`,
    );
  }
  cache[file] = {
    id: file,
    filename: file,
    loaded: true,
    exports,
    children: [],
    paths: [],
  } as unknown as { exports: unknown };
}
