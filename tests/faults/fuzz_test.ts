/**
 * 10,000 malformed or hostile records each into transform and into sink, between valid ones:
 * no crash, every bad record in the dead-letter topic with a reason, every valid neighbour stored.
 */
import assert from "node:assert/strict";
import { parseCsv } from "../../lib/market/csv.ts";
import { buildBars } from "../../lib/market/bars.ts";
import { defaultPeriods } from "../../lib/market/indicators.ts";
import { encodeBar, encodeSourceBar } from "../../lib/market/record.ts";
import { seededRandom } from "../../lib/market/synthetic.ts";
import { avroWire } from "../../lib/market/wire_format.ts";
import { AvroSubject, readAvroSchema } from "../../lib/connectors/avro.ts";
import { schemaRegistry } from "../../lib/connectors/schema_registry.ts";
import { drain, groups, pipelineEnv } from "../support/pipeline.ts";
import {
  createTopics,
  produce,
  type ProducedRecord,
  readAll,
  registryUrl,
  requireServer,
  root,
} from "../support/servers.ts";

const HOSTILE = 10_000;
const VALID = 300;
const sp500 = parseCsv(
  Deno.readTextFileSync(`${root}node_modules/vega-datasets/data/sp500-2000.csv`),
  "SP500",
)
  .bars.slice(0, VALID);

/** One hostile record of many kinds, built from a valid template so each breaks one rule. */
function hostile(
  random: () => number,
  template: { key: string; value: string; headers: Record<string, string> },
): ProducedRecord {
  const good = JSON.parse(template.value);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  const field = pick(Object.keys(good).filter((k) => k !== "symbol"));
  const kinds: (() => ProducedRecord)[] = [
    () => ({
      ...template,
      value: JSON.stringify({ ...good, [field]: pick(["12", true, [], {}, "NaN"]) }),
    }),
    () => {
      const copy = { ...good };
      delete copy[field];
      return { ...template, value: JSON.stringify(copy) };
    },
    () => ({ ...template, value: template.value.replace(/("close":)[^,}]+/, "$1NaN") }),
    () => ({ ...template, value: template.value.replace(/("open":)[^,}]+/, "$1Infinity") }),
    () => ({ ...template, value: template.value.replace(/("high":)[^,}]+/, "$11e999") }),
    () => ({ ...template, value: JSON.stringify({ ...good, volume: -1e308 }) }),
    () => ({ ...template, value: JSON.stringify({ ...good, symbol: "S".repeat(70_000) }) }),
    () => ({ ...template, value: JSON.stringify({ ...good, symbol: "X'; drop table bars; --" }) }),
    () => ({
      ...template,
      value: new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0xff, 0xfe, 0x22, 0x7d]),
    }),
    () => ({ ...template, value: "[".repeat(20_000) + "]".repeat(20_000) }),
    () => ({ ...template, value: '{"a":'.repeat(5000) + "1" + "}".repeat(5000) }),
    () => ({
      ...template,
      value: JSON.stringify({ __proto__: { symbol: "SP500" }, constructor: { prototype: {} } }),
    }),
    () => ({ ...template, headers: {} }),
    () => ({
      ...template,
      headers: { ...template.headers, "schema-version": pick(["2", "", "1.0", "\u0000"]) },
    }),
    () => ({
      ...template,
      headers: { ...template.headers, "record-type": pick(["quote", "", "BAR"]) },
    }),
    () => ({ ...template, key: pick(["AAPL", "", "sp500"]) }),
    () => ({ ...template, value: null }),
    () => ({ ...template, value: "" }),
    () => ({
      ...template,
      value: JSON.stringify({
        ...good,
        [good.ts ? "ts" : "start"]: pick([
          "1800-01-01T00:00:00Z",
          "2020-13-45T00:00:00Z",
          "yesterday",
          946684800000,
        ]),
      }),
    }),
    () => ({ ...template, value: JSON.stringify({ ...good, low: good.high * 2 }) }),
    () => ({ ...template, value: JSON.stringify(pick([null, 42, "bar", []])) }),
  ];
  return pick(kinds)();
}

