"""Charts bench/soak.csv: RSS and heap of each worker, consumer lag, and p99 ingest → stored."""
import csv, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

source, target = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(source)))
num = lambda v: float(v) if v not in ("", None) else float("nan")
t = [num(r["seconds"]) / 60 for r in rows]
fig, (mem, lag, lat) = plt.subplots(3, 1, figsize=(10, 10), sharex=True)
for w in ("ingest", "transform", "sink"):
    mem.plot(t, [num(r[f"rss_{w}_mib"]) for r in rows], label=f"{w} RSS")
    mem.plot(t, [num(r[f"heap_{w}_mib"]) for r in rows], "--", label=f"{w} heap")
mem.set_ylabel("MiB"); mem.legend(ncol=3, fontsize=8); mem.grid(alpha=0.3)
lag.plot(t, [num(r["lag_transform"]) for r in rows], label="transform lag (ticks)")
lag.plot(t, [num(r["lag_sink"]) for r in rows], label="sink lag (bar versions)")
lag.set_ylabel("records"); lag.legend(fontsize=8); lag.grid(alpha=0.3)
lat.plot(t, [num(r["p99_postgres_ms"]) for r in rows], label="p99 ingest → PostgreSQL")
lat.plot(t, [num(r["p99_elasticsearch_ms"]) for r in rows], label="p99 ingest → Elasticsearch")
lat.set_ylabel("ms (last 10 s)"); lat.set_xlabel("minutes"); lat.legend(fontsize=8); lat.grid(alpha=0.3)
fig.suptitle("soak: the pipeline at 50% of its maximum")
fig.tight_layout()
fig.savefig(target, dpi=110)
