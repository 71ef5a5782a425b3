/**
 * ingest's sources against real Kafka: Alpha Vantage (a local server replaying responses in the
 * API's recorded format, throttle notes and errors included) and the seeded synthetic source.
 */
import assert from "node:assert/strict";
import { createTopics, readAll, requireServer, uniqueName } from "../support/servers.ts";
import { runToEnd, taskArgs } from "../support/workers.ts";

const series = {
  "Meta Data": {
    "1. Information": "Daily Prices (open, high, low, close) and Volumes",
    "2. Symbol": "IBM",
    "3. Last Refreshed": "2024-01-05",
    "4. Output Size": "Full size",
    "5. Time Zone": "US/Eastern",
  },
  "Time Series (Daily)": {
    "2024-01-05": {
      "1. open": "162.4400",
      "2. high": "162.9000",
      "3. low": "160.6400",
      "4. close": "161.6200",
      "5. volume": "4209000",
    },
    "2024-01-04": {
      "1. open": "160.4500",
      "2. high": "162.4900",
      "3. low": "160.4000",
      "4. close": "161.2400",
      "5. volume": "4620000",
    },
    "2024-01-03": {
      "1. open": "161.0000",
      "2. high": "161.7300",
      "3. low": "160.0800",
      "4. close": "160.0800",
      "5. volume": "4086000",
    },
  },
};

Deno.test("ingest from Alpha Vantage retries throttle notes and 5xx, and never shows the key", async () => {
  await requireServer("kafka");
  const key = `AVKEY-${crypto.randomUUID()}`;
  const replies = [
    () =>
      Response.json({
        Note:
          "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute.",
      }),
    () => new Response("upstream error", { status: 503 }),
    () =>
      Response.json({
        Information: "Please consider spreading out your free API requests more sparingly.",
      }),
    () => Response.json(series),
  ];
  const seen: URL[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    seen.push(url);
    return replies[Math.min(seen.length - 1, replies.length - 1)]();
  });
  const topic = uniqueName("av-ticks");
  await createTopics([topic]);
  const keyFile = `.native/test-av-key-${crypto.randomUUID()}`;
  await Deno.writeTextFile(keyFile, key);
  try {
    const w = await runToEnd(taskArgs("ingest"), [], {
      SOURCE: "alphavantage",
      ALPHAVANTAGE_URL: `http://127.0.0.1:${server.addr.port}/query`,
      ALPHAVANTAGE_API_KEY_FILE: keyFile,
      ALPHAVANTAGE_SYMBOLS: "IBM",
      ALPHAVANTAGE_RETRY_BASE_MS: "20",
      TICKS_TOPIC: topic,
      HTTP_PORT: "0",
    });
    assert.equal(seen.length, 4, "three retries, then the data");
    assert.equal(seen[0].searchParams.get("apikey"), key, "the key is sent");
    assert.equal(seen[0].searchParams.get("function"), "TIME_SERIES_DAILY");
    const retries = w.lines.filter((l) => l.includes("Alpha Vantage retry"));
    assert.equal(retries.length, 3, w.lines.join("\n"));
    assert.ok(w.lines.every((l) => !l.includes(key)), "the key never appears in a log line");
    const records = await readAll(topic);
    assert.deepEqual(records.map((r) => JSON.parse(r.value).ts), [
      "2024-01-03T00:00:00.000Z",
      "2024-01-04T00:00:00.000Z",
      "2024-01-05T00:00:00.000Z",
    ]);
    assert.ok(records.every((r) => r.key === "IBM" && r.headers["record-type"] === "bar"));
    assert.equal(JSON.parse(records[2].value).close, 161.62);
  } finally {
    await server.shutdown();
    await Deno.remove(keyFile);
  }
});

Deno.test("an Alpha Vantage error reply stops ingest with exit 1 and a message without the key", async () => {
  const key = `AVKEY-${crypto.randomUUID()}`;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      Response.json({
        "Error Message": "Invalid API call. Please retry or visit the documentation.",
      }),
  );
  try {
    const w = await runToEnd(taskArgs("ingest"), [], {
      SOURCE: "alphavantage",
      ALPHAVANTAGE_URL: `http://127.0.0.1:${server.addr.port}/query`,
      ALPHAVANTAGE_API_KEY: key,
      ALPHAVANTAGE_SYMBOLS: "NOPE",
      HTTP_PORT: "0",
    }, 1);
    const text = w.lines.join("\n");
    assert.match(text, /Alpha Vantage rejected NOPE: Invalid API call/);
    assert.ok(!text.includes(key));
  } finally {
    await server.shutdown();
  }
});

Deno.test("the synthetic source: the same seed gives the same records in Kafka", async () => {
  await requireServer("kafka");
  const topics = [uniqueName("syn-a"), uniqueName("syn-b")];
  await createTopics(topics, 3);
  for (const topic of topics) {
    await runToEnd(taskArgs("ingest"), [
      "--source",
      "synthetic",
      "--synthetic-ticks",
      "3000",
      "--synthetic-symbols",
      "5",
      "--synthetic-seed",
      "99",
    ], { TICKS_TOPIC: topic, HTTP_PORT: "0" });
  }
  const [a, b] = await Promise.all(topics.map(readAll));
  const norm = (rs: typeof a) => rs.map((r) => `${r.key} ${r.value}`).sort();
  assert.equal(a.length, 3000);
  assert.deepEqual(norm(a), norm(b));
  const bySymbol = new Map<string, Set<number>>();
  for (const r of a) bySymbol.set(r.key, (bySymbol.get(r.key) ?? new Set()).add(r.partition));
  assert.equal(bySymbol.size, 5);
  for (const [symbol, partitions] of bySymbol) {
    assert.equal(partitions.size, 1, `${symbol} stays in one partition`);
  }
});
