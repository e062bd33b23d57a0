#!/usr/bin/env bash
# The whole test suite: unit tests, and integration tests against a real local broker and a
# real local S3 server (both started here on private ports, stopped after), and real Delta
# tables on disk and on S3.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo"

# Chromium renders the dashboard's HTML page in the dashboard test (a screenshot checked for
# its charts) and drives the served page (DevTools protocol over a pipe); `script`
# (util-linux) gives the query prompt a pseudo-terminal.
ensure_system_packages chromium bsdutils
export LAKECTL_REQUIRE_CHROMIUM=1

export LAKECTL_STATE="${LAKECTL_STATE:-$repo/.lakectl}"
# Independent checkers from PyPI: the reference JSON Schema validator for the committed
# editor schemas, Python `deltalake` + DuckDB reading evolved tables, and the Prometheus
# project's Python client parsing /metrics.
step "a Python venv with jsonschema, PyYAML, deltalake, duckdb, prometheus-client (independent checkers)"
# DuckDB's httpfs and delta extensions from PyPI (its own download site is not reachable
# from every CI machine) read the tables on S3.
LAKECTL_TEST_PYTHON="$(ensure_venv jsonschema==4.25.1 PyYAML==6.0.3 deltalake==1.2.1 duckdb==1.4.2 pyarrow==26.0.1 \
  duckdb-extension-httpfs==1.4.2 duckdb-extension-delta==1.4.2 prometheus-client==0.26.0)"
export LAKECTL_TEST_PYTHON LAKECTL_REQUIRE_PYTHON=1
# The test broker's port: LAKECTL_TEST_PORT, else 19092, or the next free one when another
# checkout's broker holds it (a broker of this checkout is reused).
port="${LAKECTL_TEST_PORT:-}"
[[ -n "$port" ]] || port="$(free_port 19092 scripts/broker.sh KAFKA_PORT)"
export KAFKA_PORT="$port"
export KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
step "starting the test broker on $KAFKA_BROKERS"
scripts/broker.sh start
# The test S3 server (moto), on LAKECTL_TEST_S3_PORT or the next free port from 19000.
s3port="${LAKECTL_TEST_S3_PORT:-}"
[[ -n "$s3port" ]] || s3port="$(free_port 19000 scripts/s3.sh S3_PORT)"
step "starting the test S3 server on 127.0.0.1:$s3port"
S3_PORT="$s3port" scripts/s3.sh start
trap 'scripts/broker.sh stop; S3_PORT="$s3port" scripts/s3.sh stop' EXIT
export LAKECTL_TEST_S3="http://127.0.0.1:$s3port" LAKECTL_REQUIRE_S3=1

claim_target_dir
step "cargo test (profile $LAKECTL_PROFILE)"
cargo test --profile "$LAKECTL_PROFILE" --all-targets "$@"
