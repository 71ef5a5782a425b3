"""The seed's producer, written straightforwardly: ticks from a CSV file to Kafka with
kafka-python (JSON values, keyed by symbol, acks=all). Prints one JSON line of stats."""
import csv, json, sys, time
from kafka import KafkaProducer

brokers, topic, path = sys.argv[1], sys.argv[2], sys.argv[3]
producer = KafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=5, batch_size=256 * 1024,
                         key_serializer=str.encode, value_serializer=lambda v: json.dumps(v).encode())
started = time.time()
count = 0
with open(path) as f:
    for row in csv.DictReader(f):
        producer.send(topic, key=row["symbol"], value={
            "symbol": row["symbol"], "ts": row["ts"], "price": float(row["price"]), "size": float(row["size"])},
            headers=[("schema-version", b"1"), ("record-type", b"tick")])
        count += 1
producer.flush()
elapsed = time.time() - started
print(json.dumps({"records": count, "seconds": elapsed, "rate": count / elapsed}))
