import assert from "node:assert/strict";
import { upsert } from "../../lib/connectors/postgres.ts";
import { freshDatabase } from "../support/servers.ts";

Deno.test("PostgreSQL upsert: overwrites the non-key columns, and works when every column is the key", async () => {
  const db = await freshDatabase();
  try {
    await db.pool.query(
      "create table prices (symbol text, day date, close float8, updated_at timestamptz, primary key (symbol, day))",
    );
    await db.pool.query(
      "create table tags (symbol text, tag text, updated_at timestamptz, primary key (symbol, tag))",
    );
    const prices = {
      table: "prices",
      columns: [["symbol", "text"], ["day", "date"], ["close", "float8"]],
      keyCount: 2,
    } as const;
    await upsert(db.pool, [prices], [
      { symbol: "A", day: "2024-01-02", close: 1 },
      '{"symbol":"B","day":"2024-01-02","close":2}',
    ]);
    await upsert(db.pool, [prices], [{ symbol: "A", day: "2024-01-02", close: 3 }]);
    const priceRows = await db.pool.query("select symbol, close from prices order by symbol");
    assert.deepEqual(priceRows.rows, [{ symbol: "A", close: 3 }, { symbol: "B", close: 2 }]);

    const tags = {
      table: "tags",
      columns: [["symbol", "text"], ["tag", "text"]],
      keyCount: 2,
    } as const;
    await upsert(db.pool, [tags], [{ symbol: "A", tag: "tech" }, { symbol: "A", tag: "large" }]);
    await upsert(db.pool, [tags], [{ symbol: "A", tag: "tech" }, { symbol: "B", tag: "tech" }]);
    const tagRows = await db.pool.query("select symbol, tag from tags order by symbol, tag");
    assert.deepEqual(tagRows.rows.map((r) => `${r.symbol}:${r.tag}`), [
      "A:large",
      "A:tech",
      "B:tech",
    ]);
  } finally {
    await db.drop();
  }
});

Deno.test("PostgreSQL upsert into two tables: each takes its columns by name, exact doubles, both or neither", async () => {
  const db = await freshDatabase();
  try {
    await db.pool.query(
      "create table px (symbol text, at timestamptz, close float8, updated_at timestamptz, primary key (symbol, at))",
    );
    await db.pool.query(
      "create table vol (symbol text, at timestamptz, volume int8 not null, updated_at timestamptz, primary key (symbol, at))",
    );
    const key = [["symbol", "text"], ["at", "timestamptz"]] as const;
    const tables = [
      { table: "px", columns: [...key, ["close", "float8"]], keyCount: 2 },
      { table: "vol", columns: [...key, ["volume", "int8"]], keyCount: 2 },
    ] as const;
    // Doubles whose shortest text is long, a null, and a field neither table has.
    const rows: Record<string, string | number | null>[] = [
      { symbol: "A", at: "2024-01-02T14:30:00.000Z", close: 0.1 + 0.2, volume: 7, extra: "x" },
      { symbol: "B", at: "2024-01-02T14:30:00.000Z", close: null, volume: 2 ** 53 - 1 },
    ];
    await upsert(db.pool, tables, rows.map((r) => JSON.stringify(r)));
    const px = await db.pool.query(
      "select symbol, extract(epoch from at)::int8::text as at, close from px order by symbol",
    );
    assert.deepEqual(px.rows, [
      { symbol: "A", at: "1704205800", close: 0.1 + 0.2 },
      { symbol: "B", at: "1704205800", close: null },
    ]);
    const vol = await db.pool.query("select symbol, volume::text from vol order by symbol");
    assert.deepEqual(vol.rows, [{ symbol: "A", volume: "7" }, {
      symbol: "B",
      volume: String(2 ** 53 - 1),
    }]);

    // A row the second table refuses (volume null) leaves the first table as it was.
    await assert.rejects(
      upsert(db.pool, tables, [{
        symbol: "A",
        at: "2024-01-02T14:30:00.000Z",
        close: 9,
        volume: null,
      }]),
      /null value in column "volume"/,
    );
    const after = await db.pool.query("select close from px where symbol = 'A'");
    assert.equal(after.rows[0].close, 0.1 + 0.2);

    // Two tables may not read one field as two types.
    await assert.rejects(
      upsert(db.pool, [tables[0], { ...tables[1], columns: [...key, ["close", "int8"]] }], rows),
      /column close has two types/,
    );
  } finally {
    await db.drop();
  }
});
