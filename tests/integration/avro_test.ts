/**
 * Avro in the Confluent wire format on the real schema registry (Apicurio, Confluent-compatible
 * API): the S&P 500 series through ingest → transform → sink with RECORD_FORMAT=avro stores the
 * same tables as JSON; Python's fastavro, with the schema fetched by id from the registry's REST
 * API, reads what ingest wrote as the CSV's rows; a v2 bar schema (an optional field with a
 * default) and v1 coexist on one topic, read by old and new sinks alike; an incompatible v3 is
 * refused at start (exit 2, the registry's reason on one line) before anything is written.
 */
import assert from "node:assert/strict";
import { readAvroSchema } from "../../lib/connectors/avro.ts";
import { readToEnd } from "../../lib/connectors/kafka/mod.ts";
import { schemaRegistry } from "../../lib/connectors/schema_registry.ts";
import { parseCsv } from "../../lib/market/mod.ts";
import {
  assertSameRows,
  drain,
  dumpElasticsearch,
  dumpPostgres,
  ingestCsv,
  type PipelineEnv,
  pipelineEnv,
  type Row,
} from "../support/pipeline.ts";
import {
  freshDatabase,
  kafka,
  registryUrl,
  requireServer,
  root,
  uniqueName,
} from "../support/servers.ts";
import { runToEnd, taskArgs } from "../support/workers.ts";

const csv = `${root}node_modules/vega-datasets/data/sp500-2000.csv`;
const avro = { RECORD_FORMAT: "avro", SCHEMA_REGISTRY_URL: registryUrl };
const v2 = { ...avro, AVRO_SCHEMAS: "tests/fixtures/avro-v2" };
const v3 = { ...avro, AVRO_SCHEMAS: "tests/fixtures/avro-v3" };

async function registry(path: string) {
  const res = await fetch(`${registryUrl}${path}`);
  return { status: res.status, body: await res.json() };
}

/** ingest → transform → sink, each to its end, with `extra` settings. */
async function pipeline(p: PipelineEnv, extra: Record<string, string>): Promise<Row[]> {
  await ingestCsv(p, extra);
  await drain("transform", p, { ...extra, CONSUMER_GROUP: `${p.index}-transform` });
  await drain("sink", p, { ...extra, CONSUMER_GROUP: `${p.index}-sink` });
  return await dumpPostgres(p.db.pool);
}