/** Valid records in order with `HOSTILE` hostile ones spread between them. */
function interleave(
  valid: ProducedRecord[],
  make: () => ProducedRecord,
  random: () => number,
): ProducedRecord[] {
  const slots = Array.from({ length: valid.length + 1 }, () => 0);
  for (let i = 0; i < HOSTILE; i++) slots[Math.floor(random() * slots.length)]++;
  const out: ProducedRecord[] = [];
  slots.forEach((n, i) => {
    for (let k = 0; k < n; k++) out.push(make());
    if (i < valid.length) out.push(valid[i]);
  });
  return out;
}

Deno.test("10,000 hostile records into transform and 10,000 into sink: each dead-lettered with a reason, valid neighbours stored", async (t) => {
  await requireServer("kafka");
  await requireServer("postgres");
  await requireServer("elasticsearch");
  const p = await pipelineEnv();
  try {
    await t.step("transform", async () => {
      const random = seededRandom(1);
      const valid = sp500.map((b) => encodeSourceBar(b));
      await produce(
        p.topics.ticks,
        interleave(valid, () => hostile(random, valid[Math.floor(random() * VALID)]), random),
      );
      await drain("transform", p, { ...groups("fuzz").transform, BATCH_SIZE: "1000" });
      const dlq = await readAll(p.topics.dlq);
      assert.equal(dlq.length, HOSTILE, "every hostile record, once");
      assert.ok(
        dlq.every((d) => d.headers["dlq.reason"] && d.headers["dlq.worker"] === "transform"),
      );
      const reasons = new Map<string, number>();
      for (const d of dlq) {
        reasons.set(d.headers["dlq.reason"], (reasons.get(d.headers["dlq.reason"]) ?? 0) + 1);
      }
      console.log(
        `transform dead letters by reason: ${JSON.stringify(Object.fromEntries(reasons))}`,
      );
      assert.ok(reasons.size >= 12, "many kinds of breakage were seen");
      const bars = await readAll(p.topics.bars);
      const daily = new Set(
        bars.map((b) => JSON.parse(b.value)).filter((b) => b.interval === "1d").map((b) => b.start),
      );
      assert.equal(daily.size, VALID, "every valid daily bar was built");
    });

    await t.step("sink", async () => {
      const random = seededRandom(2);
      const built = buildBars(new Map(), sp500.map((b) => ({ kind: "bar" as const, ...b })), {
        tickIntervals: [],
        barIntervals: ["1d"],
        periods: defaultPeriods,
      }).bars;
      const valid = built.map(encodeBar);
      const sinkDlq = `${p.topics.dlq}-sink`;
      const barsTopic = `${p.topics.bars}-fuzz`;
      await createTopics([barsTopic, sinkDlq]);
      const records = interleave(
        valid,
        () => hostile(random, valid[Math.floor(random() * valid.length)]),
        random,
      );
      await produce(barsTopic, records);
      await drain("sink", p, {
        ...groups("fuzz").sink,
        BARS_TOPIC: barsTopic,
        DLQ_TOPIC: sinkDlq,
        BATCH_SIZE: "1000",
      });
      const dlq = await readAll(sinkDlq);
      assert.equal(dlq.length, HOSTILE);
      assert.ok(dlq.every((d) => d.headers["dlq.reason"] && d.headers["dlq.worker"] === "sink"));
      const { rows } = await p.db.pool.query(
        "select count(*)::int as n from bars where interval = '1d'",
      );
      assert.equal(rows[0].n, VALID);
      const still = await p.db.pool.query("select count(*)::int as n from bars");
      assert.equal(still.rows[0].n, VALID, "no hostile record became a row");
    });
  } finally {
    await p.cleanup();
  }
});

