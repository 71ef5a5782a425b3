"""The seed's storage service, written straightforwardly: bars from Kafka into PostgreSQL with
batched psycopg2 upserts (execute_values, ON CONFLICT), committing after each batch."""
import json, sys, time
import psycopg2
from psycopg2.extras import execute_values
from kafka import KafkaConsumer

brokers, topic, dsn = sys.argv[1], sys.argv[2], sys.argv[3]
conn = psycopg2.connect(dsn)
cur = conn.cursor()
cur.execute("""create table if not exists py_bars (symbol text, interval text, period_start timestamptz,
  open float8, high float8, low float8, close float8, volume float8, trades bigint, vwap float8,
  ret float8, log_ret float8, sma float8, ema float8, rsi float8, volatility float8, zscore float8,
  primary key (symbol, interval, period_start))""")
conn.commit()
started = time.time()
consumer = KafkaConsumer(topic, bootstrap_servers=brokers, auto_offset_reset="earliest",
                         group_id=f"py-storage-{time.time()}", consumer_timeout_ms=5000,
                         max_poll_records=3000, enable_auto_commit=False, value_deserializer=json.loads)
rows = 0
while True:
    polled = consumer.poll(timeout_ms=5000, max_records=3000)
    if not polled:
        break
    batch = {}
    for records in polled.values():
        for m in records:
            v = m.value
            batch[(v["symbol"], v["interval"], v["start"])] = (
                v["symbol"], v["interval"], v["start"], v["open"], v["high"], v["low"], v["close"], v["volume"],
                v["trades"], v["vwap"], v["ret"], v["logRet"], v["sma"], v["ema"], v["rsi"], v["volatility"], v["zscore"])
    execute_values(cur, """insert into py_bars values %s on conflict (symbol, interval, period_start) do update set
      open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
      volume = excluded.volume, trades = excluded.trades, vwap = excluded.vwap, ret = excluded.ret,
      log_ret = excluded.log_ret, sma = excluded.sma, ema = excluded.ema, rsi = excluded.rsi,
      volatility = excluded.volatility, zscore = excluded.zscore""", list(batch.values()), page_size=1000)
    conn.commit()
    consumer.commit()
    rows += len(batch)
elapsed = time.time() - started - 5
print(json.dumps({"records": rows, "seconds": elapsed, "rate": rows / elapsed}))
