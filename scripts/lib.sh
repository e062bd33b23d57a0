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

# Path of the built lakectl binary.
lakectl_bin() { echo "$CARGO_TARGET_DIR/$LAKECTL_PROFILE/lakectl"; }

build_lakectl() {
  claim_target_dir
  step "building lakectl (profile $LAKECTL_PROFILE, target dir $CARGO_TARGET_DIR; the first build takes a while)"
  (cd "$repo" && cargo build --profile "$LAKECTL_PROFILE" --bin lakectl) || die "cargo build failed"
}
