#!/usr/bin/env bash
# Benchmarks (release-type build, local memory broker on a private port).
#   scripts/bench.sh produce   producer rate with --rate max, one and two processes
#   scripts/bench.sh bronze    drain a backlog (BENCH_RECORDS, default 1M): lakectl vs a raw
#                              librdkafka drain of the same topic and vs a Python peer
#                              (confluent-kafka -> polars -> deltalake), plus peak RSS
#   scripts/bench.sh decode    1M seed payloads decoded by lakectl (tape path), Polars' NDJSON
#                              reader and arrow-json's Decoder: wall and CPU time, no broker
#   scripts/bench.sh silver    a generated bronze table (BENCH_SILVER_ROWS, default 10M, 30 days,
#                              GEN_CLIENTS clients, default 2000): the three seed jobs in lakectl,
#                              Polars-Python and DuckDB (PyPI) over the same files, time and peak
#                              RSS; lakectl's outputs checked against DuckDB's; then one new day
#                              and an incremental run. 100M rows: BENCH_SILVER_ROWS=100000000
#                              BENCH_SILVER_PEERS=0 (the peers need more memory than the machine)
#   scripts/bench.sh segments  the same kind of table with clients changing: dim_clients (SCD2)
#                              in lakectl, Polars-Python and DuckDB, outputs compared; an
#                              incremental run after one new day; rfm_clients (k-means)
#   scripts/bench.sh open      table open time after BENCH_COMMITS (default 1000) tiny commits,
#                              with delta-rs' checkpoints vs replaying the whole JSON log
#   scripts/bench.sh commits   commit growth: BENCH_COMMITS (default 1600) batches of 10 records
#                              into one table; median commit time of batches 100-400 vs the
#                              last 300 (issue: within 1.5x)
#   scripts/bench.sh latency   a live producer at BENCH_RATE (default 1000) records/s for
#                              BENCH_MINUTES (default 10) into `run bronze` (max_wait 500ms);
#                              latency = Delta commit time - Kafka timestamp, p50/p99 per minute.
#                              The producer batches for BENCH_LINGER (default 100ms): the local
#                              Tansu broker slows down as it stores more tiny record batches
#                              (BENCH_LINGER=5ms shows it), which is not what is measured here
#   scripts/bench.sh s3        the lake on the local S3 server (scripts/s3.sh, moto) beside the
#                              local disk: bronze drain of the same backlog (BENCH_S3_RECORDS,
#                              default 1M; 500 clients over 30 days) and the three seed jobs
#                              over it, time and peak RSS
#   scripts/bench.sh serve     a backlog (BENCH_SERVE_RECORDS, default 8M; 500 clients, 30 days)
#                              drained by `run bronze` alone, then again while `lakectl serve`
#                              watches that lake and BENCH_SERVE_CLIENTS (default 100) clients
#                              poll /api/dashboard once a second for 60 s: bronze's rate in
#                              both runs, the clients' p50/p99, computations per interval
#   scripts/bench.sh all       everything (default)
# Figures are ratios measured in the same run; paste them into BENCHMARKS.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo"

what="${1:-all}"
n="${BENCH_RECORDS:-1000000}"
ensure_system_packages
build_lakectl
(cd "$repo" && cargo build --profile "$LAKECTL_PROFILE" --example raw_drain --example gen_bronze --example open_bench --example decode_bench) || die "building the bench examples failed"
lakectl="$(lakectl_bin)"
raw="$CARGO_TARGET_DIR/$LAKECTL_PROFILE/examples/raw_drain"

export KAFKA_PORT="${BENCH_PORT:-29092}"
export KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
# A fresh broker: the memory engine keeps everything in RAM.
scripts/broker.sh stop >/dev/null 2>&1 || true
scripts/broker.sh start
trap 'scripts/broker.sh stop' EXIT

work="$(mktemp -d)"
export BENCH_WORK="$work"
trap 'scripts/broker.sh stop; rm -rf "$work"' EXIT
sed -e "s#lake: .*#lake: $work/lake#" pipelines.yaml >"$work/pipelines.yaml"
export LAKECTL_CONFIG="$work/pipelines.yaml"

