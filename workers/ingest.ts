/**
 * ingest — market data from a source into `market.ticks`, keyed by symbol.
 *
 * Sources: `csv` (a file or URL, Yahoo-style daily OHLCV or symbol,date,price), `alphavantage`
 * (daily series over HTTP, key from ALPHAVANTAGE_API_KEY or ALPHAVANTAGE_API_KEY_FILE) and
 * `synthetic` (seeded GBM ticks for load tests). Replays as fast as possible, or at ×N real time.
 *
 *   deno task ingest                                  # the bundled S&P 500 series
 *   deno task ingest --source synthetic --synthetic-ticks 1000000
 *   deno task ingest --schedule "0 22 * * 1-5" --source alphavantage --alphavantage-symbols IBM
 */
import { fetchDaily } from "../lib/connectors/alphavantage.ts";
import { kafkaOutput, topicOption } from "../lib/connectors/kafka/mod.ts";
import {
  detectInterval,
  type Encoded,
  jsonWire,
  parseCsv,
  parseIsoTime,
  readAlphaVantageReply,
  type SourceBar,
  syntheticTicks,
  topics,
  type WireFormat,
} from "../lib/market/mod.ts";
import { openWire, recordFormatOptions } from "../lib/pipeline/wire.ts";
import {
  createProgress,
  defineWorker,
  int,
  invoke,
  list,
  type Logger,
  num,
  oneOf,
  run,
  secret,
  sleep,
  str,
} from "../lib/runtime/mod.ts";

// JSON, or Avro with the ticks topic's schema registered at start (RECORD_FORMAT; see setup).
let wire: WireFormat = jsonWire;

const options = {
  ...recordFormatOptions,
  source: oneOf(
    "SOURCE",
    "where records come from",
    ["csv", "alphavantage", "synthetic"] as const,
    "csv",
  ),
  csvPath: str(
    "CSV_PATH",
    "CSV file path or http(s) URL",
    "node_modules/vega-datasets/data/sp500-2000.csv",
  ),
  csvSymbol: str(
    "CSV_SYMBOL",
    "symbol of a date,open,high,... file (it has no symbol column)",
    "SP500",
  ),
  csvInterval: oneOf(
    "CSV_INTERVAL",
    "granularity of the CSV rows; only it and coarser bars are built (auto: from the dates)",
    ["auto", "1d", "1w", "1mo"] as const,
    "auto",
  ),
  replaySpeed: num("REPLAY_SPEED", "0 = as fast as possible; N = N× the records' own pace", 0, {
    min: 0,
  }),
  alphavantageUrl: str(
    "ALPHAVANTAGE_URL",
    "Alpha Vantage endpoint",
    "https://www.alphavantage.co/query",
  ),
  alphavantageApiKey: secret("ALPHAVANTAGE_API_KEY", "Alpha Vantage API key"),
  alphavantageAttempts: int("ALPHAVANTAGE_ATTEMPTS", "tries per symbol (throttle, 5xx)", 6, {
    min: 1,
  }),
  alphavantageRetryBaseMs: int(
    "ALPHAVANTAGE_RETRY_BASE_MS",
    "first backoff after a throttle note",
    15_000,
    {
      min: 1,
    },
  ),
  alphavantageSymbols: list("ALPHAVANTAGE_SYMBOLS", "symbols to fetch", "IBM", (s) => s),
  syntheticSymbols: int("SYNTHETIC_SYMBOLS", "synthetic: number of symbols", 10, {
    min: 1,
    max: 100_000,
  }),
  syntheticTicks: int("SYNTHETIC_TICKS", "synthetic: ticks to produce", 100_000, { min: 1 }),
  syntheticSeed: int("SYNTHETIC_SEED", "synthetic: seed (same seed, same stream)", 42),
  syntheticStart: {
    ...str("SYNTHETIC_START", "synthetic: first tick time (ISO-8601, UTC)", "2024-01-02T14:30:00Z"),
    parse(raw: string): number {
      const ts = raw.endsWith("Z") && raw.includes("T") ? parseIsoTime(raw) : NaN;
      if (Number.isNaN(ts)) throw new Error(`expected an ISO-8601 UTC time, got "${raw}"`);
      return ts;
    },
  },
  syntheticStepMs: int("SYNTHETIC_STEP_MS", "synthetic: ms between ticks", 100, { min: 1 }),
};

type Options = {
  [K in keyof typeof options]: ReturnType<(typeof options)[K]["parse"]>;
};

