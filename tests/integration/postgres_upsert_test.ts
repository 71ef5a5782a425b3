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
    const priceCols = [["symbol", "text"], ["day", "date"], ["close", "float8"]] as const;
    await upsert(db.pool, "prices", priceCols, 2, [["A", "2024-01-02", 1], ["B", "2024-01-02", 2]]);
    await upsert(db.pool, "prices", priceCols, 2, [["A", "2024-01-02", 3]]);
    const prices = await db.pool.query("select symbol, close from prices order by symbol");
    assert.deepEqual(prices.rows, [{ symbol: "A", close: 3 }, { symbol: "B", close: 2 }]);

    const tagCols = [["symbol", "text"], ["tag", "text"]] as const;
    await upsert(db.pool, "tags", tagCols, 2, [["A", "tech"], ["A", "large"]]);
    await upsert(db.pool, "tags", tagCols, 2, [["A", "tech"], ["B", "tech"]]);
    const tags = await db.pool.query("select symbol, tag from tags order by symbol, tag");
    assert.deepEqual(tags.rows.map((r) => `${r.symbol}:${r.tag}`), ["A:large", "A:tech", "B:tech"]);
  } finally {
    await db.drop();
  }
});
