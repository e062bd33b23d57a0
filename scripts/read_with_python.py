#!/usr/bin/env python3
"""Reads lakectl's Delta tables with another Delta reader: Python `deltalake` + `polars`.

    scripts/read_with_python.py [LAKE]   (default: ./lake)

Prints each table's version, row count and first rows. Needs `pip install deltalake polars pyarrow`;
says so and exits 0 when they are missing.
"""
import os
import sys

lake = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("LAKECTL_LAKE", "lake")
try:
    import polars as pl
    import pyarrow  # noqa: F401  (deltalake reads through it)
    from deltalake import DeltaTable
except ImportError as e:
    print(f"skipped: {e.name} is not installed (pip install deltalake polars pyarrow)")
    sys.exit(0)

found = 0
for root, dirs, _ in os.walk(lake):
    if "_delta_log" in dirs:
        dirs.clear()
        found += 1
        t = DeltaTable(root)
        df = pl.from_arrow(t.to_pyarrow_table())
        print(f"{root}: version {t.version()}, {df.height} rows, partitioned by {t.metadata().partition_columns}")
        print(df.head(3))
if not found:
    print(f"no Delta table under {lake}")
    sys.exit(1)
