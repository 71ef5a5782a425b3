/**
 * PostgreSQL through node-postgres: connection options (password from env or `*_FILE`, TLS),
 * versioned migrations under an advisory lock, and batched upserts of JSON rows into one or more
 * tables (one statement a batch, parameterized, no SQL built from values).
 *
 * @example
 * ```ts
 * import { resolveOptions } from "../runtime/config.ts";
 * const specs = postgresOptions({ url: "postgres://app@127.0.0.1:5432/app", passwordFile: "" });
 * const pool = await openPostgres(resolveOptions(specs, { env: Deno.env.toObject(), flags: {} }));
 * const prices = { table: "prices", columns: [["symbol", "text"], ["day", "date"], ["close", "float8"]], keyCount: 2 } as const;
 * await upsert(pool, [prices], [{ symbol: "AAPL", day: "2024-01-02", close: 185.64 }]);
 * ```
 * @module
 */
// @ts-types="@types/pg"
import pg from "pg";
import { bool, secret, str } from "../runtime/config.ts";
import type { OutputSpec } from "../runtime/define.ts";
import { acknowledged } from "../runtime/lineage.ts";
import { jsonBytes, type JsonPiece, jsonPiece } from "./json_bytes.ts";

/** Where a worker's database is unless configured: its URL and the file of its password. */
export interface PostgresDefaults {
  url: string;
  /** Read when neither POSTGRES_PASSWORD nor POSTGRES_PASSWORD_FILE is set ("" for none). */
  passwordFile: string;
}

/** The connection options, with the caller's defaults. */
export function postgresOptions(defaults: PostgresDefaults) {
  return {
    postgresUrl: str(
      "POSTGRES_URL",
      "postgres://user@host:port/db (no password here)",
      defaults.url,
    ),
    postgresPassword: secret("POSTGRES_PASSWORD", "PostgreSQL password", defaults.passwordFile),
    postgresSsl: bool("POSTGRES_SSL", "connect with TLS", false),
    postgresSslCaFile: str("POSTGRES_SSL_CA_FILE", "PEM file of the server's CA", ""),
  };
}

export interface PostgresConnection {
  postgresUrl: string;
  postgresPassword: string;
  postgresSsl: boolean;
  postgresSslCaFile: string;
}

/** Creates a pool and checks that it connects (so start-up fails fast and clearly). */
export async function openPostgres(o: PostgresConnection, max = 4): Promise<pg.Pool> {
  const url = new URL(o.postgresUrl);
  const pool = new pg.Pool({
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    database: url.pathname.replace(/^\//, ""),
    password: o.postgresPassword || decodeURIComponent(url.password) || undefined,
    ssl: o.postgresSsl
      ? (o.postgresSslCaFile ? { ca: Deno.readTextFileSync(o.postgresSslCaFile) } : true)
      : undefined,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on("error", () => {});
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => {});
    throw new Error(`cannot connect to PostgreSQL at ${url.host}: ${(error as Error).message}`);
  }
  return pool;
}

/** Applies the migrations not yet recorded, each in its own transaction. */
export async function migrate(
  pool: pg.Pool,
  list: { version: number; name: string; sql: string }[],
): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    // Two sinks starting together must not run the same migration twice.
    await client.query("select pg_advisory_lock(727274)");
    await client.query(
      "create table if not exists schema_migrations (version int primary key, name text not null, applied_at timestamptz not null default now())",
    );
    const done = new Set(
      (await client.query("select version from schema_migrations")).rows.map((r) => r.version),
    );
    for (const m of list) {
      if (done.has(m.version)) continue;
      await client.query("begin");
      try {
        await client.query(m.sql);
        await client.query("insert into schema_migrations (version, name) values ($1, $2)", [
          m.version,
          m.name,
        ]);
        await client.query("commit");
        applied.push(m.version);
      } catch (error) {
        await client.query("rollback");
        throw error;
      }
    }
  } finally {
    await client.query("select pg_advisory_unlock(727274)").catch(() => {});
    client.release();
  }
  return applied;
}

/** A value of a row: text, a number or NULL (dates and times as ISO text). */
export type Cell = string | number | null;

/**
 * A table rows are upserted into: its columns (name and type), each read from the row's field of
 * the same name; the first `keyCount` are the conflict key.
 */
export interface UpsertTable {
  table: string;
  columns: readonly (readonly [string, string])[];
  keyCount: number;
}

const identifier = /^[a-z_][a-z0-9_]{0,62}$/;

