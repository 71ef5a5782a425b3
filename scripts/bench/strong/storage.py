"""The strongest Python storage service we know how to write, writing both stores like our sink:
confluent-kafka consumes bars in large batches; per batch the newest version of each bar is kept;
psycopg 3 COPYs them into temporary staging tables and upserts `bars` and `indicators` with one
statement each; the Elasticsearch client's parallel_bulk indexes the same bars under the same
ids; offsets are committed after both stores answered. Prints one JSON line (CPU included)."""
import resource, sys, time
import orjson
import psycopg
from confluent_kafka import Consumer, KafkaError
from elasticsearch import Elasticsearch
from elasticsearch.helpers import parallel_bulk

brokers, topic, dsn, es_url, index = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
BAR = ["symbol", "interval", "period_start", "open", "high", "low", "close", "volume", "trades", "vwap"]
IND = ["symbol", "interval", "period_start", "ret", "log_ret", "sma", "ema", "rsi", "volatility", "zscore"]
conn = psycopg.connect(dsn, autocommit=False)
with conn.cursor() as cur:
    cur.execute("""create table if not exists bars (symbol text, interval text, period_start timestamptz,
      open float8, high float8, low float8, close float8, volume float8, trades bigint, vwap float8,
      primary key (symbol, interval, period_start))""")
    cur.execute("""create table if not exists indicators (symbol text, interval text, period_start timestamptz,
      ret float8, log_ret float8, sma float8, ema float8, rsi float8, volatility float8, zscore float8,
      primary key (symbol, interval, period_start))""")
conn.commit()
es = Elasticsearch(es_url, request_timeout=60)
consumer = Consumer({
    "bootstrap.servers": brokers, "group.id": f"py-strong-storage-{time.time()}",
    "auto.offset.reset": "earliest", "enable.auto.commit": False, "enable.partition.eof": True,
    "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760,
})
consumer.subscribe([topic])

def upsert(cur, table, columns, rows):
    cur.execute(f"create temporary table if not exists stage_{table} (like {table}) on commit delete rows")
    with cur.copy(f"copy stage_{table} ({', '.join(columns)}) from stdin") as copy:
        for row in rows:
            copy.write_row(row)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[3:])
    cur.execute(f"insert into {table} ({', '.join(columns)}) select {', '.join(columns)} from stage_{table} "
                f"on conflict (symbol, interval, period_start) do update set {updates}")

started = time.time()
rows_stored, eof, assigned = 0, set(), None
while True:
    msgs = consumer.consume(num_messages=5000, timeout=1.0)
    if assigned is None:
        parts = consumer.assignment()
        assigned = {p.partition for p in parts} if parts else None
    latest = {}
    for m in msgs:
        err = m.error()
        if err is None:
            v = orjson.loads(m.value())
            latest[(v["symbol"], v["interval"], v["start"])] = v
        elif err.code() == KafkaError._PARTITION_EOF:
            eof.add(m.partition())
    if latest:
        bars = list(latest.values())
        with conn.cursor() as cur:
            upsert(cur, "bars", BAR, ((b["symbol"], b["interval"], b["start"], b["open"], b["high"], b["low"],
                                        b["close"], b["volume"], b["trades"], b["vwap"]) for b in bars))
            upsert(cur, "indicators", IND, ((b["symbol"], b["interval"], b["start"], b["ret"], b["logRet"],
                                             b["sma"], b["ema"], b["rsi"], b["volatility"], b["zscore"]) for b in bars))
        conn.commit()
        actions = ({"_index": index, "_id": f"{b['symbol']}|{b['interval']}|{b['start']}", "_source": b} for b in bars)
        for ok, item in parallel_bulk(es, actions, thread_count=4, chunk_size=1000):
            if not ok:
                raise RuntimeError(f"bulk item failed: {item}")
        consumer.commit(asynchronous=False)
        rows_stored += len(bars)
    if assigned and eof >= assigned:
        break
consumer.close()
elapsed = time.time() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
print(orjson.dumps({"records": rows_stored, "seconds": elapsed, "rate": rows_stored / elapsed,
                    "cpuSeconds": usage.ru_utime + usage.ru_stime}).decode())