export const ingest = defineWorker({
  name: "ingest",
  description: "market data from a source into the ticks topic",
  trigger: invoke(),
  outputs: {
    // Produce requests of up to 2,000 records or 1 MiB; a paced replay's records wait ≤ 20 ms.
    ticks: kafkaOutput(
      topicOption("TICKS_TOPIC", "topic for ticks and daily bars", topics.ticks),
      { count: 2000, byteSize: 1 << 20, periodMs: 20 },
    ),
  },
  options,
  httpPort: 9101,
  async setup({ options, outputs }) {
    wire = await openWire(options, { input: { topic: outputs.ticks.topic, writes: true } });
  },
  async handle(event, { options, outputs, log, signal }) {
    const source = await readSource(options, log);
    // Invoked with a data interval (an orchestrator's run for one day): only records in it.
    const { total, records } = event.from || event.until ? within(source.records, event) : source;
    const progress = createProgress(`ingest ${options.source}`, total, log);
    const pace = pacer(options.replaySpeed);
    let sent = 0;
    for (const { ts, record } of records) {
      if (signal.aborted) break;
      const wait = pace(ts);
      if (wait > 0) await sleep(wait, signal);
      await outputs.ticks.write(record);
      progress.add(1);
      sent++;
    }
    await outputs.ticks.flush();
    progress.done();
    log.info("ingest finished", {
      records: sent,
      topic: outputs.ticks.topic,
      stopped: signal.aborted,
    });
  },
});

/** The records whose event time is in [from, until). */
function within(
  records: Iterable<{ ts: number; record: Encoded }>,
  { from, until }: { from?: Date; until?: Date },
) {
  const start = from?.getTime() ?? -Infinity;
  const end = until?.getTime() ?? Infinity;
  const kept = [...records].filter(({ ts }) => ts >= start && ts < end);
  return { total: kept.length, records: kept };
}

/** The chosen source as a sequence of encoded records with their event times. */
async function readSource(
  o: Options,
  log: Logger,
): Promise<{ total: number | null; records: Iterable<{ ts: number; record: Encoded }> }> {
  const bars = (list: SourceBar[]) =>
    list.map((b) => ({ ts: b.ts, record: wire.encodeSourceBar(b) }));
  if (o.source === "csv") {
    const text = /^https?:\/\//.test(o.csvPath)
      ? await (await fetch(o.csvPath)).text()
      : await Deno.readTextFile(o.csvPath);
    const parsed = parseCsv(text, o.csvSymbol);
    for (const e of parsed.errors) {
      log.warn("skipping unreadable CSV row", { file: o.csvPath, ...e });
    }
    const interval = o.csvInterval === "auto" ? detectInterval(parsed.bars) : o.csvInterval;
    log.info("read CSV", {
      file: o.csvPath,
      format: parsed.format,
      rows: parsed.bars.length,
      interval,
    });
    // Long-format files list symbol after symbol; event time order is what a replay means.
    const sorted = parsed.bars.map((b) => ({ ...b, interval })).sort((a, b) => a.ts - b.ts);
    return { total: sorted.length, records: bars(sorted) };
  }
  if (o.source === "alphavantage") {
    if (!o.alphavantageApiKey) {
      throw new Error(
        "ALPHAVANTAGE_API_KEY (or ALPHAVANTAGE_API_KEY_FILE) is required for --source alphavantage",
      );
    }
    const all: SourceBar[] = [];
    for (const symbol of o.alphavantageSymbols) {
      all.push(
        ...await fetchDaily({
          baseUrl: o.alphavantageUrl,
          apiKey: o.alphavantageApiKey,
          symbol,
          attempts: o.alphavantageAttempts,
          baseMs: o.alphavantageRetryBaseMs,
          read: readAlphaVantageReply,
          onRetry: (reason, attempt, delayMs) =>
            log.warn("Alpha Vantage retry", {
              symbol,
              reason,
              attempt,
              delayMs: Math.round(delayMs),
            }),
        }),
      );
    }
    return { total: all.length, records: bars(all.sort((a, b) => a.ts - b.ts)) };
  }
  const ticks = syntheticTicks({
    seed: o.syntheticSeed,
    symbols: o.syntheticSymbols,
    start: o.syntheticStart,
    stepMs: o.syntheticStepMs,
  });
  const records = function* () {
    for (let i = 0; i < o.syntheticTicks; i++) {
      const tick = ticks.next().value!;
      yield { ts: tick.ts, record: wire.encodeTick(tick) };
    }
  };
  return { total: o.syntheticTicks, records: records() };
}

/** Milliseconds until a record is due at `speed`× the pace of its timestamps (0: never waits). */
function pacer(speed: number) {
  let first: { ts: number; at: number } | undefined;
  return (ts: number): number => {
    if (speed <= 0) return 0;
    first ??= { ts, at: performance.now() };
    return first.at + (ts - first.ts) / speed - performance.now();
  };
}

if (import.meta.main) await run(ingest);
