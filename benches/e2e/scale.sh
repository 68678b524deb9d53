#!/usr/bin/env bash
# One machine carrying a large organization's year (issue 32): builds a
# store of ~100M generated events by piping `aitrail gen` straight into
# `aitrail load` (no intermediate file), records load throughput, peak RSS
# and store bytes per event, then runs every report and the compliance
# query set through `aitrail serve` and the same SQL through DuckDB over the
# same Parquet files, in the same run (benches/e2e/query.sh on this store).
#
#   benches/e2e/scale.sh [USERS] [DAYS]   # defaults: 20000 users, 365 days (≈100M events)
#
# Disk: the store takes ~30 bytes an event (≈3 GB for 100M) in
# $AITRAIL_BENCH_DIR (else a temporary directory); nothing else is written.
# Time on a 2-core machine: ~10 minutes to build the store, then the
# queries. A store already there is reused.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aitrail-target}"
users="${1:-20000}"
days="${2:-365}"
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

AITRAIL_BENCH_DIR="$work" benches/e2e/query.sh "$users" "$days"
