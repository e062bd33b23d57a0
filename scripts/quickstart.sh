#!/usr/bin/env bash
# From a fresh Debian machine with the Rust toolchain to a running lakehouse:
# installs what is missing, builds, starts the local broker, produces sales, runs bronze,
# and shows what was written. Safe to run again: each run adds a few thousand sales.
#   scripts/quickstart.sh --schedule   then stays in `lakectl schedule` with a live producer
#                                      (Ctrl-C stops both; or: kill -TERM <lakectl pid>)
#   scripts/quickstart.sh --s3         the same with the lake on a local S3 server
#                                      (scripts/s3.sh; lake s3://lakectl/lake), then reads
#                                      the tables back with Python deltalake and DuckDB
#   scripts/quickstart.sh --reset      start over: removes the local lake first (the topic's
#                                      records stay and are ingested again, once)
# The local broker keeps its topics in memory: after a broker restart the topic is new, and a
# lake that holds the old topic's offsets is moved aside (the run says where) for a fresh one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo"

schedule=0 s3=0 reset=0
for arg in "$@"; do
  case "$arg" in
    --schedule) schedule=1 ;;
    --s3) s3=1 ;;
    --reset) reset=1 ;;
    *) die "usage: scripts/quickstart.sh [--s3] [--schedule] [--reset]" ;;
  esac
done
[[ $s3 == 1 && $reset == 1 ]] && die "--reset is for the local lake; the S3 server keeps its objects in memory: scripts/s3.sh stop, then run again"

ensure_system_packages
build_lakectl
lakectl="$(lakectl_bin)"

export KAFKA_PORT="${KAFKA_PORT:-9092}"
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}"
step "starting the local broker on $KAFKA_BROKERS"
scripts/broker.sh start

if [[ $s3 == 1 ]]; then
  step "starting the local S3 server (moto) on 127.0.0.1:${S3_PORT:-9000}"
  scripts/s3.sh start
  eval "$(scripts/s3.sh env)"
  export LAKECTL_LAKE="${LAKECTL_LAKE:-s3://${S3_BUCKET:-lakectl}/lake}"
  echo "lake: $LAKECTL_LAKE (AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL)" >&2
fi

step "lakectl validate"
"$lakectl" validate

# The local lake's folder (the spec says `lake: ${LAKECTL_LAKE:-./lake}`).
lake_dir="${LAKECTL_LAKE:-./lake}"
if [[ $reset == 1 && $s3 == 0 && -d "$lake_dir" ]]; then
  step "--reset: removing the lake $lake_dir"
  rm -rf -- "$lake_dir"
fi

step "lakectl topic create ventes_stream --partitions 3"
topic_out="$("$lakectl" topic create ventes_stream --partitions 3)"
echo "$topic_out"
# A topic created just now beside a lake that already ingested one: the broker lost its
# topics (the in-memory broker was restarted), and the lake's offsets describe the old
# topic. Keep that lake aside and start a fresh one, rather than stop on "offsets past the end".
if [[ "$topic_out" == created* && $s3 == 0 && -d "$lake_dir/bronze/ventes_stream/_delta_log" ]]; then
  aside="$lake_dir.before-$(date -u +%Y%m%dT%H%M%SZ)"
  mv -- "$lake_dir" "$aside"
  echo "The topic ventes_stream is new (the local broker keeps its topics in memory, and a restart empties them), but $lake_dir held the offsets of the topic as it was: moved that lake to $aside and starting a fresh one." >&2
fi

n="${QUICKSTART_COUNT:-5000}"
clients="${QUICKSTART_CLIENTS:-2000}"
# A first run (a new topic and a new lake) backfills four weeks of sales (event times from 28
# days ago, a few minutes apart), so days, recency and clients' histories vary; a run after
# that adds sales at the current time (earlier event times would now be late, behind the
# records already in the topic).
first_wave=() second_wave=()
if [[ "$topic_out" == created* ]] && ! "$lakectl" history ventes --limit 1 >/dev/null 2>&1; then
  first_wave=(--start-time "$(date -u -d '28 days ago' +%Y-%m-%dT%H:%M:%SZ)" --time-step 4m)
  second_wave=(--start-time "$(date -u -d '26 days ago' +%Y-%m-%dT%H:%M:%SZ)" --time-step 7m)
