#!/usr/bin/env bash
# End-to-end benchmark of `aitrail ingest` (issue 7: ≥ 200k events/s on 2
# cores, ≤ 512 MiB RSS) against tansu, a Kafka-protocol broker, with memory
# storage on a free loopback port.
#
#   benches/e2e/ingest.sh [EVENTS]          # default 1,000,000
#   AITRAIL_BENCH_DAYS=2 AITRAIL_BENCH_START=2026-11-25 benches/e2e/ingest.sh 2000000
#                                           # a live stream's shape (two working days)
#   AITRAIL_BENCH_INPUT=events.jsonl benches/e2e/ingest.sh
#                                           # a given file instead of `aitrail gen`
#
# Generates EVENTS events, produces them all with `aitrail produce`, then
# starts `aitrail ingest` on the backlog and measures events/s from its start
# until its last commit (the commit time /metrics reports once every event
# is settled), and its peak RSS (/usr/bin/time); the final count is checked
# with `aitrail sql`. The broker is $TANSU, else `tansu` on PATH; the
# topics are created with Python's confluent-kafka (scripts/test installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aitrail-target}"
events="${1:-1000000}"
work="${AITRAIL_BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
tansu="${TANSU:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}"
[ -x "$tansu" ] || { echo "tansu not found: cargo install --locked tansu --features dynostore" >&2; exit 2; }

bin="${AITRAIL_BIN:-$CARGO_TARGET_DIR/release/aitrail}"
[ -n "${AITRAIL_BIN:-}" ] || cargo build --release --locked --workspace >&2

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
metrics=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
brokers="127.0.0.1:$port"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

echo "== tansu ($("$tansu" --version 2>/dev/null || echo unknown version)) on $brokers, memory storage" >&2
"$tansu" broker --storage-engine memory://tansu/ \
  --listener-url "tcp://$brokers" --advertised-listener-url "tcp://$brokers" \
  > "$work/tansu.log" 2>&1 &
pids+=($!)
python3 - "$brokers" <<'EOF'
import sys, time
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
deadline = time.time() + 60
pending = {"ai-audit.events": 4, "ai-audit.events.dlq": 1}
while pending:
    if time.time() > deadline:
        sys.exit("tansu did not create the topics in time")
    try:
        futures = admin.create_topics([NewTopic(t, n, 1) for t, n in pending.items()], operation_timeout=5)
        for topic, future in futures.items():
            try:
                future.result()
                pending.pop(topic)
            except Exception as error:
                if "already exists" in str(error).lower() or "TOPIC_ALREADY_EXISTS" in str(error):
                    pending.pop(topic)
    except Exception:
        pass
    if pending:
        time.sleep(0.2)
EOF

# A live stream carries the last day or two (AITRAIL_BENCH_DAYS=2); a
# backlog replayed after an outage spans many (the default, a year).
days="${AITRAIL_BENCH_DAYS:-365}"
start="${AITRAIL_BENCH_START:-}"
users=$(( events / (days * 8) + 5 ))
if [ -n "${AITRAIL_BENCH_INPUT:-}" ]; then
  echo "== input: $AITRAIL_BENCH_INPUT" >&2
  cp "$AITRAIL_BENCH_INPUT" "$work/events.jsonl"
  events=$(wc -l < "$work/events.jsonl")
else
  echo "== gen: $events events ($users users, $days days from ${start:-$days days before today})" >&2
  "$bin" gen --users "$users" --days "$days" --seed 1 ${start:+--start "$start"} | head -n "$events" > "$work/events.jsonl"
fi
size=$(du -h "$work/events.jsonl" | cut -f1)
# A few users over few days may make fewer events than asked for.
generated=$(wc -l < "$work/events.jsonl")
[ "$generated" = "$events" ] || echo "== gen made $generated events, not $events" >&2
events=$generated

echo "== produce" >&2
start=$(date +%s.%N)
"$bin" produce --brokers "$brokers" --topic ai-audit.events "$work/events.jsonl"
end=$(date +%s.%N)
printf 'produce: %d events (%s) in %.2f s = %.0f events/s\n' \
  "$events" "$size" "$(echo "$end - $start" | bc)" "$(echo "$events / ($end - $start)" | bc -l)"

cat > "$work/aitrail.toml" <<EOF
[store]
root = "$work/store"

[kafka]
"bootstrap.servers" = "$brokers"
"group.id" = "aitrail-bench"
"auto.offset.reset" = "earliest"

[ingest]
topics = ["ai-audit.events"]
dlq_topic = "ai-audit.events.dlq"
listen = "127.0.0.1:$metrics"
EOF

count() {
  "$bin" sql --store "$work/store" --format csv \
    "SELECT (SELECT count(*) FROM ai_usage) + (SELECT count(*) FROM code_changes) + (SELECT count(*) FROM incidents) AS n" \
    2>/dev/null | tail -n 1 || echo 0
}

echo "== ingest" >&2
rm -rf "$work/store"
start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$work/ingest.rss" \
  "$bin" ingest --config "$work/aitrail.toml" 2> "$work/ingest.log" &
time_pid=$!
pids+=("$time_pid")
# Events settled (committed to the store, or rejected to the DLQ), rejects,
# and the Unix time of the last commit. Polled once a second: the run ends
# at the last commit's own time, so polling often would only take CPU from
# the ingest.
settled() {
  curl -sf "http://127.0.0.1:$metrics/metrics" 2>/dev/null \
    | awk '$1 == "aitrail_ingest_committed_rows_total" { c = $2 }
           $1 ~ /^aitrail_ingest_rejected_total/ { r += $2 }
           $1 == "aitrail_ingest_last_commit_timestamp_seconds" { t = $2 }
           END { printf "%d %d %s\n", c + r, r, t }' || true
}
done_count=0
while [ "${done_count:-0}" != "$events" ]; do
  kill -0 "$time_pid" 2>/dev/null || { echo "ingest exited early; see $work/ingest.log" >&2; exit 3; }
  [ "$(echo "$(date +%s.%N) - $start > 900" | bc)" = 1 ] && { echo "timed out with $done_count settled" >&2; exit 3; }
  sleep 1
  read -r done_count rejected end <<< "$(settled)"
done
# Every message rejected in a batch still commits its offsets, so a last
# commit time is there; should it not be, the time seen is the end.
[ -n "${end:-}" ] && [ "$end" != 0 ] || end=$(date +%s.%N)
# SIGTERM to aitrail itself (the child of /usr/bin/time), which flushes and exits.
pkill -TERM -P "$time_pid" || true
wait "$time_pid"
in_store=$(count)
[ "$in_store" = "$(( events - rejected ))" ] || { echo "the store holds $in_store events, not $events - $rejected rejected" >&2; exit 3; }
[ "$rejected" = 0 ] || echo "== $rejected events rejected (see the DLQ)" >&2
rss_kib=$(cat "$work/ingest.rss")
printf 'ingest: %d events in %.2f s = %.0f events/s, peak RSS %d MiB\n' \
  "$events" "$(echo "$end - $start" | bc)" "$(echo "$events / ($end - $start)" | bc -l)" \
  "$(( rss_kib / 1024 ))"
files=$(find "$work/store" -name '*.parquet' | wc -l)
printf 'store: %s in %d Parquet files\n' "$(du -sh "$work/store" | cut -f1)" "$files"
