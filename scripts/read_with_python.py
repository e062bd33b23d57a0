#!/usr/bin/env python3
"""Reads lakectl's Delta tables with other readers: Python `deltalake` + `polars`, and DuckDB.

    scripts/read_with_python.py [LAKE]   (default: $LAKECTL_LAKE, else ./lake)

LAKE is a folder or an s3:// URL (reached with the AWS_* environment, as lakectl does).
Prints each table's version, row count and first rows, and DuckDB's count of the same table
when DuckDB (and, for S3, its httpfs + delta extensions from PyPI) is installed. Needs
`pip install deltalake polars pyarrow`; says so and exits 0 when they are missing.
"""
import glob
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

s3 = lake.startswith(("s3://", "s3a://"))
env = os.environ
endpoint = env.get("AWS_ENDPOINT_URL", "")
storage = {k: env[k] for k in ("AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP", "AWS_REGION",
                               "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                               "AWS_SESSION_TOKEN") if env.get(k)}


def tables():
    """The folders (or S3 prefixes) holding a `_delta_log`."""
    if not s3:
        for root, dirs, _ in os.walk(lake):
            if "_delta_log" in dirs:
                dirs.clear()
                yield root
        return
    from pyarrow import fs
    s3fs = fs.S3FileSystem(
        endpoint_override=endpoint or None,
        scheme="http" if endpoint.startswith("http://") else "https",
        region=env.get("AWS_REGION", "us-east-1"),
        access_key=env.get("AWS_ACCESS_KEY_ID"),
        secret_key=env.get("AWS_SECRET_ACCESS_KEY"),
        session_token=env.get("AWS_SESSION_TOKEN"),
    )
    prefix = lake.split("://", 1)[1].rstrip("/")
    found = set()
    for info in s3fs.get_file_info(fs.FileSelector(prefix, recursive=True)):
        if "/_delta_log/" in info.path:
            found.add(info.path.split("/_delta_log/")[0])
    for path in sorted(found):
        if not any(path.startswith(f + "/") for f in found):
            yield "s3://" + path


def duckdb_count(uri):
    """DuckDB's row count of the table, or why there is none."""
    try:
        import duckdb
    except ImportError:
        return "skipped (pip install duckdb)"
    con = duckdb.connect()
    try:
        if s3:
            import duckdb_extension_delta
            import duckdb_extension_httpfs
            for m in (duckdb_extension_httpfs, duckdb_extension_delta):
                (ext,) = glob.glob(os.path.join(os.path.dirname(m.__file__), "extensions", "*", "*.duckdb_extension"))
                con.execute(f"LOAD '{ext}'")
            host = endpoint.split("://", 1)[-1]
            parts = [f"TYPE S3, REGION '{env.get('AWS_REGION', 'us-east-1')}'",
                     f"KEY_ID '{env.get('AWS_ACCESS_KEY_ID', '')}'",
                     f"SECRET '{env.get('AWS_SECRET_ACCESS_KEY', '')}'"]
            if host:
                parts += [f"ENDPOINT '{host}'", "URL_STYLE 'path'",
                          f"USE_SSL {'false' if endpoint.startswith('http://') else 'true'}"]
            con.execute(f"CREATE SECRET ({', '.join(parts)})")
            return con.execute(f"SELECT count(*) FROM delta_scan('{uri}')").fetchone()[0]
        files = DeltaTable(uri).file_uris()
        if not files:
            return 0
        return con.execute("SELECT count(*) FROM read_parquet(?)", [files]).fetchone()[0]
    except ImportError as e:
        return f"skipped (pip install {e.name.replace('_', '-')})"


found = 0
for uri in tables():
    found += 1
    t = DeltaTable(uri, storage_options=storage or None)
    df = pl.from_arrow(t.to_pyarrow_table())
    print(f"{uri}: version {t.version()}, {df.height} rows (DuckDB: {duckdb_count(uri)}), "
          f"partitioned by {t.metadata().partition_columns}")
    print(df.head(3))
if not found:
    print(f"no Delta table under {lake}")
    sys.exit(1)
