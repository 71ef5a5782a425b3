/**
 * Parsers for the CSV sources: Yahoo-style daily OHLCV (`date,open,high,low,close,adjclose,volume`)
 * and the long format (`symbol,date,price`). csv-parse tokenizes (quoted fields with commas or
 * newlines, a quoted header, a byte-order mark); these parsers turn rows into source bars and
 * report bad rows with their line numbers instead of stopping.
 *
 * @example
 * ```ts
 * const { bars, errors } = parseCsv("date,open,high,low,close,adjclose,volume\n2000-01-03,1,2,0.5,1.5,1.5,10", "SP500");
 * ```
 * @module
 */
import { parse } from "csv-parse/sync";
import type { SourceBar, SourceInterval } from "./record.ts";
import { isRealDay, parseIsoTime } from "./time.ts";

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

/**
 * Parses `2000-01-03` or `Jan 1 2000` as UTC midnight, or `2000-01-03T14:30:00Z` as that
 * instant; NaN when unreadable or impossible (2000-02-31 is not rolled over into March).
 */
export function parseDate(text: string): number {
  if (/^\d{4}-/.test(text)) {
    return text.length === 10 || text.endsWith("Z") ? parseIsoTime(text) : NaN;
  }
  const named = /^([A-Z][a-z]{2}) (\d{1,2}) (\d{4})$/.exec(text);
  if (named && named[1] in months) {
    const [year, month, day] = [Number(named[3]), months[named[1]] + 1, Number(named[2])];
    return isRealDay(year, month, day) ? Date.UTC(year, month - 1, day) : NaN;
  }
  return NaN;
}

// Plain decimals only: Number() would also take "0x10", "0b1", "Infinity" and "".
const decimal = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function number(text: string, name: string): number {
  const value = decimal.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isFinite(value)) throw new Error(`${name} "${text}" is not a number`);
  return value;
}

/** Rows of `text` with the line each ends on; a row csv-parse cannot read is an error line. */
function tokenize(text: string) {
  const rows: { cells: string[]; line: number }[] = [];
  const errors: CsvResult["errors"] = [];
  try {
    parse(text, {
      bom: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
      skip_records_with_error: true,
      on_skip: (error) => {
        if (error) errors.push({ line: Number(error.lines), message: error.message });
        return undefined;
      },
      // Collected as they come, so rows before an unrecoverable error (an unclosed quote at the
      // end) are kept.
      on_record: (cells: string[], { lines }) => {
        rows.push({ cells, line: lines });
        return null;
      },
    });
  } catch (error) {
    const e = error as Error & { lines?: number };
    errors.push({ line: e.lines ?? 0, message: e.message });
  }
  return { rows, errors };
}

/** Parses either CSV format, chosen by its header. `symbol` names the series of an OHLCV file. */
export function parseCsv(text: string, symbol: string): CsvResult {
  const { rows, errors } = tokenize(text);
  const header = (rows[0]?.cells ?? []).map((h) => h.toLowerCase());
  const col = (name: string) => header.indexOf(name);
  let format: CsvResult["format"];
  if (["date", "open", "high", "low", "close", "volume"].every((h) => col(h) >= 0)) {
    format = "ohlcv";
  } else if (["symbol", "date", "price"].every((h) => col(h) >= 0)) {
    format = "long";
  } else {
    throw new Error(
      `unrecognised CSV header "${
        header.join(",").slice(0, 200)
      }": expected date,open,high,low,close,adjclose,volume or symbol,date,price`,
    );
  }
  const bars: SourceBar[] = [];
  for (const { cells, line } of rows.slice(1)) {
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
      errors.push({ line, message: (error as Error).message });
    }
  }
  errors.sort((a, b) => a.line - b.line);
  return { format, bars, errors };
}

/**
 * The granularity of a series, from the typical gap between a symbol's consecutive dates: about a
 * month apart is monthly (vega's stocks.csv), about a week weekly, anything closer daily.
 */
export function detectInterval(bars: readonly SourceBar[]): SourceInterval {
  const bySymbol = new Map<string, number[]>();
  for (const b of bars) {
    (bySymbol.get(b.symbol) ?? bySymbol.set(b.symbol, []).get(b.symbol)!).push(b.ts);
  }
  const gaps: number[] = [];
  for (const times of bySymbol.values()) {
    times.sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) gaps.push((times[i] - times[i - 1]) / 86_400_000);
  }
  if (gaps.length === 0) return "1d";
  gaps.sort((a, b) => a - b);
  const median = gaps[Math.floor(gaps.length / 2)];
  return median >= 27 ? "1mo" : median >= 6 ? "1w" : "1d";
}
