# Shared by the scripts: sourced, not run.
# shellcheck shell=bash

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# One target directory outside the clone, so every clone, CI run and script reuses the
# expensive polars + deltalake + rdkafka build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lakectl/target}"
# The build profile of the quickstart, the tests and the benchmarks (see Cargo.toml).
export LAKECTL_PROFILE="${LAKECTL_PROFILE:-fast-release}"

# A Python venv under $LAKECTL_STATE (default .lakectl/venv) holding the given PyPI packages
# (pinned by the caller); prints its python.
ensure_venv() {
  local venv="${LAKECTL_STATE:-$repo/.lakectl}/venv"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" >&2 || die "python3 -m venv failed"
  "$venv/bin/pip" install --quiet "$@" >&2 || die "pip install $* failed"
  echo "$venv/bin/python"
}

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the Debian packages the build and the broker need, and any named as arguments,
# when missing.
ensure_system_packages() {
  local need=()
  for p in build-essential pkg-config zlib1g-dev libssl-dev python3 python3-venv "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  # A Python with a working venv module (e.g. pyenv's) also does.
  if [[ " ${need[*]} " == *" python3-venv "* ]] && python3 -c 'import venv, ensurepip' 2>/dev/null; then
    need=("${need[@]/python3-venv}")
  fi
  if [[ " ${need[*]} " == *" python3 "* ]] && command -v python3 >/dev/null; then
    need=("${need[@]/python3}")
  fi
  local missing=()
  for p in "${need[@]}"; do [[ -n "$p" ]] && missing+=("$p"); done
  if (( ${#missing[@]} )); then
    step "installing system packages: ${missing[*]}"
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" || die "apt-get install ${missing[*]} failed"
  fi
  command -v cargo >/dev/null || die "cargo is missing: install the Rust toolchain (rustup)"
}

# Several checkouts may share the target dir, and cargo judges freshness by file times: a
# build from another checkout can look newer than this checkout's sources and be reused.
# When the last build came from elsewhere, mark this checkout's sources as changed.
claim_target_dir() {
  local stamp="$CARGO_TARGET_DIR/.lakectl-checkout"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$repo" ]]; then
    find "$repo/src" "$repo/tests" "$repo/examples" -name '*.rs' -exec touch {} +
    mkdir -p "$CARGO_TARGET_DIR"
    echo "$repo" >"$stamp"
  fi
}

# Path of the built lakectl binary (LAKECTL_BIN: a binary built already, from these sources).
lakectl_bin() { echo "${LAKECTL_BIN:-$CARGO_TARGET_DIR/$LAKECTL_PROFILE/lakectl}"; }

build_lakectl() {
  if [[ -n "${LAKECTL_BIN:-}" ]]; then
    [[ -x "$LAKECTL_BIN" ]] || die "LAKECTL_BIN=$LAKECTL_BIN is not an executable"
    step "using the lakectl binary LAKECTL_BIN=$LAKECTL_BIN (no build)"
    return 0
  fi
  claim_target_dir
  step "building lakectl (profile $LAKECTL_PROFILE, target dir $CARGO_TARGET_DIR; the first build takes a while)"
  (cd "$repo" && cargo build --profile "$LAKECTL_PROFILE" --bin lakectl) || die "cargo build failed"
}

# A local background service (the broker, the S3 server) on 127.0.0.1:$port, with its pid
# in $pidfile, its log in $logfile and its working folder $state: the caller's variables.
# `say` prefixes the caller's messages.

# True when something answers on the port.
svc_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# The pid of the service this checkout started, if it runs.
svc_pid() {
  [[ -f "$pidfile" ]] || return 1
  local pid; pid="$(cat "$pidfile")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# svc_launch WHAT SECONDS CMD...: starts CMD in $state (output to $logfile) and waits until
# the port answers; dies with the log's tail if it exits or does not answer in time.
svc_launch() {
  local what="$1" secs="$2"; shift 2
  (cd "$state" && exec nohup "$@" >"$logfile" 2>&1) &
  echo $! >"$pidfile"
  for _ in $(seq 1 $((secs * 5))); do
    svc_answers && return 0
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { tail -20 "$logfile" >&2; die "the $what exited; see $logfile"; }
    sleep 0.2
  done
  die "the $what did not answer on port $port within $secs s; see $logfile"
}

# Stops the service (TERM, then KILL after 5 s).
svc_stop() {
  local pid
  if pid="$(svc_pid)"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped (pid $pid)"
  else
    say "not running"
  fi
  rm -f "$pidfile"
}

# svc_status WHAT [DETAIL]: prints whether it runs; exit 1 when it does not.
svc_status() {
  local pid
  if pid="$(svc_pid)" && svc_answers; then
    echo "$1 running on 127.0.0.1:$port (pid $pid)${2:+, $2}"
  else
    echo "$1 not running on 127.0.0.1:$port"
    return 1
  fi
}

# free_port FROM SCRIPT VAR: FROM, or the next port that nothing answers on, unless SCRIPT
# (run with VAR=port) says its own service of this checkout holds it (then it is reused).
free_port() {
  local p="$1"
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! env "$3=$p" "$2" status >/dev/null 2>&1; do
    p=$((p + 1))
  done
  echo "$p"
}