Deno.test("10,000 hostile Avro records into the sink: truncated, wrong magic, unknown ids, wrong schema — each dead-lettered, neighbours stored", async () => {
  await requireServer("kafka");
  await requireServer("postgres");
  await requireServer("elasticsearch");
  await requireServer("schema-registry");
  const p = await pipelineEnv();
  try {
    const random = seededRandom(3);
    const barsTopic = `${p.topics.bars}-avro-fuzz`;
    const sinkDlq = `${p.topics.dlq}-avro-sink`;
    await createTopics([barsTopic, sinkDlq]);
    const registry = schemaRegistry(registryUrl);
    const schemas = `${root}schemas`;
    const bars = await AvroSubject.open(
      registry,
      `${barsTopic}-value`,
      readAvroSchema(schemas, "bar"),
      "BACKWARD",
    );
    // Valid Avro of another schema (a tick), registered under a subject of its own.
    const ticks = await AvroSubject.open(
      registry,
      `${barsTopic}-other-value`,
      readAvroSchema(schemas, "tick"),
      "BACKWARD",
    );
    const wire = avroWire({ bars });
    const built = buildBars(new Map(), sp500.map((b) => ({ kind: "bar" as const, ...b })), {
      tickIntervals: [],
      barIntervals: ["1d"],
      periods: defaultPeriods,
    }).bars;
    const valid: ProducedRecord[] = built.map((b) => ({ ...wire.encodeBar(b) }));
    const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
    const withId = (id: number, body: Uint8Array) => {
      const out = new Uint8Array(5 + body.length);
      new DataView(out.buffer).setUint32(1, id);
      out.set(body, 5);
      return out;
    };
    const kinds: ((good: Uint8Array, bar: (typeof built)[number]) => Uint8Array | null)[] = [
      (good) => good.slice(0, 5 + Math.floor(random() * (good.length - 6))),
      (good) => Uint8Array.from(good, (b, i) => (i === 0 ? 1 + Math.floor(random() * 255) : b)),
      (good) => withId(1_000_000 + Math.floor(random() * 1e9), good.slice(5)),
      (_, bar) => ticks.encode({ symbol: bar.symbol, ts: bar.start, price: bar.close, size: 1 }),
      (good) => withId(bars.writerId!, crypto.getRandomValues(new Uint8Array(good.length - 5))),
      (good) => good.slice(0, Math.floor(random() * 5)),
      (good) => Uint8Array.from([...good, ...crypto.getRandomValues(new Uint8Array(3))]),
      (_, bar) => bars.encode({ ...bar, close: NaN }),
      (_, bar) => bars.encode({ ...bar, volume: -1 }),
      (_, bar) => bars.encode({ ...bar, symbol: "X'; drop table bars; --" }),
      (_, bar) => bars.encode({ ...bar, start: 8.7e15 }),
      (_, bar) => bars.encode({ ...bar, interval: "7x" }),
      () => null,
    ];
    const records = interleave(valid, () => {
      const i = Math.floor(random() * built.length);
      const value = pick(kinds)(valid[i].value as Uint8Array, built[i]);
      return { ...valid[i], value: value ?? new Uint8Array() };
    }, random);
    await produce(barsTopic, records);
    const w = await drain("sink", p, {
      ...groups("avro-fuzz").sink,
      BARS_TOPIC: barsTopic,
      DLQ_TOPIC: sinkDlq,
      BATCH_SIZE: "1000",
      RECORD_FORMAT: "avro",
      SCHEMA_REGISTRY_URL: registryUrl,
    });
    const dlq = await readAll(sinkDlq);
    const reasons = new Map<string, number>();
    for (const d of dlq) {
      reasons.set(d.headers["dlq.reason"], (reasons.get(d.headers["dlq.reason"]) ?? 0) + 1);
    }
    console.log(`dead letters by reason: ${JSON.stringify(Object.fromEntries(reasons))}`);
    assert.equal(dlq.length, HOSTILE);
    assert.ok(
      ["not-avro", "unknown-schema-id", "incompatible-schema", "invalid-avro"].every((r) =>
        reasons.has(r)
      ),
    );
    const { rows } = await p.db.pool.query("select count(*)::int as n from bars");
    assert.equal(rows[0].n, VALID, "every valid neighbour stored, no hostile record a row");
    assert.equal(w.lines.some((l) => l.includes('"level":"error"')), false, "no crash");
  } finally {
    await p.cleanup();
  }
});
