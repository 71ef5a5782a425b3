import assert from "node:assert/strict";
import { cycles, layerViolations, loadersOf, localGraph } from "../../scripts/check_imports.ts";

Deno.test("import check: finds cycles of any length and ignores npm and node modules", () => {
  const base = "file:///repo/";
  const mod = (name: string, ...deps: string[]) => ({
    specifier: `${base}${name}`,
    dependencies: deps.map((d) => ({ code: { specifier: d.includes(":") ? d : `${base}${d}` } })),
  });
  const graph = localGraph({
    modules: [
      mod("a.ts", "b.ts", "npm:kafkajs@2.2.4"),
      mod("b.ts", "c.ts"),
      mod("c.ts", "a.ts"),
      mod("d.ts", "a.ts", "node:buffer"),
      mod("e.ts", "e.ts"),
      { specifier: "npm:kafkajs@2.2.4" },
    ],
  }, base);
  assert.deepEqual(cycles(graph), [["a.ts", "b.ts", "c.ts"], ["e.ts"]]);
  assert.deepEqual(cycles(localGraph({ modules: [mod("x.ts", "y.ts"), mod("y.ts")] }, base)), []);
});

Deno.test("import check: the runtime, connectors and market layers import one way", () => {
  const graph = new Map<string, Set<string>>([
    ["lib/runtime/run.ts", new Set(["lib/runtime/define.ts"])],
    ["lib/runtime/bad.ts", new Set(["lib/connectors/kafka/mod.ts", "lib/market/bars.ts"])],
    ["lib/connectors/postgres.ts", new Set(["lib/runtime/define.ts", "lib/market/tables.ts"])],
    ["lib/connectors/kafka/output.ts", new Set(["lib/connectors/kafka/client.ts"])],
    ["lib/market/record.ts", new Set(["lib/market/time.ts", "lib/runtime/record_error.ts"])],
    ["workers/sink.ts", new Set(["lib/market/mod.ts", "lib/connectors/postgres.ts"])],
  ]);
  assert.deepEqual(layerViolations(graph), [
    ["lib/connectors/postgres.ts", "lib/market/tables.ts"],
    ["lib/market/record.ts", "lib/runtime/record_error.ts"],
    ["lib/runtime/bad.ts", "lib/connectors/kafka/mod.ts"],
    ["lib/runtime/bad.ts", "lib/market/bars.ts"],
  ]);
});

Deno.test("import check: finds the modules that load an npm package, not those that only name its types", () => {
  const base = "file:///repo/";
  const info = {
    modules: [
      {
        specifier: `${base}lib/a.ts`,
        dependencies: [{ code: { specifier: "npm:kafkajs@2.2.4" } }],
      },
      {
        specifier: `${base}lib/types_only.ts`,
        dependencies: [{ type: { specifier: "npm:kafkajs@2.2.4" } }],
      },
      {
        specifier: `${base}lib/other.ts`,
        dependencies: [{ code: { specifier: "npm:kafkajsx@1.0.0" } }],
      },
      {
        specifier: "npm:kafkajs@2.2.4",
        dependencies: [{ code: { specifier: "npm:kafkajs@2.2.4" } }],
      },
    ],
  };
  assert.deepEqual(loadersOf(info, base, "kafkajs"), ["lib/a.ts"]);
});
