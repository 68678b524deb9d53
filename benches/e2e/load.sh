#!/usr/bin/env bash
# End-to-end benchmark of `aitrail gen` and `aitrail load` (issue: load ≥ 500k
# events/s on 2 cores, a 5M-event file in under 1 GiB RSS).
#
#   benches/e2e/load.sh [USERS] [DAYS]     # defaults: 1200 users, 365 days (≈5M events)
#
# Prints events/s of gen (to a file) and load, and load's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aitrail-target}"
users="${1:-1200}"
days="${2:-365}"
work="${AITRAIL_BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"

cargo build --release --locked --workspace >&2
bin="$CARGO_TARGET_DIR/release/aitrail"
time_fmt='%e s, peak RSS %M KiB'

echo "== gen --users $users --days $days > $work/events.jsonl" >&2
start=$(date +%s.%N)
"$bin" gen --users "$users" --days "$days" --seed 1 > "$work/events.jsonl"
end=$(date +%s.%N)
events=$(wc -l < "$work/events.jsonl")
size=$(du -h "$work/events.jsonl" | cut -f1)
printf 'gen: %d events (%s) in %.2f s = %.0f events/s\n' \
  "$events" "$size" "$(echo "$end - $start" | bc)" "$(echo "$events / ($end - $start)" | bc -l)"

echo "== load into an empty store" >&2
rm -rf "$work/store"
start=$(date +%s.%N)
status=0
/usr/bin/time -f "$time_fmt" -o "$work/load.time" \
  "$bin" load --store "$work/store" --rejects "$work/rejects.jsonl" "$work/events.jsonl" || status=$?
if [ "$status" -gt 1 ]; then echo "load failed with exit code $status" >&2; exit "$status"; fi
end=$(date +%s.%N)
printf 'load: %d events in %.2f s = %.0f events/s, %s\n' \
  "$events" "$(echo "$end - $start" | bc)" "$(echo "$events / ($end - $start)" | bc -l)" \
  "$(cat "$work/load.time")"
files=$(find "$work/store" -name '*.parquet' | wc -l)
printf 'store: %s in %d Parquet files\n' "$(du -sh "$work/store" | cut -f1)" "$files"