/** A fastavro venv (pinned), made once. */
async function fastavro(): Promise<string> {
  const venv = `${root}.native/avro-venv`;
  const python = `${venv}/bin/python`;
  let ok = false;
  try {
    ok = (await new Deno.Command(python, { args: ["-c", "import fastavro"] }).output()).success;
  } catch { /* no venv yet */ }
  if (!ok) {
    for (
      const [cmd, args] of [
        ["python3", ["-m", "venv", venv]],
        [`${venv}/bin/pip`, ["install", "-q", "fastavro==1.13.1"]],
      ] as const
    ) {
      const out = await new Deno.Command(cmd, { args: [...args] }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
    }
  }
  return python;
}

// Reads base64 Confluent-framed records, one a line, from a file; fetches each writer schema by id from the
// registry's REST API (once) and decodes with fastavro; prints one JSON object per record.
const interop = `
import base64, io, json, struct, sys, urllib.request
import fastavro
url, path = sys.argv[1], sys.argv[2]
schemas = {}
for line in open(path):
    raw = base64.b64decode(line)
    magic, schema_id = struct.unpack(">bI", raw[:5])
    assert magic == 0, magic
    if schema_id not in schemas:
        with urllib.request.urlopen(f"{url}/schemas/ids/{schema_id}") as r:
            schemas[schema_id] = fastavro.parse_schema(json.loads(json.load(r)["schema"]))
    record = fastavro.schemaless_reader(io.BytesIO(raw[5:]), schemas[schema_id])
    print(json.dumps(record, default=str))
`;

Deno.test("Avro with the schema registry: same stores as JSON, fastavro interop, v1/v2 coexist, v3 refused", async (t) => {
  await requireServer("kafka");
  await requireServer("postgres");
  await requireServer("elasticsearch");
  await requireServer("schema-registry");
  const json = await pipelineEnv(3);
  const a = await pipelineEnv(3);
  const cleanups = [json.cleanup, a.cleanup];
  try {
    const expected = await pipeline(json, {});
    assert.ok(expected.length > 6000, `${expected.length} bars`);

    await t.step("the S&P 500 series as Avro: both stores equal the JSON run's", async () => {
      const stored = await pipeline(a, avro);
      assertSameRows(stored, expected, "PostgreSQL");
      assertSameRows(await dumpElasticsearch(a.index), expected, "Elasticsearch");
      for (const topic of [a.topics.ticks, a.topics.bars]) {
        const subject = `${topic}-value`;
        const config = await registry(`/config/${subject}`);
        assert.equal(
          config.body.compatibilityLevel,
          "BACKWARD",
          `${subject}: ${JSON.stringify(config.body)}`,
        );
        const versions = await registry(`/subjects/${subject}/versions`);
        assert.deepEqual(versions.body, [1], subject);
      }
      const size = async (topic: string) => {
        const records = await readToEnd(kafka, topic);
        return records.reduce((n, r) => n + (r.value?.byteLength ?? 0), 0) / records.length;
      };
      const bytes = {
        ticks: [await size(json.topics.ticks), await size(a.topics.ticks)],
        bars: [await size(json.topics.bars), await size(a.topics.bars)],
      };
      console.log(
        `bytes a record, JSON → Avro: source bars ${
          bytes.ticks.map((b) => b.toFixed(1)).join(" → ")
        }, ` +
          `bars ${bytes.bars.map((b) => b.toFixed(1)).join(" → ")}`,
      );
      assert.ok(bytes.ticks[1] < bytes.ticks[0] && bytes.bars[1] < bytes.bars[0]);
    });

    await t.step(
      "fastavro, with the schema fetched by id over REST, reads ingest's records as the CSV's rows",
      async () => {
        const python = await fastavro();
        const records = await readToEnd(kafka, a.topics.ticks);
        const input = await Deno.makeTempFile({ suffix: ".b64" });
        await Deno.writeTextFile(
          input,
          records.map((r) => btoa(String.fromCharCode(...r.value!))).join("\n") + "\n",
        );
        const out = await new Deno.Command(python, { args: ["-c", interop, registryUrl, input] })
          .output();
        await Deno.remove(input);
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
        const decoded = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) =>
          JSON.parse(l)
        );
        const rows = parseCsv(Deno.readTextFileSync(csv), "SP500").bars;
        console.log(
          `fastavro decoded ${decoded.length} records; first: ${JSON.stringify(decoded[0])}`,
        );
        assert.equal(decoded.length, rows.length);
        const key = (
          r: { ts: number; open: number; high: number; low: number; close: number; volume: number },
        ) => [r.ts, r.open, r.high, r.low, r.close, r.volume].join("|");
        const got = decoded.map((d) => key({ ...d, ts: Date.parse(d.ts.replace(" ", "T")) }));
        assert.deepEqual(got.sort(), rows.map(key).sort());
        assert.ok(decoded.every((d) => d.symbol === "SP500" && d.interval === "1d"));
      },
    );

    await t.step(
      "v2 (an optional field with a default) and v1 on one topic: old and new sinks store the same",
      async () => {
        const bars = `${a.topics.bars}-evolving`;
        const write = async (schemas: Record<string, string>, group: string) =>
          await drain("transform", a, {
            ...schemas,
            BARS_TOPIC: bars,
            TRANSFORM_STATE_TOPIC: `${bars}.${group}`,
            CONSUMER_GROUP: `${bars}-${group}`,
          });
        await write(avro, "v1");
        await write(v2, "v2");
        const versions = await registry(`/subjects/${bars}-value/versions`);
        assert.deepEqual(versions.body, [1, 2], "v2 registered after v1 (BACKWARD)");
        const ids = new Set(
          (await readToEnd(kafka, bars)).map((r) =>
            new DataView(r.value!.buffer, r.value!.byteOffset).getUint32(1)
          ),
        );
        assert.equal(ids.size, 2, "records of both writer schemas on the topic");
        for (const [name, schemas] of [["old (v1) sink", avro], ["new (v2) sink", v2]] as const) {
          const db = await freshDatabase();
          cleanups.push(db.drop);
          const index = `${a.index}-${name.slice(0, 3)}`;
          await runToEnd(taskArgs("sink"), ["--once"], {
            ...a.env,
            ...schemas,
            BARS_TOPIC: bars,
            POSTGRES_URL: db.url,
            ELASTICSEARCH_INDEX: index,
            CONSUMER_GROUP: `${bars}-${name.slice(0, 3)}-sink`,
          });
          assert.deepEqual(await dumpPostgres(db.pool), expected, name);
          assert.deepEqual(await dumpElasticsearch(index), expected, name);
        }
      },
    );

    await t.step(
      "an incompatible v3 is refused at start: exit 2, the registry's reason, nothing written",
      async () => {
        const bars = `${a.topics.bars}-evolving`;
        const before = (await readToEnd(kafka, bars)).length;
        const w = await runToEnd(taskArgs("transform"), ["--once"], {
          ...a.env,
          ...v3,
          BARS_TOPIC: bars,
          TRANSFORM_STATE_TOPIC: `${bars}.v3`,
          CONSUMER_GROUP: `${bars}-v3`,
        }, 2);
        const line = w.lines.find((l) => l.startsWith("transform: configuration error:"));
        console.log(line);
        assert.ok(line, w.lines.slice(-5).join("\n"));
        assert.match(line, /schema registry refused the schema for .*-evolving-value/);
        // The registry's reason: the type change and the field without a default.
        assert.match(line, /close|fields\/6/);
        assert.match(line, /exchange/);
        assert.equal((await readToEnd(kafka, bars)).length, before, "nothing produced");
        const versions = await registry(`/subjects/${bars}-value/versions`);
        assert.deepEqual(versions.body, [1, 2]);
      },
    );
  } finally {
    for (const c of cleanups) await c().catch(() => {});
  }
});

Deno.test("replicas registering a new subject at once all start: the registry's 409 on the compatibility rule is a race, not a refusal", async () => {
  await requireServer("schema-registry");
  const client = schemaRegistry(registryUrl);
  const schema = readAvroSchema(`${root}schemas`, "bar");
  // Six replicas at once, ten times over (each time a subject nobody registered): before, about
  // half of them were refused with "A rule named 'COMPATIBILITY' already exists".
  for (let round = 0; round < 10; round++) {
    const subject = `${uniqueName("race")}-value`;
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => client.register(subject, schema, "BACKWARD")),
    );
    const refused = results.flatMap((r) => r.status === "rejected" ? [String(r.reason)] : []);
    assert.deepEqual(refused, [], `round ${round}`);
    const ids = new Set(results.map((r) => (r as PromiseFulfilledResult<number>).value));
    assert.equal(ids.size, 1, `one id for one schema, got ${[...ids]}`);
    const versions = await registry(`/subjects/${subject}/versions`);
    assert.deepEqual(versions.body, [1]);
  }
});
