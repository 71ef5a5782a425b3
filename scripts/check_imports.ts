/**
 * `deno task check` step: no import cycle among the project's own modules, and the layers import
 * one way — `lib/runtime/` imports neither connectors nor market, `lib/connectors/` imports the
 * runtime but not market, `lib/market/` imports nothing of ours outside itself, and
 * `lib/pipeline/` (where market meets connectors: the record format) may import all three. Reads the module
 * graph of every worker, script and test from `deno info --json` (static, type-only and dynamic
 * imports alike: a dynamic import is still a dependency) and prints each cycle and each import
 * against the layers; exit 1 if any. kafkajs is loaded only by `lib/connectors/kafka/kafkajs.ts`,
 * which replaces its record-batch decoder first: any other module loading it is refused too.
 *
 *   deno run --allow-run --allow-read --allow-write scripts/check_imports.ts
 *
 * @module
 */
const root = new URL("../", import.meta.url);

/** Files of `dir` (relative to the repository) ending in `.ts`, recursively. */
async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(new URL(dir, root))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) out.push(...await tsFiles(`${path}/`));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

interface Info {
  modules: {
    specifier: string;
    dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
  }[];
}

/** Local module → the local modules it imports. */
export function localGraph(info: Info, base: string): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const local = (s?: string) => s?.startsWith(base) && !s.includes("/node_modules/");
  for (const m of info.modules) {
    if (!local(m.specifier)) continue;
    const deps = new Set<string>();
    for (const d of m.dependencies ?? []) {
      for (const target of [d.code?.specifier, d.type?.specifier]) {
        if (local(target)) deps.add(target!.slice(base.length));
      }
    }
    graph.set(m.specifier.slice(base.length), deps);
  }
  return graph;
}

/** The strongly connected components with more than one module (or a self-import): cycles. */
export function cycles(graph: Map<string, Set<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v)) found.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** Local modules that load `pkg` (from npm) at run time: a type-only import does not count. */
export function loadersOf(info: Info, base: string, pkg: string): string[] {
  const npm = `npm:${pkg}@`;
  return info.modules
    .filter((m) => m.specifier.startsWith(base) && !m.specifier.includes("/node_modules/"))
    .filter((m) => m.dependencies?.some((d) => d.code?.specifier.startsWith(npm)))
    .map((m) => m.specifier.slice(base.length))
    .sort();
}

/** What each layer of `lib/` may import from `lib/` (besides itself). */
const layers: [string, string[]][] = [
  ["lib/runtime/", []],
  ["lib/connectors/", ["lib/runtime/"]],
  ["lib/market/", []],
  ["lib/pipeline/", ["lib/runtime/", "lib/connectors/", "lib/market/"]],
];

/** Imports that point against the layers: `[from, to]`. */
export function layerViolations(graph: Map<string, Set<string>>): [string, string][] {
  const found: [string, string][] = [];
  for (const [from, deps] of graph) {
    const layer = layers.find(([dir]) => from.startsWith(dir));
    if (!layer) continue;
    const [dir, allowed] = layer;
    for (const to of deps) {
      if (!to.startsWith("lib/") || to.startsWith(dir)) continue;
      if (!allowed.some((a) => to.startsWith(a))) found.push([from, to]);
    }
  }
  return found.sort();
}

if (import.meta.main) {
  const entries = [
    ...await tsFiles("workers/"),
    ...await tsFiles("scripts/"),
    ...await tsFiles("tests/"),
    ...await tsFiles("lib/"),
  ];
  // `deno info` takes one module: one that imports them all.
  const all = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    all,
    entries.map((e) => `import ${JSON.stringify(new URL(e, root).href)};`).join("\n"),
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", all],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  await Deno.remove(all);
  if (!out.success) Deno.exit(1);
  const info: Info = JSON.parse(new TextDecoder().decode(out.stdout));
  const graph = localGraph(info, root.href);
  const found = cycles(graph);
  for (const cycle of found) console.error(`import cycle: ${cycle.join(" ↔ ")}`);
  const against = layerViolations(graph);
  for (const [from, to] of against) console.error(`import against the layers: ${from} → ${to}`);
  const kafkajsLoaders = loadersOf(info, root.href, "kafkajs")
    .filter((m) => m !== "lib/connectors/kafka/kafkajs.ts");
  for (const m of kafkajsLoaders) {
    console.error(`${m} loads kafkajs itself: import it from lib/connectors/kafka/kafkajs.ts`);
  }
  console.log(
    `${graph.size} modules, ${found.length} import cycles, ${against.length} imports against the layers, ${kafkajsLoaders.length} other kafkajs loaders`,
  );
  Deno.exit(found.length + against.length + kafkajsLoaders.length > 0 ? 1 : 0);
}
