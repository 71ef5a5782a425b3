/**
 * Pure market-data code (no I/O): records and validation, the sources' parsers, bars and
 * indicators.
 * @module
 */
export * from "./types.ts";
export * from "./record.ts";
export * from "./intervals.ts";
export * from "./indicators.ts";
export * from "./bars.ts";
export * from "./csv.ts";
export * from "./synthetic.ts";
export * from "./alphavantage_format.ts";
export * from "./tables.ts";
export * from "./stored_bar.ts";
export * from "./latest_versions.ts";
export * from "./tick_bytes.ts";
export * from "./bar_query.ts";
export * from "./time.ts";
export * from "./deployment.ts";
export * from "./invalid_record.ts";
export * from "./wire_format.ts";
