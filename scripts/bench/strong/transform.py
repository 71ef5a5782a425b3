"""The strongest Python batch transform we know how to write: confluent-kafka consumes the whole
topic in large batches (until every partition's end), orjson decodes, polars builds OHLCV bars
(1m/5m/1h, VWAP, trade counts) and the same indicators per symbol with vectorised expressions,
and confluent-kafka produces the bars. Prints one JSON line: records, bars, seconds, rate, CPU."""
import resource, sys, time
import orjson
import polars as pl
from confluent_kafka import Consumer, KafkaError, Producer

brokers, ticks_topic, bars_topic = sys.argv[1], sys.argv[2], sys.argv[3]
started = time.time()
consumer = Consumer({
    "bootstrap.servers": brokers, "group.id": f"py-strong-transform-{time.time()}",
    "auto.offset.reset": "earliest", "enable.auto.commit": False, "enable.partition.eof": True,
    "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760,
})
consumer.subscribe([ticks_topic])
values, eof, assigned = [], set(), None
while True:
    msgs = consumer.consume(num_messages=10000, timeout=1.0)
    if assigned is None:
        parts = consumer.assignment()
        assigned = {p.partition for p in parts} if parts else None
    for m in msgs:
        err = m.error()
        if err is None:
            values.append(m.value())
        elif err.code() == KafkaError._PARTITION_EOF:
            eof.add(m.partition())
    if assigned and eof >= assigned:
        break
consumer.close()
df = pl.DataFrame([orjson.loads(v) for v in values])
df = df.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC"), (pl.col("price") * pl.col("size")).alias("pv"))
df = df.sort("symbol", "ts")

def indicators(n=20, rsi_n=14):
    close = pl.col("close")
    delta = close.diff()
    log_ret = (close / close.shift()).log()
    gain = delta.clip(lower_bound=0).ewm_mean(alpha=1 / rsi_n, adjust=False)
    loss = (-delta.clip(upper_bound=0)).ewm_mean(alpha=1 / rsi_n, adjust=False)
    sma = close.rolling_mean(n)
    return [
        close.pct_change().alias("ret"), log_ret.alias("log_ret"), sma.alias("sma"),
        close.ewm_mean(span=n, adjust=False).alias("ema"), (100 * gain / (gain + loss)).alias("rsi"),
        log_ret.rolling_std(n).alias("volatility"),
        ((close - sma) / close.rolling_std(n)).alias("zscore"),
    ]

producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all",
                     "linger.ms": 20, "batch.size": 1_000_000, "queue.buffering.max.messages": 1_000_000})
bars_out = 0
for interval, every in [("1m", "1m"), ("5m", "5m"), ("1h", "1h")]:
    bars = (df.group_by_dynamic("ts", every=every, group_by="symbol")
            .agg(pl.col("price").first().alias("open"), pl.col("price").max().alias("high"),
                 pl.col("price").min().alias("low"), pl.col("price").last().alias("close"),
                 pl.col("size").sum().alias("volume"), pl.len().alias("trades"), pl.col("pv").sum())
            .sort("symbol", "ts")
            .with_columns((pl.col("pv") / pl.col("volume")).alias("vwap"))
            .with_columns([e.over("symbol") for e in indicators()])
            .with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S.000Z").alias("start"),
                          pl.lit(interval).alias("interval"))
            .drop("pv", "ts"))
    for row in bars.iter_rows(named=True):
        row["logRet"] = row.pop("log_ret")
        value = orjson.dumps(row)
        while True:
            try:
                producer.produce(bars_topic, value, row["symbol"].encode())
                break
            except BufferError:
                producer.poll(0.01)
        bars_out += 1
producer.flush()
elapsed = time.time() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
print(orjson.dumps({"records": len(values), "bars": bars_out, "seconds": elapsed,
                    "rate": len(values) / elapsed, "cpuSeconds": usage.ru_utime + usage.ru_stime}).decode())
