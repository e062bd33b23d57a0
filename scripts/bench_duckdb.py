#!/usr/bin/env python3
"""DuckDB baseline for `scripts/bench.sh silver`: the three seed aggregations over the same
bronze Parquet files. Prints "seconds rows".

    bench_duckdb.py BRONZE_DIR [THREADS] [--compare SILVER_DIR] [--day YYYY-MM-DD]

With --compare, also reads lakectl's three silver tables (Python `deltalake`) and checks that
they hold exactly DuckDB's rows (floats to 1e-9 relative); exits 1 on any difference.
"""
import math
import sys
import time

import duckdb

def option(name):
    """The value of `--name VALUE`, removed from args."""
    if name not in args:
        return None
    i = args.index(name)
    value = args[i + 1]
    del args[i : i + 2]
    return value


args = sys.argv[1:]
compare = option("--compare")
day = option("--day")  # only that day: the incremental run of the same jobs
root = args[0]
threads = args[1] if len(args) > 1 else "2"
con = duckdb.connect()
con.execute(f"SET threads TO {threads}")
src = f"read_parquet('{root}/**/*.parquet', hive_partitioning = true, hive_types = {{'jour': VARCHAR}})"
only_day = f" AND jour = '{day}'" if day else ""
queries = [
    f"""CREATE TABLE ventes_aggreges AS
        SELECT client_id, client_nom, pays, segment, jour,
               sum(quantite) AS total_quantite, sum(montant) AS total_depense, count(*) AS nb_achats,
               avg(montant) AS panier_moyen, min(montant) AS achat_min, max(montant) AS achat_max,
               count(DISTINCT produit_id) AS nb_produits_distincts,
               count(*) > 1 AS est_client_fidele,
               CASE WHEN sum(montant) >= 1000 THEN 'Premium' WHEN sum(montant) >= 200 THEN 'Standard' ELSE 'Economy' END AS segment_depense
        FROM {src} WHERE montant > 0{only_day} GROUP BY client_id, client_nom, pays, segment, jour""",
    f"""CREATE TABLE ventes_par_pays AS
        SELECT pays, jour, count(*) AS total_transactions, sum(montant) AS revenue_total,
               avg(montant) AS transaction_moyenne, sum(quantite) AS items_sold,
               count(DISTINCT client_id) AS unique_customers
        FROM {src} WHERE montant > 0{only_day} GROUP BY pays, jour""",
    f"""CREATE TABLE ventes_par_segment AS
        SELECT segment, jour, count(*) AS total_transactions, sum(montant) AS revenue_total,
               avg(montant) AS transaction_moyenne, count(DISTINCT client_id) AS unique_customers,
               count(DISTINCT pays) AS countries_count
        FROM {src} WHERE montant > 0{only_day} GROUP BY segment, jour""",
]
t = time.time()
for q in queries:
    con.execute(q)
dt = time.time() - t
names = ["ventes_aggreges", "ventes_par_pays", "ventes_par_segment"]
rows = sum(con.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names)
print(f"{dt:.3f} {rows}")

if compare:
    from deltalake import DeltaTable

    def same(a, b):
        if isinstance(a, float) and isinstance(b, float):
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
        return a == b

    bad = 0
    for n in names:
        theirs = con.execute(f"SELECT * FROM {n}").fetch_arrow_table()
        ours = DeltaTable(f"{compare}/{n}").to_pyarrow_table()
        cols = theirs.column_names
        key_cols = [c for c in ("client_id", "client_nom", "pays", "segment", "jour") if c in cols]
        def keyed(t):
            d = t.select(cols).to_pylist()
            return {tuple(str(r[k]) for k in key_cols): r for r in d}
        a, b = keyed(theirs), keyed(ours)
        if a.keys() != b.keys():
            print(f"{n}: {len(a.keys() - b.keys())} group(s) only in DuckDB, {len(b.keys() - a.keys())} only in lakectl", file=sys.stderr)
            bad += 1
            continue
        diffs = [(k, c, a[k][c], b[k][c]) for k in a for c in cols if not same(
            float(a[k][c]) if isinstance(a[k][c], (int, float)) and not isinstance(a[k][c], bool) else a[k][c],
            float(b[k][c]) if isinstance(b[k][c], (int, float)) and not isinstance(b[k][c], bool) else b[k][c])]
        if diffs:
            print(f"{n}: {len(diffs)} value(s) differ, e.g. {diffs[:3]}", file=sys.stderr)
            bad += 1
        else:
            print(f"{n}: {len(a)} rows, identical to DuckDB's", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: DuckDB's and deltalake's threads abort the interpreter's normal shutdown.
    import os

    os._exit(1 if bad else 0)
