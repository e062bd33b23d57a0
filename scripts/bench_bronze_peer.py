#!/usr/bin/env python3
"""The Python peer of `lakectl run bronze` for scripts/bench.sh bronze: confluent-kafka ->
polars -> deltalake, the same topic drained in batches of 50,000 into a Delta table
partitioned by day, with the same fetch settings. (No quarantine, no watermark, no offsets in
the commit: less work than lakectl does.)

    bench_bronze_peer.py BROKERS TOPIC PARTITIONS TABLE_PATH
"""
import sys
import time

import polars as pl
from confluent_kafka import Consumer, KafkaError, TopicPartition
from deltalake import write_deltalake

brokers, topic, partitions, table = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
schema = {
    "vente_id": pl.Int64, "client_id": pl.Int64, "produit_id": pl.Int64, "timestamp": pl.String,
    "quantite": pl.Int32, "montant": pl.Float64, "client_nom": pl.String, "produit_nom": pl.String,
    "categorie": pl.String, "pays": pl.String, "segment": pl.String,
}
consumer = Consumer({
    "bootstrap.servers": brokers, "group.id": "peer", "enable.auto.commit": False,
    "enable.partition.eof": True, "queued.min.messages": 100000,
    "queued.max.messages.kbytes": 32768, "fetch.wait.max.ms": 50,
    "fetch.max.bytes": 67108864, "max.partition.fetch.bytes": 16777216,
    "fetch.queue.backoff.ms": 10,
})
consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
start = time.time()
done, total = set(), 0
while len(done) < partitions:
    payloads = []
    for m in consumer.consume(50000, timeout=1.0):
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                done.add(m.partition())
                continue
            raise SystemExit(f"kafka: {m.error()}")
        payloads.append(m.value())
    if not payloads:
        continue
    df = pl.read_ndjson(b"\n".join(payloads), schema=schema).with_columns(
        pl.col("timestamp").str.to_datetime(time_unit="us", time_zone="UTC"),
    ).with_columns(jour=pl.col("timestamp").dt.strftime("%Y-%m-%d"))
    write_deltalake(table, df.to_arrow(), mode="append", partition_by=["jour"])
    total += len(payloads)
elapsed = time.time() - start
print(f"peer records={total} seconds={elapsed:.3f} records_per_s={total / elapsed:.0f}")
