/**
 * kafkajs' modules as kafkajs ships them, even where ours replace them in the process (the
 * record-batch decoder and encoder): what our replacements are compared with.
 *
 * @module
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** kafkajs' own module at `path` under its `src/`, loaded from its file past ours. */
export function kafkajsOwn(path: string): unknown {
  const file = require.resolve(`kafkajs/src/${path}`);
  const cache = require.cache as Record<string, unknown>;
  const installed = cache[file];
  delete cache[file];
  try {
    return require(file);
  } finally {
    if (installed) cache[file] = installed;
    else delete cache[file];
  }
}
