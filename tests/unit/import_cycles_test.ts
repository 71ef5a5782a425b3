import assert from "node:assert/strict";
import { cycles, localGraph } from "../../scripts/check_imports.ts";

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
