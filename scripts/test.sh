#!/usr/bin/env bash
# The whole test suite: unit tests, and integration tests against a real local broker
# (started here on a private port, stopped after) and real Delta tables on disk.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo"

ensure_system_packages

export KAFKA_PORT="${LAKECTL_TEST_PORT:-19092}"
export KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
export LAKECTL_STATE="${LAKECTL_STATE:-$repo/.lakectl}"
step "starting the test broker on $KAFKA_BROKERS"
scripts/broker.sh start
trap 'scripts/broker.sh stop' EXIT

step "cargo test (profile $LAKECTL_PROFILE)"
cargo test --profile "$LAKECTL_PROFILE" --all-targets "$@"
