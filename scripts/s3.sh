#!/usr/bin/env bash
# A local S3-compatible server (moto's server, from PyPI) on 127.0.0.1, with a bucket.
#
#   scripts/s3.sh start    start (idempotent), wait until it answers, create the bucket
#   scripts/s3.sh stop     stop it (its objects are in memory: they go with it)
#   scripts/s3.sh status   exit 0 if it answers
#   scripts/s3.sh env      print the environment that points lakectl (and boto/duckdb) at it
#
# moto honours conditional writes (a second `If-None-Match: *` put of an object answers
# 412), which Delta commits rely on. It accepts any credentials.
# Env: S3_PORT (9000), S3_BUCKET (lakectl), LAKECTL_STATE (.lakectl).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
source "$here/scripts/lib.sh"
state="${LAKECTL_STATE:-$here/.lakectl}"
port="${S3_PORT:-9000}"
bucket="${S3_BUCKET:-lakectl}"
pidfile="$state/s3-$port.pid"
logfile="$state/s3-$port.log"
mkdir -p "$state"

say() { echo "s3: $*" >&2; }

# Creates the bucket (an existing one is fine).
make_bucket() {
  "$py" - "$port" "$bucket" <<'EOF'
import sys, urllib.request, urllib.error
port, bucket = sys.argv[1], sys.argv[2]
req = urllib.request.Request(f"http://127.0.0.1:{port}/{bucket}", method="PUT")
try:
    urllib.request.urlopen(req, timeout=10).read()
except urllib.error.HTTPError as e:
    body = e.read().decode(errors="replace")
    if "BucketAlreadyOwnedByYou" not in body and "BucketAlreadyExists" not in body:
        sys.exit(f"creating bucket {bucket}: HTTP {e.code}: {body[:300]}")
EOF
}

start() {
  py="$(ensure_venv 'moto[s3,server]==5.2.5')"
  if pid="$(svc_pid)" && svc_answers; then
    say "already running on 127.0.0.1:$port (pid $pid)"
  else
    svc_answers && die "port $port is taken by another process; set S3_PORT"
    local bin; bin="$(dirname "$py")/moto_server"
    [[ -x "$bin" ]] || die "no moto_server in the venv ($bin)"
    say "starting moto's S3 server on 127.0.0.1:$port, log $logfile"
    svc_launch "S3 server" 30 "$bin" -H 127.0.0.1 -p "$port"
  fi
  make_bucket
  say "ready on http://127.0.0.1:$port, bucket $bucket (lake: s3://$bucket/lake)"
}

print_env() {
  cat <<EOF
export AWS_ENDPOINT_URL=http://127.0.0.1:$port
export AWS_ALLOW_HTTP=true
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=lakectl-local
export AWS_SECRET_ACCESS_KEY=lakectl-local-secret
EOF
}

case "${1:-}" in
  start) start ;;
  stop) svc_stop ;;
  status) svc_status "S3 server" "bucket $bucket" ;;
  env) print_env ;;
  *) echo "usage: $0 start | stop | status | env" >&2; exit 2 ;;
esac
