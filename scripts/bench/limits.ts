/**
 * Limits of the servers on this machine, with records of the pipeline's shapes: Kafka's own Java
 * producer and consumer (records/s and the producer's CPU a record), PostgreSQL COPY of bar rows,
 * and Elasticsearch `_bulk` of bar documents at the best batch size, one request at a time and
 * several at once.
 *
 * @module
 */
import {
  barDocument,
  barIndexTemplate,
  buildBars,
  defaultPeriods,
  encodeTick,
  syntheticTicks,
} from "../../lib/market/mod.ts";
import {
  createTopic,
  env,
  type Figures,
  fresh,
  measure,
  pgUrl,
  psql,
  repeat,
  root,
  say,
  settings,
  stat,
} from "./harness.ts";

const tickBytes =
  encodeTick({ symbol: "SYN000", ts: Date.now(), price: 101.2345, size: 100 }).value.length;

/** Kafka's Java producer and consumer perf tools, the same record count and size as ingest. */
export async function kafkaJava(): Promise<Figures> {
  say("Kafka Java producer and consumer perf tests ...");
  const topic = fresh("perf");
  await createTopic(topic);
  const cpu: number[] = [];
  const produce = await repeat("kafka java produce", "records/s", async () => {
    const r = await measure("java", [
      "-cp",
      `${root}.native/kafka/libs/*`,
      "org.apache.kafka.tools.ProducerPerformance",
      "--topic",
      topic,
      "--num-records",
      String(settings.ticks),
      "--record-size",
      String(tickBytes),
      "--throughput",
      "-1",
      "--producer-props",
      `bootstrap.servers=${brokers()}`,
      "acks=all",
      "enable.idempotence=true",
    ]);
    cpu.push((r.cpuSeconds / settings.ticks) * 1e6);
    // The summary line is the last "N records sent, R records/sec" of the tool's output.
    const rates = [...r.out.matchAll(/records sent, ([\d.]+) records\/sec/g)];
    return Number(rates.at(-1)?.[1]);
  });
  const consume = await repeat("kafka java consume", "records/s", async () => {
    const r = await measure("java", [
      "-cp",
      `${root}.native/kafka/libs/*`,
      "org.apache.kafka.tools.ConsumerPerformance",
      "--bootstrap-server",
      brokers(),
      "--topic",
      topic,
      "--messages",
      String(settings.ticks),
    ]);
    // A header line "start.time, end.time, …, fetch.nMsg.sec" and one line of values: the fetch
    // rate leaves the group's joining out.
    const lines = r.out.split("\n").map((l) => l.split(",").map((f) => f.trim()));
    const header = lines.findIndex((l) => l.includes("fetch.nMsg.sec"));
    return Number(lines[header + 1]?.[lines[header].indexOf("fetch.nMsg.sec")]);
  });
  return {
    kafkaJavaProduce: produce,
    kafkaJavaProduceCpu: stat(cpu, "µs CPU a record (whole JVM process, start-up included)"),
    kafkaJavaConsume: consume,
  };
}

const brokers = () => `127.0.0.1:${env.KAFKA_PORT}`;

/** PostgreSQL COPY of 100,000 bar rows (a run stores 40,600) into a table with the bars' key. */
export async function postgresCopy(): Promise<Figures> {
  const copyRows = 100_000;
  say(`PostgreSQL COPY of ${copyRows} bar rows (bars' primary key) ...`);
  const csvPath = `${root}.native/bench-bars.csv`;
  const lines: string[] = [];
  for (let i = 0; i < copyRows; i++) {
    const start = new Date(Date.UTC(2024, 0, 2) + i * 60_000).toISOString();
    lines.push(`SYN${i % settings.symbols},1m,${start},1,2,0.5,1.5,100,10,1.2`);
  }
  await Deno.writeTextFile(csvPath, lines.join("\n") + "\n");
  const postgresCopy = await repeat("postgres COPY", "rows/s", async () => {
    const table = fresh("copy").replaceAll("-", "_");
    await psql(
      `create table ${table} (symbol text, interval text, period_start timestamptz, open float8, high float8, low float8, close float8, volume float8, trades int8, vwap float8, primary key (symbol, interval, period_start))`,
    );
    const r = await measure("psql", [pgUrl, "-c", `\\copy ${table} from '${csvPath}' csv`]);
    await psql(`drop table ${table}`);
    return copyRows / r.seconds;
  });
  return { postgresCopy };
}

