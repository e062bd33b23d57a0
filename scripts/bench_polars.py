#!/usr/bin/env python3
"""Polars-Python peer for `scripts/bench.sh silver`: the three seed jobs written as a user
would write them in Python, over the same bronze Parquet files, each result written as a
Parquet file (lakectl writes Delta tables). Prints "seconds rows".

    bench_polars.py BRONZE_DIR OUT_DIR [THREADS] [DAY]

With DAY (YYYY-MM-DD), only that day is recomputed (the incremental run of the same jobs:
Polars prunes the other `jour` partitions).
"""
import os
import sys

threads = sys.argv[3] if len(sys.argv) > 3 else "2"
day = sys.argv[4] if len(sys.argv) > 4 else None
os.environ["POLARS_MAX_THREADS"] = threads
import time  # noqa: E402

import polars as pl  # noqa: E402

root, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
t = time.time()
src = pl.scan_parquet(
    f"{root}/**/*.parquet",
    hive_partitioning=True,
    hive_schema={"jour": pl.String},
).filter(pl.col("montant") > 0)
if day:
    src = src.filter(pl.col("jour") == day)
m = pl.col("montant")
jobs = {
    "ventes_aggreges": src.group_by("client_id", "client_nom", "pays", "segment", "jour")
    .agg(
        total_quantite=pl.col("quantite").sum(),
        total_depense=m.sum(),
        nb_achats=pl.len(),
        panier_moyen=m.mean(),
        achat_min=m.min(),
        achat_max=m.max(),
        nb_produits_distincts=pl.col("produit_id").n_unique(),
    )
    .with_columns(
        est_client_fidele=pl.col("nb_achats") > 1,
        segment_depense=pl.when(pl.col("total_depense") >= 1000)
        .then(pl.lit("Premium"))
        .when(pl.col("total_depense") >= 200)
        .then(pl.lit("Standard"))
        .otherwise(pl.lit("Economy")),
    ),
    "ventes_par_pays": src.group_by("pays", "jour").agg(
        total_transactions=pl.len(),
        revenue_total=m.sum(),
        transaction_moyenne=m.mean(),
        items_sold=pl.col("quantite").sum(),
        unique_customers=pl.col("client_id").n_unique(),
    ),
    "ventes_par_segment": src.group_by("segment", "jour").agg(
        total_transactions=pl.len(),
        revenue_total=m.sum(),
        transaction_moyenne=m.mean(),
        unique_customers=pl.col("client_id").n_unique(),
        countries_count=pl.col("pays").n_unique(),
    ),
}
rows = 0
for name, lf in jobs.items():
    df = lf.collect()
    df.write_parquet(f"{out}/{name}.parquet")
    rows += df.height
print(f"{time.time() - t:.3f} {rows}")
