#!/usr/bin/env python3
"""Peers for `scripts/bench.sh segments`: the client dimension of jobs/dim_clients.yaml (SCD
Type 2 over client_id, tracking client_nom, pays, segment, ordered by timestamp) written as a
user would in Polars-Python or DuckDB, over the same bronze Parquet files, written as one
Parquet file. Prints "seconds rows".

    bench_scd2.py polars|duckdb BRONZE_DIR OUT_FILE [THREADS]
"""
import os
import sys

engine, root, out = sys.argv[1], sys.argv[2], sys.argv[3]
threads = sys.argv[4] if len(sys.argv) > 4 else "2"
os.environ["POLARS_MAX_THREADS"] = threads
import time  # noqa: E402

track = ["client_nom", "pays", "segment"]
t = time.time()
if engine == "polars":
    import polars as pl

    k, ts = pl.col("client_id"), pl.col("timestamp")
    same = lambda n: k.shift(n).eq_missing(k)  # noqa: E731
    near = lambda e, n: pl.when(same(n)).then(e.shift(n))  # noqa: E731
    changed = ~same(1)
    for c in track:
        changed = changed | near(pl.col(c), 1).ne_missing(pl.col(c))
    df = (
        pl.scan_parquet(f"{root}/**/*.parquet", hive_partitioning=True, hive_schema={"jour": pl.String})
        .select("client_id", *track, "timestamp")
        .filter(k.is_not_null() & ts.is_not_null())
        .sort("client_id", "timestamp", *track, maintain_order=True)
        .filter(near(ts, -1).ne_missing(ts))
        .filter(changed)
        .with_columns(valid_from=ts, valid_to=near(ts, -1))
        .with_columns(is_current=pl.col("valid_to").is_null())
        .select("client_id", *track, "valid_from", "valid_to", "is_current")
        .collect()
    )
    df.write_parquet(out)
    rows = df.height
else:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    w = "PARTITION BY client_id ORDER BY timestamp, client_nom, pays, segment"
    con.execute(f"""
        COPY (
          WITH s AS (
            SELECT client_id, client_nom, pays, segment, timestamp
            FROM read_parquet('{root}/**/*.parquet', hive_partitioning = true)
            WHERE client_id IS NOT NULL AND timestamp IS NOT NULL),
          last AS (SELECT * FROM s QUALIFY lead(timestamp) OVER ({w}) IS DISTINCT FROM timestamp),
          ch AS (
            SELECT * FROM last QUALIFY lag(client_id) OVER ({w}) IS NULL
              OR lag(client_nom) OVER ({w}) IS DISTINCT FROM client_nom
              OR lag(pays) OVER ({w}) IS DISTINCT FROM pays
              OR lag(segment) OVER ({w}) IS DISTINCT FROM segment)
          SELECT client_id, client_nom, pays, segment, timestamp AS valid_from,
                 lead(timestamp) OVER ({w}) AS valid_to,
                 lead(timestamp) OVER ({w}) IS NULL AS is_current
          FROM ch
        ) TO '{out}' (FORMAT parquet)""")
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
print(f"{time.time() - t:.3f} {rows}")
sys.stdout.flush()
os._exit(0)