const esUrl = () => `http://127.0.0.1:${env.ELASTICSEARCH_PORT}`;

/**
 * The sink's own documents: the bars and indicators of synthetic ticks like the pipeline's (same
 * seed, symbols and spacing), as `barDocument` makes them, so the limit is of the same work.
 */
const sinkDocuments = (() => {
  let docs: string[] | undefined;
  return () => {
    if (!docs) {
      const ticks = syntheticTicks({
        seed: 42,
        symbols: settings.symbols,
        start: Date.UTC(2024, 0, 2, 14, 30),
        stepMs: 100,
      });
      const input = Array.from({ length: 500_000 }, () => ({
        kind: "tick" as const,
        ...ticks.next().value!,
      }));
      const { bars } = buildBars(new Map(), input, {
        tickIntervals: ["1m", "5m", "1h"],
        barIntervals: [],
        periods: defaultPeriods,
      });
      docs = bars.map((b) => JSON.stringify(barDocument(b).doc));
    }
    return docs;
  };
})();

/** Docs/s of `count` documents in requests of `batch`, `requests` of them in flight at once. */
async function bulkRate(batch: number, count: number, requests = 1): Promise<number> {
  const index = fresh("bulk");
  // The sink's index template: its mapping and settings, not dynamic mapping.
  const template = barIndexTemplate(index).template;
  const created = await fetch(`${esUrl()}/${index}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(template),
  });
  if (!created.ok) throw new Error(`creating ${index}: ${await created.text()}`);
  const docs = sinkDocuments();
  let next = 0;
  const send = async () => {
    while (next < count) {
      const from = next;
      next = Math.min(count, from + batch);
      const lines: string[] = [];
      for (let k = from; k < next; k++) {
        lines.push(JSON.stringify({ index: { _index: index, _id: `doc-${k}` } }));
        lines.push(docs[k % docs.length]);
      }
      const res = await fetch(`${esUrl()}/_bulk`, {
        method: "POST",
        headers: { "content-type": "application/x-ndjson" },
        body: lines.join("\n") + "\n",
      });
      const body = await res.json();
      if (body.errors) throw new Error("bulk errors in the limit test");
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: requests }, send));
  const rate = count / ((performance.now() - started) / 1000);
  await (await fetch(`${esUrl()}/${index}`, { method: "DELETE" })).body?.cancel();
  return rate;
}

/**
 * Elasticsearch `_bulk` of bar documents: one request at a time at the batch size that does best
 * here, and that batch size with 2 and 4 requests in flight, as the sink sends them (one a
 * partition). One request leaves a core idle (Elasticsearch indexed about 1.1 cores' worth, four
 * 1.7), so the most the store allows is the concurrent figure.
 */
export async function elasticsearchBulk(): Promise<Figures> {
  say("Elasticsearch _bulk, doubling the batch size ...");
  let best = { batch: 0, rate: 0 };
  for (let batch = 250; batch <= 8000; batch *= 2) {
    const rate = await bulkRate(batch, 40_000);
    say(`  bulk ${batch} docs/request: ${rate.toFixed(0)} docs/s`);
    if (rate > best.rate) best = { batch, rate };
  }
  const elasticsearchBulk = await repeat(
    `elasticsearch bulk @${best.batch}`,
    `docs/s (${best.batch} a request, one at a time)`,
    () => bulkRate(best.batch, 100_000),
  );
  const tried: { requests: number; rate: number }[] = [];
  for (const requests of [2, 4]) {
    tried.push({ requests, rate: await bulkRate(best.batch, 100_000, requests) });
    say(
      `  bulk ${best.batch} docs/request, ${requests} at once: ${
        tried.at(-1)!.rate.toFixed(0)
      } docs/s`,
    );
  }
  const { requests } = tried.reduce((a, b) => b.rate > a.rate ? b : a);
  const elasticsearchBulkConcurrent = await repeat(
    `elasticsearch bulk @${best.batch} ×${requests}`,
    `docs/s (${best.batch} a request, ${requests} at once)`,
    () => bulkRate(best.batch, 100_000, requests),
  );
  return { elasticsearchBulk, elasticsearchBulkConcurrent };
}
