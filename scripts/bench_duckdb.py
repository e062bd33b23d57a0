#!/usr/bin/env python3
"""DuckDB baseline for `scripts/bench.sh silver`: the three seed aggregations over the same
bronze Parquet files. Prints the wall time in seconds."""
import sys
import time

import duckdb

root = sys.argv[1]
threads = sys.argv[2] if len(sys.argv) > 2 else "2"
con = duckdb.connect()
con.execute(f"SET threads TO {threads}")
src = f"read_parquet('{root}/**/*.parquet', hive_partitioning = true, hive_types = {{'jour': VARCHAR}})"
queries = [
    f"""CREATE TABLE ventes_aggreges AS
        SELECT client_id, client_nom, pays, segment, jour,
               sum(quantite) AS total_quantite, sum(montant) AS total_depense, count(*) AS nb_achats,
               avg(montant) AS panier_moyen, min(montant) AS achat_min, max(montant) AS achat_max,
               count(DISTINCT produit_id) AS nb_produits_distincts,
               count(*) > 1 AS est_client_fidele,
               CASE WHEN sum(montant) >= 1000 THEN 'Premium' WHEN sum(montant) >= 200 THEN 'Standard' ELSE 'Economy' END AS segment_depense
        FROM {src} WHERE montant > 0 GROUP BY client_id, client_nom, pays, segment, jour""",
    f"""CREATE TABLE ventes_par_pays AS
        SELECT pays, jour, count(*) AS total_transactions, sum(montant) AS revenue_total,
               avg(montant) AS transaction_moyenne, sum(quantite) AS items_sold,
               count(DISTINCT client_id) AS unique_customers
        FROM {src} WHERE montant > 0 GROUP BY pays, jour""",
    f"""CREATE TABLE ventes_par_segment AS
        SELECT segment, jour, count(*) AS total_transactions, sum(montant) AS revenue_total,
               avg(montant) AS transaction_moyenne, count(DISTINCT client_id) AS unique_customers,
               count(DISTINCT pays) AS countries_count
        FROM {src} WHERE montant > 0 GROUP BY segment, jour""",
]
t = time.time()
for q in queries:
    con.execute(q)
dt = time.time() - t
rows = sum(con.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in ["ventes_aggreges", "ventes_par_pays", "ventes_par_segment"])
print(f"{dt:.3f} {rows}")
