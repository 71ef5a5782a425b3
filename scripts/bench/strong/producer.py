"""The strongest Python producer we know how to write: confluent-kafka (librdkafka) with an
idempotent acks=all producer, large linger and batch, orjson values, ticks read from the CSV with
the csv module's C reader. Prints one JSON line: records, seconds, rate, CPU seconds."""
import csv, resource, sys, time
import orjson
from confluent_kafka import Producer

brokers, topic, path = sys.argv[1], sys.argv[2], sys.argv[3]
producer = Producer({
    "bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all",
    "linger.ms": 20, "batch.size": 1_000_000, "queue.buffering.max.messages": 1_000_000,
    "compression.type": "none",
})
headers = [("schema-version", b"1"), ("record-type", b"tick")]
started = time.time()
count = 0
with open(path, newline="") as f:
    reader = csv.reader(f)
    next(reader)
    for symbol, ts, price, size in reader:
        value = orjson.dumps({"symbol": symbol, "ts": ts, "price": float(price), "size": float(size)})
        while True:
            try:
                producer.produce(topic, value, symbol.encode(), headers=headers)
                break
            except BufferError:  # the local queue is full: let librdkafka send some
                producer.poll(0.01)
        count += 1
        if count % 10000 == 0:
            producer.poll(0)
producer.flush()
elapsed = time.time() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
print(orjson.dumps({"records": count, "seconds": elapsed, "rate": count / elapsed,
                    "cpuSeconds": usage.ru_utime + usage.ru_stime}).decode())