# Peak RSS (KiB) and wall seconds of a command: "rss_kib seconds". Also prints to stderr the
# RSS sampled at each quarter of the run, to show whether memory stays flat.
measure() {
  python3 - "$@" <<'PY'
import subprocess, sys, threading, time
t = time.time()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
samples = []
def sample():
    # RSS every 50 ms, beside the wait: the wall time is not rounded up to a poll.
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            samples.append((time.time() - t, rss))
        except (OSError, StopIteration):
            pass
        time.sleep(0.05)
threading.Thread(target=sample, daemon=True).start()
out, err = p.communicate()
dt = time.time() - t
if p.returncode != 0:
    sys.stderr.write(out + err)
    sys.exit(p.returncode)
sys.stderr.write(out)
if samples:
    q = [samples[min(len(samples) - 1, int(len(samples) * f))][1] // 1024 for f in (0.25, 0.5, 0.75, 0.99)]
    sys.stderr.write(f"RSS at 25/50/75/100% of the run: {q[0]}/{q[1]}/{q[2]}/{q[3]} MiB\n")
import os, resource
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
# CPU seconds (user + system) of the command, for per-record costs.
with open(os.path.join(os.environ.get("BENCH_WORK", "/tmp"), "last_cpu"), "w") as f:
    f.write(f"{ru.ru_utime + ru.ru_stime:.3f}")
print(ru.ru_maxrss, f"{dt:.3f}")
PY
}

bench_produce() {
  step "producer: $n records, --rate max, one process"
  "$lakectl" topic create bench_produce --partitions 3 >/dev/null
  read -r _ t1 < <(measure "$lakectl" produce --topic bench_produce --count "$n" --rate max --seed 1)
  r1=$(python3 -c "print(round($n/$t1))")
  step "producer: two processes at once, $n records each"
  "$lakectl" topic create bench_produce2 --partitions 3 >/dev/null
  start=$(date +%s.%N)
  "$lakectl" produce --topic bench_produce2 --count "$n" --rate max --seed 2 >/dev/null &
  p1=$!
  "$lakectl" produce --topic bench_produce2 --count "$n" --rate max --seed 3 --first-id 100000000 >/dev/null &
  p2=$!
  wait $p1 $p2
  end=$(date +%s.%N)
  r2=$(python3 -c "print(round(2*$n/($end-$start)))")
  echo "produce: one process ${r1} records/s; two processes together ${r2} records/s (ratio $(python3 -c "print(round($r2/$r1,2))"))"
}

bench_bronze() {
  step "bronze: producing a backlog of $n records"
  "$lakectl" topic create ventes_stream --partitions 3 >/dev/null
  "$lakectl" produce --count "$n" --rate max --seed 7 >/dev/null
  step "raw librdkafka drain of the same topic"
  read -r raw_rss raw_t < <(measure "$raw" "$KAFKA_BROKERS" ventes_stream 3)
  step "lakectl run bronze --until-caught-up"
  read -r rss t < <(measure "$lakectl" run bronze --until-caught-up)
  local cpu; cpu="$(cat "$work/last_cpu")"
  raw_rate=$(python3 -c "print(round($n/$raw_t))")
  rate=$(python3 -c "print(round($n/$t))")
  echo "bronze: lakectl ${rate} records/s (${t}s, peak RSS $((rss/1024)) MiB) vs raw drain ${raw_rate} records/s (${raw_t}s, peak RSS $((raw_rss/1024)) MiB): ratio $(python3 -c "print(round($rate/$raw_rate,2))"); lakectl CPU ${cpu}s = $(python3 -c "print(round($cpu*1e6/$n,2))") µs per record"
  step "the Python peer (confluent-kafka -> polars -> deltalake, PyPI) on the same topic"
  local py; py="$(ensure_venv confluent-kafka==2.12.1 polars==1.35.2 deltalake==1.2.1 pyarrow==26.0.1)"
  read -r peer_rss peer_t < <(measure "$py" scripts/bench_bronze_peer.py "$KAFKA_BROKERS" ventes_stream 3 "$work/peer")
  echo "bronze: Python peer $(python3 -c "print(round($n/$peer_t))") records/s (${peer_t}s, peak RSS $((peer_rss/1024)) MiB): lakectl/peer $(python3 -c "print(round($peer_t/$t,2))")x"
}

# The setting of the silver benchmarks, in the caller's locals: rows, gen (the bronze
# generator), py (a venv with the peers), sw (a work folder named $1 with its own spec and
# lake, the repo's jobs) and bronze (its bronze table).
silver_setup() {
  rows="${BENCH_SILVER_ROWS:-10000000}" gen="$CARGO_TARGET_DIR/$LAKECTL_PROFILE/examples/gen_bronze"
  step "the peers (PyPI: duckdb, polars, deltalake, pyarrow) in a venv"
  py="$(ensure_venv duckdb==1.4.2 polars==1.35.2 deltalake==1.2.1 pyarrow==26.0.1)"
  sw="$work/$1"; mkdir -p "$sw"
  sed -e "s#lake: .*#lake: $sw/lake#" -e "s#jobs: .*#jobs: $repo/jobs/#" pipelines.yaml >"$sw/pipelines.yaml"
  bronze="$sw/lake/bronze/ventes_stream"
}

bench_silver() {
  local rows gen py sw bronze; silver_setup silver
  step "silver: generating a bronze table of $rows rows over 30 days (${GEN_CLIENTS:-2000} clients)"
  "$gen" "$sw/pipelines.yaml" "$rows" 2024-11-01T00:00:00Z 30 >&2
  echo "silver: bronze Parquet $(du -sh "$bronze" | cut -f1), $(find "$bronze" -name '*.parquet' | wc -l) files"
  step "silver: lakectl, full run of the three seed jobs"
  read -r rss_full t_full < <(measure "$lakectl" --config "$sw/pipelines.yaml" run ventes_aggreges ventes_par_pays ventes_par_segment)
  echo "silver: lakectl full run ${t_full}s, peak RSS $((rss_full / 1024)) MiB"
  if [[ "${BENCH_SILVER_PEERS:-1}" != 0 ]]; then
    step "silver: Polars-Python, the same three jobs over the same Parquet files"
    read -r rss_py t_py < <(measure "$py" scripts/bench_polars.py "$bronze" "$sw/py" 2)
    step "silver: DuckDB, the same three jobs over the same Parquet files"
    read -r rss_duck t_duck < <(measure "$py" scripts/bench_duckdb.py "$bronze" 2)
    echo "silver: Polars-Python ${t_py}s, peak RSS $((rss_py / 1024)) MiB; DuckDB ${t_duck}s, peak RSS $((rss_duck / 1024)) MiB"
    echo "silver: lakectl/Polars-Python time $(python3 -c "print(round($t_full/$t_py,2))"), RSS $(python3 -c "print(round($rss_full/$rss_py,2))"); lakectl/DuckDB time $(python3 -c "print(round($t_full/$t_duck,2))"), RSS $(python3 -c "print(round($rss_full/$rss_duck,2))")"
    step "silver: lakectl's tables against DuckDB's results"
    "$py" scripts/bench_duckdb.py "$bronze" 2 --compare "$sw/lake/silver" >/dev/null || die "lakectl's silver tables differ from DuckDB's"
  fi
  step "silver: one new day ($((rows / 30)) rows), then an incremental run"
  "$gen" "$sw/pipelines.yaml" "$((rows / 30))" 2024-12-01T00:00:00Z 0.999 900000000 >&2
  read -r rss_incr t_incr < <(measure "$lakectl" --config "$sw/pipelines.yaml" run ventes_aggreges ventes_par_pays ventes_par_segment)
  echo "silver: incremental ${t_incr}s (peak RSS $((rss_incr / 1024)) MiB); full/incremental $(python3 -c "print(round($t_full/$t_incr,1))")x"
  if [[ "${BENCH_SILVER_PEERS:-1}" != 0 ]]; then
    step "silver: the peers recompute the same new day (their partition pruning)"
    read -r rss_py_i t_py_i < <(measure "$py" scripts/bench_polars.py "$bronze" "$sw/py_incr" 2 2024-12-01)
    read -r rss_duck_i t_duck_i < <(measure "$py" scripts/bench_duckdb.py "$bronze" 2 --day 2024-12-01)
    echo "silver: incremental, Polars-Python ${t_py_i}s (peak RSS $((rss_py_i / 1024)) MiB), DuckDB ${t_duck_i}s (peak RSS $((rss_duck_i / 1024)) MiB)"
  fi
}

bench_segments() {
  local rows gen py sw bronze; silver_setup segments
  step "segments: a bronze table of $rows rows over 30 days, 2000 clients, 0.1% of sales changing their client"
  GEN_CLIENT_CHANGES=0.001 "$gen" "$sw/pipelines.yaml" "$rows" 2024-11-01T00:00:00Z 30 >&2
  step "segments: lakectl dim_clients (SCD2), full run"
  read -r rss_l t_l < <(measure "$lakectl" --config "$sw/pipelines.yaml" run dim_clients)
  read -r rss_p t_p < <(measure "$py" scripts/bench_scd2.py polars "$bronze" "$sw/scd2_polars.parquet" 2)
  read -r rss_d t_d < <(measure "$py" scripts/bench_scd2.py duckdb "$bronze" "$sw/scd2_duckdb.parquet" 2)
  echo "segments: dim_clients full: lakectl ${t_l}s ($((rss_l / 1024)) MiB), Polars-Python ${t_p}s ($((rss_p / 1024)) MiB), DuckDB ${t_d}s ($((rss_d / 1024)) MiB)"
  "$py" - "$sw/lake/silver/dim_clients" "$sw/scd2_duckdb.parquet" <<'PY' || die "lakectl's dimension differs from DuckDB's"
import sys, duckdb
from deltalake import DeltaTable
d = DeltaTable(sys.argv[1]).to_pyarrow_table()
q = "select client_id, client_nom, pays, segment, epoch_us(valid_from), epoch_us(valid_to), is_current from {} order by 1, 5"
a, b = duckdb.sql(q.format("d")).fetchall(), duckdb.sql(q.format(f"read_parquet('{sys.argv[2]}')")).fetchall()
print(f"segments: {len(a)} versions of {len(set(r[0] for r in a))} clients, equal to DuckDB's: {a == b}")
sys.exit(0 if a == b else 1)
PY
  step "segments: one new day ($((rows / 30)) rows), then an incremental dim_clients run"
  GEN_CLIENT_CHANGES=0.001 "$gen" "$sw/pipelines.yaml" "$((rows / 30))" 2024-12-01T00:00:00Z 0.999 900000000 >&2
  read -r rss_i t_i < <(measure "$lakectl" --config "$sw/pipelines.yaml" run dim_clients)
  echo "segments: dim_clients incremental ${t_i}s ($((rss_i / 1024)) MiB)"
  step "segments: rfm_clients (aggregates + k-means, k=4, 10 restarts)"
  read -r rss_r t_r < <(measure "$lakectl" --config "$sw/pipelines.yaml" run rfm_clients)
  echo "segments: rfm_clients ${t_r}s ($((rss_r / 1024)) MiB)"
}

bench_open() {
  local commits="${BENCH_COMMITS:-1000}" ow="$work/open"; mkdir -p "$ow"
  sed -e "s#lake: .*#lake: $ow/lake#" pipelines.yaml >"$ow/pipelines.yaml"
  step "open: $commits tiny commits, then opening the table with and without checkpoints"
  "$CARGO_TARGET_DIR/$LAKECTL_PROFILE/examples/open_bench" "$ow/pipelines.yaml" "$commits"
}

bench_decode() {
  step "decode: 1M seed payloads, lakectl's tape path vs Polars' NDJSON reader vs arrow-json"
  (cd "$repo" && "$CARGO_TARGET_DIR/$LAKECTL_PROFILE/examples/decode_bench")
}

bench_commits() {
  local commits="${BENCH_COMMITS:-1600}" cw="$work/commits"; mkdir -p "$cw"
  sed -e "s#lake: .*#lake: $cw/lake#" -e "s#topic: ventes_stream#topic: bench_commits#" \
      -e "s#batch: .*#batch: {max_records: 10, max_bytes: 64MiB, max_wait: 1s}#" \
      -e "s#optimize: .*##" pipelines.yaml >"$cw/pipelines.yaml"
  step "commits: a backlog of $((commits * 10)) records in one partition, drained in batches of 10"
  "$lakectl" topic create bench_commits --partitions 1 >/dev/null
  "$lakectl" produce --topic bench_commits --count "$((commits * 10))" --rate max --seed 11 >/dev/null
  local t0; t0=$(date +%s.%N)
  RUST_LOG=lakectl=info "$lakectl" --config "$cw/pipelines.yaml" run bronze --until-caught-up 2>"$cw/log" >/dev/null
  local t1; t1=$(date +%s.%N)
  python3 - "$cw/log" "$(python3 -c "print($t1-$t0)")" <<'PY'
import re, statistics, sys
def ms(s):
    for unit, f in (("µs", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * f
    return float(s)
rows = [(ms(m.group(1)), ms(m.group(2))) for m in re.finditer(r"write=(\S+) commit=(\S+)", open(sys.argv[1]).read())]
n = len(rows)
if n < 700:
    sys.exit(f"commits: only {n} batches logged")
early = rows[100:400]
late = rows[-300:]
med = lambda xs, i: statistics.median(x[i] for x in xs)
print(f"commits: {n} batches in {float(sys.argv[2]):.1f}s; median commit {med(early,1):.1f} ms (batches 100-400) vs {med(late,1):.1f} ms (last 300): ratio {med(late,1)/max(med(early,1),1e-9):.2f}; "
      f"write+commit {med(early,0)+med(early,1):.1f} ms vs {med(late,0)+med(late,1):.1f} ms: ratio {(med(late,0)+med(late,1))/max(med(early,0)+med(early,1),1e-9):.2f}")
PY
}

bench_latency() {
  local rate="${BENCH_RATE:-1000}" minutes="${BENCH_MINUTES:-10}" lw="$work/latency"; mkdir -p "$lw"
  local py; py="$(ensure_venv pyarrow==26.0.1)"
  sed -e "s#lake: .*#lake: $lw/lake#" -e "s#topic: ventes_stream#topic: bench_latency#" \
      -e "s#batch: .*#batch: {max_records: 50000, max_bytes: 64MiB, max_wait: 500ms}#" \
      pipelines.yaml >"$lw/pipelines.yaml"
  "$lakectl" topic create bench_latency --partitions 3 >/dev/null
  step "latency: run bronze continuously; a producer at $rate records/s for $minutes min"
  RUST_LOG=lakectl=info "$lakectl" --config "$lw/pipelines.yaml" run bronze >/dev/null 2>"$lw/bronze.log" &
  local bronze_pid=$!
  sleep 3
  "$lakectl" produce --topic bench_latency --rate "$rate" --count "$((rate * 60 * minutes))" --seed 17 --linger "${BENCH_LINGER:-100ms}" >/dev/null
  # Stop once bronze has caught up (its last batch says lag=0), or after 5 more minutes.
  for _ in $(seq 300); do
    tail -n 3 "$lw/bronze.log" | grep -q ' lag=0 ' && break
    sleep 1
  done
  kill -TERM "$bronze_pid"; wait "$bronze_pid" || true
  "$py" scripts/bench_latency.py "$lw/lake/bronze/ventes_stream" || echo "latency: target missed"
}

bench_s3() {
  local records="${BENCH_S3_RECORDS:-$n}" port="${BENCH_S3_PORT:-29000}"
  step "s3: a fresh local S3 server on 127.0.0.1:$port"
  S3_PORT="$port" scripts/s3.sh stop >/dev/null 2>&1 || true
  S3_PORT="$port" scripts/s3.sh start
  trap 'scripts/broker.sh stop; S3_PORT='"$port"' scripts/s3.sh stop; rm -rf "$work"' EXIT
  eval "$(S3_PORT="$port" scripts/s3.sh env)"
  local s3lake="s3://${S3_BUCKET:-lakectl}/bench-$(date +%s)/lake" disk="$work/s3cmp/lake"
  mkdir -p "$work/s3cmp"
  sed -e "s#jobs: .*#jobs: $repo/jobs/#" -e "s#lake: .*#lake: $disk#" pipelines.yaml >"$work/s3cmp/pipelines.yaml"
  step "s3: producing a backlog of $records records"
  "$lakectl" topic create s3_bench --partitions 3 >/dev/null
  # 500 clients over the last 30 days (event times in order, so none is late).
  local step_ms=$((30 * 86400 * 1000 / records))
  "$lakectl" produce --topic s3_bench --count "$records" --rate max --seed 11 --clients 500 \
    --start-time "$(date -u -d '30 days ago' +%Y-%m-%dT%H:%M:%SZ)" --time-step "${step_ms}ms" >/dev/null
  sed -i -e "s#topic: ventes_stream#topic: s3_bench#" "$work/s3cmp/pipelines.yaml"
  local cfg=(--config "$work/s3cmp/pipelines.yaml")
  step "s3: bronze into the local disk lake"
  read -r rss_d t_d < <(measure "$lakectl" "${cfg[@]}" run bronze --until-caught-up)
  step "s3: bronze into the S3 lake ($s3lake)"
  read -r rss_s t_s < <(measure "$lakectl" "${cfg[@]}" --lake "$s3lake" run bronze --until-caught-up)
  echo "s3: bronze $records records: disk $(python3 -c "print(round($records/$t_d))") records/s (${t_d}s, peak RSS $((rss_d/1024)) MiB); S3 $(python3 -c "print(round($records/$t_s))") records/s (${t_s}s, peak RSS $((rss_s/1024)) MiB); S3/disk time $(python3 -c "print(round($t_s/$t_d,2))")"
  step "s3: the three seed jobs on each lake"
  read -r rss_jd t_jd < <(measure "$lakectl" "${cfg[@]}" run ventes_aggreges ventes_par_pays ventes_par_segment)
  read -r rss_js t_js < <(measure "$lakectl" "${cfg[@]}" --lake "$s3lake" run ventes_aggreges ventes_par_pays ventes_par_segment)
  echo "s3: silver (3 seed jobs over $records rows): disk ${t_jd}s (peak RSS $((rss_jd/1024)) MiB); S3 ${t_js}s (peak RSS $((rss_js/1024)) MiB); S3/disk time $(python3 -c "print(round($t_js/$t_jd,2))")"
  local a b
  a="$("$lakectl" "${cfg[@]}" query "SELECT count(*) AS n, round(sum(revenue_total), 2) AS r FROM ventes_par_pays" --format csv)"
  b="$("$lakectl" "${cfg[@]}" --lake "$s3lake" query "SELECT count(*) AS n, round(sum(revenue_total), 2) AS r FROM ventes_par_pays" --format csv)"
  [[ "$a" == "$b" ]] || die "the S3 lake's ventes_par_pays differs from the disk lake's: $a vs $b"
  echo "s3: ventes_par_pays identical on both lakes ($(echo "$a" | tail -1))"
}

bench_serve() {
  local records="${BENCH_SERVE_RECORDS:-8000000}" clients="${BENCH_SERVE_CLIENTS:-100}"
  local vw="$work/serve" port="${BENCH_SERVE_PORT:-28080}" interval=2
  mkdir -p "$vw/a" "$vw/b"
  for l in a b; do
    sed -e "s#lake: .*#lake: $vw/$l/lake#" -e "s#jobs: .*#jobs: $repo/jobs/#" -e "s#topic: ventes_stream#topic: serve_bench#" \
      pipelines.yaml >"$vw/$l/pipelines.yaml"
  done
  step "serve: producing a backlog of $records records (500 clients over the last 30 days)"
  "$lakectl" topic create serve_bench --partitions 3 >/dev/null
  local step_ms=$((30 * 86400 * 1000 / records)); ((step_ms > 0)) || step_ms=1
  "$lakectl" produce --topic serve_bench --count "$records" --rate max --seed 21 --clients 500 \
    --start-time "$(date -u -d '30 days ago' +%Y-%m-%dT%H:%M:%SZ)" --time-step "${step_ms}ms" >/dev/null
  step "serve: bronze alone (lake a)"
  read -r rss_a t_a < <(measure "$lakectl" --config "$vw/a/pipelines.yaml" run bronze --until-caught-up)
  step "serve: the silver tables the dashboard reads (lake a, copied to lake b)"
  "$lakectl" --config "$vw/a/pipelines.yaml" run silver >/dev/null
  mkdir -p "$vw/b/lake" && cp -r "$vw/a/lake/silver" "$vw/b/lake/silver"
  step "serve: lakectl serve on lake b, $clients clients polling /api/dashboard every second for 60 s, bronze draining the same backlog into lake b"
  RUST_LOG=lakectl=warn "$lakectl" --config "$vw/b/pipelines.yaml" serve --addr "127.0.0.1:$port" --interval "${interval}s" 2>"$vw/serve.log" &
  local serve_pid=$!
  # GET a path of the server (python3's urllib: no curl needed).
  get() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "http://127.0.0.1:$port$1"; }
  for _ in $(seq 100); do get /healthz >/dev/null 2>&1 && break; sleep 0.1; done
  local py; py="$(ensure_venv pyarrow==26.0.1)"
  local c0; c0="$(get /metrics | awk '/^lakectl_dashboard_computations_total /{print $2}')"
  "$py" scripts/bench_serve.py "127.0.0.1:$port" /api/dashboard "$clients" 60 1 --window "$vw/window" >"$vw/load.json" &
  local load_pid=$!
  sleep 5
  local w0; w0=$(date +%s.%N)
  read -r rss_b t_b < <(measure "$lakectl" --config "$vw/b/pipelines.yaml" run bronze --until-caught-up)
  echo "$w0 $(date +%s.%N)" >"$vw/window"
  wait "$load_pid"
  local c1; c1="$(get /metrics | awk '/^lakectl_dashboard_computations_total /{print $2}')"
  local serve_rss; serve_rss=$(awk '/VmHWM/{print int($2/1024)}' "/proc/$serve_pid/status")
  kill -TERM "$serve_pid"; wait "$serve_pid" || true
  python3 - "$records" "$t_a" "$t_b" "$c0" "$c1" "$interval" "$vw/load.json" "$serve_rss" "$rss_a" "$rss_b" <<'PY'
import json, sys
n, ta, tb, c0, c1, interval = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
load = json.load(open(sys.argv[7]))
ra, rb = n / ta, n / tb
print(f"serve: bronze alone {ra:,.0f} records/s ({ta:.2f}s, peak RSS {int(sys.argv[9])//1024} MiB); "
      f"with serve + {load['clients']} clients {rb:,.0f} records/s ({tb:.2f}s, peak RSS {int(sys.argv[10])//1024} MiB): ratio {rb/ra:.2f}")
print(f"serve: {load['requests']} answers, {load['errors']} errors; p50 {load['p50_ms']} ms, p99 {load['p99_ms']} ms, max {load['max_ms']} ms; "
      f"during the drain {load.get('during_drain_requests')} answers, p99 {load.get('during_drain_p99_ms')} ms, max {load.get('during_drain_max_ms')} ms")
print(f"serve: {c1 - c0:.0f} computations in 60 s at a {interval:.0f} s interval (at most {60/interval:.0f}); server peak RSS {sys.argv[8]} MiB")
PY
}

case "$what" in
  produce) bench_produce ;;
  bronze) bench_bronze ;;
  silver) bench_silver ;;
  segments) bench_segments ;;
  open) bench_open ;;
  commits) bench_commits ;;
  decode) bench_decode ;;
  latency) bench_latency ;;
  s3) bench_s3 ;;
  serve) bench_serve ;;
  all) bench_produce; bench_bronze; bench_decode; bench_silver; bench_segments; bench_open; bench_commits; bench_latency; bench_s3; bench_serve ;;
  *) die "usage: scripts/bench.sh [produce|bronze|decode|silver|segments|open|commits|latency|s3|serve|all]" ;;
esac