fi
step "lakectl produce --count 500 --rate max --clients $clients ${first_wave[*]} (a first wave of clean sales)"
"$lakectl" produce --count 500 --rate max --clients "$clients" "${first_wave[@]}"

step "lakectl run bronze --until-caught-up (the first wave sets the event-time watermark)"
"$lakectl" run bronze --until-caught-up

step "lakectl produce --count $n --rate max --clients $clients --late-fraction 0.02 --malformed-fraction 0.01 --client-changes 0.05 ${second_wave[*]}"
"$lakectl" produce --count "$n" --rate max --clients "$clients" --late-fraction 0.02 --malformed-fraction 0.01 --client-changes 0.05 "${second_wave[@]}"

step "lakectl run bronze --until-caught-up (malformed records, and any behind the watermark, go to quarantine with their reason)"
"$lakectl" run bronze --until-caught-up

# Sales that arrive days after they happened: their event times are behind the watermark
# (the latest event time seen, minus 10 minutes), so bronze quarantines them as late instead
# of rewriting days already aggregated.
# (A first run's sales start 26 days ago; a later run's are of now.)
late_by="1 day ago"
if ((${#first_wave[@]})); then late_by="27 days ago"; fi
late_start="$(date -u -d "$late_by" +%Y-%m-%dT%H:%M:%SZ)"
step "lakectl produce --count 25 --rate max --clients $clients --start-time $late_start (sales that arrive late)"
"$lakectl" produce --count 25 --rate max --clients "$clients" --start-time "$late_start"

step "lakectl run bronze --until-caught-up (they are behind the watermark: quarantined as late)"
"$lakectl" run bronze --until-caught-up

step "what bronze wrote"
"$lakectl" query "SELECT jour, count(*) AS ventes, round(sum(montant), 2) AS revenue FROM ventes GROUP BY jour ORDER BY jour"
"$lakectl" query "SELECT reason, count(*) AS records FROM ventes_quarantine GROUP BY reason ORDER BY reason"

step "lakectl test (the jobs' own tests, jobs/tests/*.yaml, in memory)"
"$lakectl" test

step "lakectl run silver (the jobs in jobs/)"
"$lakectl" run silver

step "a few rows of each silver table"
"$lakectl" query "SELECT client_nom, pays, segment, jour, nb_achats, round(total_depense, 2) AS total_depense, est_client_fidele, segment_depense FROM ventes_aggreges ORDER BY total_depense DESC LIMIT 5"
"$lakectl" query "SELECT pays, sum(total_transactions) AS transactions, round(sum(revenue_total), 2) AS revenue FROM ventes_par_pays GROUP BY pays ORDER BY revenue DESC LIMIT 5"
"$lakectl" query "SELECT segment, sum(total_transactions) AS transactions, round(sum(revenue_total), 2) AS revenue FROM ventes_par_segment GROUP BY segment ORDER BY segment"

step "the client dimension with history (dim_clients, SCD Type 2)"
"$lakectl" query "SELECT count(*) AS versions, count(DISTINCT client_id) AS clients, sum(CAST(is_current AS INT)) AS current_rows FROM dim_clients"
"$lakectl" query "SELECT client_id, client_nom, pays, segment, valid_from, valid_to, is_current FROM dim_clients WHERE client_id IN (SELECT client_id FROM dim_clients WHERE NOT is_current) ORDER BY client_id, valid_from LIMIT 6"
# Revenue attributed to the segment each client was in at the time of the sale.
"$lakectl" query "SELECT d.segment, round(sum(v.montant), 2) AS revenue FROM ventes v JOIN dim_clients d ON v.client_id = d.client_id WHERE v.timestamp >= d.valid_from AND (d.valid_to IS NULL OR v.timestamp < d.valid_to) GROUP BY d.segment ORDER BY segment"

step "customer segments (rfm_clients: k-means over recency, frequency, amount)"
"$lakectl" query "SELECT * FROM rfm_centres ORDER BY segment_rfm"

step "lakectl dashboard"
"$lakectl" dashboard
"$lakectl" dashboard --html dashboard.html >/dev/null

if [[ $s3 == 1 ]]; then
  step "the same tables read from the S3 server by Python deltalake and DuckDB"
  py="$(ensure_venv deltalake==1.2.1 polars==1.35.2 pyarrow==26.0.1 duckdb==1.4.2 \
    duckdb-extension-httpfs==1.4.2 duckdb-extension-delta==1.4.2)"
  "$py" scripts/read_with_python.py "$LAKECTL_LAKE"
fi

# The binary on the PATH: a link in ~/.local/bin (the XDG place for a user's programs).
bindir="${XDG_BIN_HOME:-$HOME/.local/bin}"
mkdir -p "$bindir"
ln -sf "$lakectl" "$bindir/lakectl"
if [[ ":$PATH:" == *":$bindir:"* ]]; then
  lakectl=lakectl
  onpath="lakectl is on your PATH ($bindir/lakectl)."
else
  onpath="lakectl is linked as $bindir/lakectl; put it on your PATH with:
  export PATH=\"$bindir:\$PATH\"      # add this line to ~/.bashrc to keep it"
fi

if [[ $s3 == 1 ]]; then
  s3_note="
The S3 server keeps running on $AWS_ENDPOINT_URL (scripts/s3.sh stop to stop it; its objects
are in memory). Point lakectl at it in another shell with:
  eval \"\$(scripts/s3.sh env)\"; export LAKECTL_LAKE=$LAKECTL_LAKE"
fi
cat >&2 <<MSG

Done. $onpath
The broker keeps running on $KAFKA_BROKERS (scripts/broker.sh stop to stop it).${s3_note:-}
Tables are under ${LAKECTL_LAKE:-./lake}. Try:
  $lakectl produce --rate 10          # a live stream (Ctrl-C to stop)
  $lakectl run bronze                 # continuous ingestion (Ctrl-C to stop)
  $lakectl serve                      # the live dashboard: open http://127.0.0.1:8080/
  $lakectl schedule --http 127.0.0.1:8080   # bronze + every job on its cron, hot reload, and the dashboard
  $lakectl jobs                       # schedules, next fire times, last runs
  $lakectl dashboard --watch 5        # the dashboard, redrawn every 5 s
  $lakectl query                      # the SQL prompt (.tables, .schema NAME, .help)
  $lakectl doctor                     # setup checks
The dashboard in your browser, updating itself: run  $lakectl serve  and open
http://127.0.0.1:8080/ (a snapshot of it, self-contained, is in dashboard.html).
MSG

if [[ $schedule == 1 ]]; then
  http="${LAKECTL_HTTP_ADDR:-${LAKECTL_METRICS_ADDR:-127.0.0.1:8080}}"
  step "lakectl schedule --http $http (bronze continuously, each job on its cron, the dashboard served)"
  cat >&2 <<MSG
A producer sends 20 sales/s in the background. Edit jobs/*.yaml and the scheduler applies the
change without a restart. Open the live dashboard at http://$http/ (metrics at
http://$http/metrics). In another terminal:
  $lakectl jobs                       # schedules, next fire times, last runs
  $lakectl dashboard --watch 5
Stop with Ctrl-C (or kill -TERM <pid of lakectl schedule>): running jobs get 30 s to finish.
MSG
  "$lakectl" produce --rate 20 >/dev/null 2>&1 &
  producer=$!
  trap 'kill "$producer" 2>/dev/null || true' EXIT
  "$lakectl" schedule --http "$http"
fi
