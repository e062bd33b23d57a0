#!/usr/bin/env python3
"""End-to-end latency of `scripts/bench.sh latency`, measured from the bronze table alone:
for every record, latency = the time of the Delta commit that added its file (the commit's
`commitInfo.timestamp`, from `_delta_log/*.json`) - its Kafka timestamp (`_kafka_timestamp`). Prints p50/p99/max per minute
of Kafka time, and exits 1 when a minute's p99 is 1 s or more.

    bench_latency.py BRONZE_TABLE
"""
import glob
import json
import os
import sys
from collections import defaultdict
from urllib.parse import unquote

import pyarrow.compute as pc
import pyarrow.parquet as pq

root = sys.argv[1]
adds = []  # (commit time ms, file path)
for log in sorted(glob.glob(os.path.join(root, "_delta_log", "*.json"))):
    actions = [json.loads(line) for line in open(log) if line.strip()]
    ts = next((a["commitInfo"].get("timestamp") for a in actions if "commitInfo" in a), None)
    for a in actions:
        if "add" in a and a["add"].get("dataChange", True) and ts is not None:
            adds.append((ts, unquote(a["add"]["path"])))
per_minute = defaultdict(list)
for committed_ms, path in adds:
    ts = pq.read_table(os.path.join(root, path), columns=["_kafka_timestamp"]).column(0)
    for v in pc.cast(ts, "int64").to_pylist():
        if v is None:
            continue
        kafka_ms = v / 1000  # µs → ms
        per_minute[int(kafka_ms // 60000)].append(committed_ms - kafka_ms)
if not per_minute:
    sys.exit("latency: no records")
first = min(per_minute)
worst = 0.0
print("minute  records   p50 ms   p99 ms   max ms")
for m in sorted(per_minute):
    xs = sorted(per_minute[m])
    p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
    worst = max(worst, p(0.99))
    print(f"{m - first:6d}  {len(xs):7d}  {p(0.5):7.0f}  {p(0.99):7.0f}  {xs[-1]:7.0f}")
print(f"latency: worst per-minute p99 {worst:.0f} ms (target < 1000 ms)")
sys.exit(0 if worst < 1000 else 1)
