/**
 * Parsers for the CSV sources: Yahoo-style daily OHLCV (`date,open,high,low,close,adjclose,volume`)
 * and the long format (`symbol,date,price`). They parse text into source bars and report bad
 * rows with their line numbers instead of stopping.
 *
 * @example
 * ```ts
 * const { bars, errors } = parseCsv("date,open,high,low,close,adjclose,volume\n2000-01-03,1,2,0.5,1.5,1.5,10", "SP500");
 * ```
 * @module
 */
import type { SourceBar } from "./record.ts";

export interface CsvResult {
  format: "ohlcv" | "long";
  bars: SourceBar[];
  /** rows that could not be read, with their 1-based line number */
  errors: { line: number; message: string }[];
}

const months: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/** Parses `2000-01-03`, `2000-01-03T…Z` or `Jan 1 2000` as UTC midnight; NaN when unreadable. */
export function parseDate(text: string): number {
  const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (iso) {
    const ts = Date.UTC(Number(iso[1]), Number(iso[2]) - 1, Number(iso[3]));
    // Date.UTC rolls 2000-02-31 over to March; a real date survives the round trip.
    return new Date(ts).toISOString().startsWith(text) ? ts : NaN;
  }
  const named = /^([A-Z][a-z]{2}) (\d{1,2}) (\d{4})$/.exec(text);
  if (named && named[1] in months) {
    const ts = Date.UTC(Number(named[3]), months[named[1]], Number(named[2]));
    return new Date(ts).getUTCDate() === Number(named[2]) ? ts : NaN;
  }
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/.test(text)) return Date.parse(text);
  return NaN;
}

function number(text: string, name: string): number {
  const value = text.trim() === "" ? NaN : Number(text);
  if (!Number.isFinite(value)) throw new Error(`${name} "${text}" is not a number`);
  return value;
}

/** Parses either CSV format, chosen by its header. `symbol` names the series of an OHLCV file. */
export function parseCsv(text: string, symbol: string): CsvResult {
  const lines = text.split(/\r?\n/);
  const header = lines[0].trim().toLowerCase().split(",").map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  let format: CsvResult["format"];
  if (["date", "open", "high", "low", "close", "volume"].every((h) => col(h) >= 0)) {
    format = "ohlcv";
  } else if (["symbol", "date", "price"].every((h) => col(h) >= 0)) {
    format = "long";
  } else {
    throw new Error(
      `unrecognised CSV header "${
        lines[0].slice(0, 200)
      }": expected date,open,high,low,close,adjclose,volume or symbol,date,price`,
    );
  }
  const bars: SourceBar[] = [];
  const errors: CsvResult["errors"] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const cells = line.split(",");
    try {
      if (cells.length !== header.length) {
        throw new Error(`expected ${header.length} fields, got ${cells.length}`);
      }
      const ts = parseDate(cells[col("date")].trim());
      if (Number.isNaN(ts)) throw new Error(`date "${cells[col("date")]}" is not a date`);
      if (format === "ohlcv") {
        bars.push({
          symbol,
          ts,
          open: number(cells[col("open")], "open"),
          high: number(cells[col("high")], "high"),
          low: number(cells[col("low")], "low"),
          close: number(cells[col("close")], "close"),
          volume: number(cells[col("volume")], "volume"),
        });
      } else {
        // A price series has no range: its bar is that one price, with no known volume.
        const price = number(cells[col("price")], "price");
        bars.push({
          symbol: cells[col("symbol")].trim(),
          ts,
          open: price,
          high: price,
          low: price,
          close: price,
          volume: 0,
        });
      }
    } catch (error) {
      errors.push({ line: i + 1, message: (error as Error).message });
    }
  }
  return { format, bars, errors };
}