function checkIdentifiers(tables: readonly UpsertTable[]) {
  for (const t of tables) {
    for (const name of [t.table, ...t.columns.flat()]) {
      if (!identifier.test(name)) throw new Error(`not a safe identifier: ${name}`);
    }
  }
}

/** `insert … select … from r on conflict …` for one table, `r` holding the rows. */
function insertFrom(t: UpsertTable): string {
  const names = t.columns.map(([c]) => `"${c}"`);
  const updates = t.columns.slice(t.keyCount).map(([c]) => `"${c}" = excluded."${c}"`);
  // When every column is part of the key there is nothing to overwrite: a row there stays.
  const onConflict = updates.length === 0
    ? "do nothing"
    : `do update set ${updates.join(", ")}, updated_at = now()`;
  return `insert into ${t.table} (${names.join(", ")}) select ${names.join(", ")} from r
    on conflict (${names.slice(0, t.keyCount).join(", ")}) ${onConflict}`;
}

// The statement of each list of tables upserted so far (a worker has one or two).
const statements = new WeakMap<readonly UpsertTable[], string>();

/** One statement upserting the rows of `$1` into every table of `tables`. */
function upsertStatement(tables: readonly UpsertTable[]): string {
  checkIdentifiers(tables);
  const types = new Map<string, string>();
  for (const [column, type] of tables.flatMap((t) => t.columns)) {
    if (types.has(column) && types.get(column) !== type) {
      throw new Error(`column ${column} has two types: ${types.get(column)} and ${type}`);
    }
    types.set(column, type);
  }
  const recordType = [...types].map(([column, type]) => `"${column}" ${type}`).join(", ");
  const last = tables.length - 1;
  return [
    `with r as (select * from json_to_recordset($1::json) as r(${recordType}))`,
    ...tables.slice(0, last).map((t, i) => `, w${i} as (${insertFrom(t)})`),
    insertFrom(tables[last]),
  ].join("\n");
}

/**
 * Inserts or updates `rows` in every table of `tables`, in one statement: the tables change
 * together or not at all. Rows with the same key in one call must already be deduplicated.
 *
 * A row is a JSON object, given as an object or already as its JSON text or bytes (the sink's
 * bar goes to Elasticsearch as the same document, read once from the wire). The rows travel as one
 * JSON parameter that the server unpacks once (`json_to_recordset`, typed by the columns) for all
 * the tables: one buffer to build and send, where node-postgres would escape every element of an
 * array parameter per column. Numbers keep their shortest round-trip text, so a float8 arrives
 * unchanged.
 */
export async function upsert(
  pool: pg.Pool,
  tables: readonly UpsertTable[],
  rows: readonly (JsonPiece | Record<string, Cell>)[],
): Promise<void> {
  if (rows.length === 0 || tables.length === 0) return;
  let sql = statements.get(tables);
  if (sql === undefined) statements.set(tables, sql = upsertStatement(tables));
  const texts = rows.map(jsonPiece);
  const array = jsonBytes((w) => {
    w.text("[");
    for (let i = 0; i < texts.length; i++) {
      if (i > 0) w.text(",");
      w.piece(texts[i]);
    }
    w.text("]");
  });
  // As bytes the parameter goes in binary format, which for json is its text.
  await pool.query(sql, [array]);
}

/** The opened PostgreSQL output: the pool, and upserts. */
export interface PostgresOutput {
  pool: pg.Pool;
  upsert(
    tables: readonly UpsertTable[],
    rows: readonly (JsonPiece | Record<string, Cell>)[],
  ): Promise<void>;
  close(): Promise<void>;
}

/** A PostgreSQL output; `migrations` are applied when it opens. */
export function postgresOutput(
  list: { version: number; name: string; sql: string }[],
  defaults: PostgresDefaults,
): OutputSpec<PostgresOutput> {
  return {
    options: postgresOptions(defaults),
    async open(ctx) {
      const pool = await openPostgres(ctx.options as PostgresConnection);
      try {
        const applied = await migrate(pool, list);
        if (applied.length) ctx.log.info("migrations applied", { versions: applied });
      } catch (error) {
        await pool.end();
        throw error;
      }
      return {
        pool,
        upsert: async (tables, rows) => {
          await upsert(pool, tables, rows);
          acknowledged(ctx.name);
          for (const { table } of tables) {
            ctx.metrics.recordsOut.inc({ output: `postgres:${table}` }, rows.length);
          }
        },
        close: () => pool.end(),
      };
    },
  };
}
