"""The seed's batch job, written straightforwardly: all ticks from Kafka into pandas, OHLCV bars
per symbol for 1m/5m/1h with VWAP and trade counts, the same indicators, bars back to Kafka."""
import json, sys, time
import numpy as np
import pandas as pd
from kafka import KafkaConsumer, KafkaProducer

brokers, ticks_topic, bars_topic = sys.argv[1], sys.argv[2], sys.argv[3]
started = time.time()
consumer = KafkaConsumer(ticks_topic, bootstrap_servers=brokers, auto_offset_reset="earliest",
                         group_id=f"py-transform-{time.time()}", consumer_timeout_ms=5000,
                         max_poll_records=5000, value_deserializer=json.loads)
rows = [m.value for m in consumer]
consumer.close()
read_done = time.time() - 5  # the consumer waited 5 s of silence before stopping
df = pd.DataFrame(rows)
df["ts"] = pd.to_datetime(df["ts"], utc=True)
df["pv"] = df["price"] * df["size"]
df = df.sort_values(["symbol", "ts"])

def indicators(bars, n=20, rsi_n=14):
    close = bars["close"]
    out = pd.DataFrame(index=bars.index)
    out["ret"] = close.pct_change()
    out["log_ret"] = np.log(close / close.shift())
    out["sma"] = close.rolling(n).mean()
    out["ema"] = close.ewm(span=n, adjust=False).mean()
    delta = close.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / rsi_n, adjust=False).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / rsi_n, adjust=False).mean()
    out["rsi"] = 100 * gain / (gain + loss)
    out["volatility"] = out["log_ret"].rolling(n).std()
    out["zscore"] = (close - out["sma"]) / close.rolling(n).std()
    return out

producer = KafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=5, batch_size=256 * 1024,
                         key_serializer=str.encode, value_serializer=lambda v: json.dumps(v).encode())
bars_out = 0
for interval, rule in [("1m", "1min"), ("5m", "5min"), ("1h", "1h")]:
    for symbol, g in df.groupby("symbol"):
        r = g.set_index("ts").resample(rule)
        bars = pd.DataFrame({"open": r["price"].first(), "high": r["price"].max(), "low": r["price"].min(),
                             "close": r["price"].last(), "volume": r["size"].sum(), "trades": r["price"].count(),
                             "pv": r["pv"].sum()}).dropna(subset=["open"])
        bars["vwap"] = bars["pv"] / bars["volume"]
        bars = bars.join(indicators(bars)).replace({np.nan: None})
        for start, b in bars.iterrows():
            producer.send(bars_topic, key=symbol, value={
                "symbol": symbol, "interval": interval, "start": start.isoformat(), "open": b["open"],
                "high": b["high"], "low": b["low"], "close": b["close"], "volume": b["volume"],
                "trades": int(b["trades"]), "vwap": b["vwap"], "ret": b["ret"], "logRet": b["log_ret"],
                "sma": b["sma"], "ema": b["ema"], "rsi": b["rsi"], "volatility": b["volatility"],
                "zscore": b["zscore"]})
            bars_out += 1
producer.flush()
elapsed = time.time() - started - 5
print(json.dumps({"records": len(rows), "bars": bars_out, "seconds": elapsed, "rate": len(rows) / elapsed}))
