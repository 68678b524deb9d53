#!/usr/bin/env bash
# End-to-end benchmark of the query service (issue 4: each canned report
# < 1 s on 10M events; five typical compliance queries ≤ 1.5× DuckDB on the
# same files, in the same run).
#
#   benches/e2e/query.sh [USERS] [DAYS]     # defaults: 1000 users, 730 days (≈10M events)
#
# Generates and loads the events once, `aitrail gen` piped straight into
# `aitrail load` (kept in $AITRAIL_BENCH_DIR between runs; load's events/s,
# peak RSS and the store's bytes an event are printed), starts `aitrail
# serve` on it, then times each report through the server and through
# `aitrail report`, and the compliance queries through the server and
# through DuckDB over the Parquet files the Delta log lists.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aitrail-target}"
users="${1:-1000}"
days="${2:-730}"
work="${AITRAIL_BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"

cargo build --workspace --release --locked >&2
bin="$CARGO_TARGET_DIR/release/aitrail"

if [ ! -d "$work/store/ai_usage" ]; then
  echo "== gen --users $users --days $days | load" >&2
  printf 'default_tier = "standard"\n[[tiers]]\nname = "standard"\nkeep_days = 2557\n' \
    > "$work/retention.toml"
  start=$(date +%s.%N)
  "$bin" gen --users "$users" --days "$days" --seed 1 \
    | /usr/bin/time -f '%M' -o "$work/load.rss" \
      "$bin" load --store "$work/store" --policy "$work/retention.toml" > "$work/load.rejects"
  end=$(date +%s.%N)
  echo "$end - $start" | bc > "$work/load.seconds"
fi
for table in ai_usage code_changes incidents; do
  printf '%s: %s rows\n' "$table" \
    "$("$bin" sql --store "$work/store" --format csv "SELECT count(*) FROM $table" | tail -1)"
done
events=$("$bin" sql --store "$work/store" --format csv \
  "SELECT (SELECT count(*) FROM ai_usage) + (SELECT count(*) FROM code_changes)
        + (SELECT count(*) FROM code_reviews) + (SELECT count(*) FROM incidents)" | tail -1)
bytes=$(du -sb --exclude=_delta_log "$work/store"/{ai_usage,code_changes,code_reviews,incidents} \
  | awk '{ sum += $1 } END { printf "%.0f", sum }')
printf 'events: %s; store: %s bytes, %.1f bytes an event\n' \
  "$events" "$bytes" "$(echo "$bytes / $events" | bc -l)"
if [ -f "$work/load.seconds" ]; then
  seconds=$(cat "$work/load.seconds")
  printf 'gen | load: %.1f s, %.0f events/s, load peak RSS %d MiB, %s rejected\n' \
    "$seconds" "$(echo "$events / $seconds" | bc -l)" "$(( $(cat "$work/load.rss") / 1024 ))" \
    "$(wc -l < "$work/load.rejects")"
fi
range=$("$bin" sql --store "$work/store" --format csv \
  "SELECT CAST(min(date) AS VARCHAR) || ' ' || CAST(max(date) + INTERVAL '1 day' AS VARCHAR) FROM ai_usage" | tail -1)
read -r from to <<< "$range"

token="bench-$(date +%s%N)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/aitrail.toml" <<TOML
[store]
root = "$work/store"

[server]
listen = "127.0.0.1:$port"
query_timeout_s = 120
max_rows = 1000000
memory_limit_mb = 4096

[[server.tokens]]
name = "bench"
role = "compliance"
sha256 = "$(printf %s "$token" | sha256sum | cut -d' ' -f1)"

[[prices]]
model = "claude-sonnet-4-5"
valid_from = "2025-09-29"
input = 3.0
output = 15.0
cache_read = 0.30
cache_write = 3.75
TOML
"$bin" serve --config "$work/aitrail.toml" 2> "$work/serve.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$port/healthz" > /dev/null; do sleep 0.1; done
# The server works out the per-day sums the reports read as it starts
# (those of the incidents report for its default lookback); nothing is
# timed while it does, so the figures below are of the server at rest.
until grep -q "summed per day for the reports" "$work/serve.log"; do sleep 0.2; done

echo "== aitrail report (a process each: opening the tables, planning, running)" >&2
for report in adoption token-spend incidents; do
  args=(--from "$from" --to "$to")
  if [ "$report" != incidents ]; then args+=(--bucket month --by tool); fi
  start=$(date +%s.%N)
  "$bin" report "$report" --config "$work/aitrail.toml" "${args[@]}" --format csv > /dev/null
  end=$(date +%s.%N)
  printf 'aitrail report %s: %.2f s\n' "$report" "$(echo "$end - $start" | bc)"
done

echo "== the server and DuckDB, side by side" >&2
python3 benches/e2e/query_compare.py "$work/store" "$port" "$token" "$from" "$to"
