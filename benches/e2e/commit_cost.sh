#!/usr/bin/env bash
# Issue 32 item 4: the time of one commit at table versions 10, 1,000 and
# 10,000, signed as the ingest and the server sign theirs: an ingest's
# commits of a live day to `ai_usage` (100 events each, with its offsets
# and continuous compaction), and the query service's commits to
# `access_log` (100 requests each, so a million requests in all). Then the
# access log's read path after that million: `aitrail sql` over it before
# and after the scheduled compaction.
#
#   benches/e2e/commit_cost.sh [COMMITS]      # default 10,000
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aitrail-target}"
commits="${1:-10000}"
work="${AITRAIL_BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
cargo build --release --locked --workspace >&2
bin="$CARGO_TARGET_DIR/release/aitrail"
cost="$CARGO_TARGET_DIR/release/commit_cost"

rm -rf "$work/keys" "$work/store"
"$bin" keygen --out "$work/keys" > /dev/null
export AITRAIL_SIGNING_KEY_FILE="$work/keys/signing.key"

for table in ai_usage access_log; do
  echo "== $commits commits to $table" >&2
  "$cost" --store "$work/store" --table "$table" --commits "$commits" --rows 100
done

timed_sql() {
  local start end
  start=$(date +%s.%N)
  "$bin" sql --store "$work/store" --format csv "$1" > /dev/null
  end=$(date +%s.%N)
  printf '%.2f s  %s\n' "$(echo "$end - $start" | bc -l)" "$1"
}
queries=(
  "SELECT count(*) FROM access_log"
  "SELECT date, count(*), max(duration_ms) FROM access_log GROUP BY date"
  "SELECT time, request FROM access_log WHERE request LIKE '%u-999999%'"
)
echo "== access_log after $((commits * 100)) requests: $(find "$work/store/access_log" -name '*.parquet' -not -path '*_delta_log*' | wc -l) data files, $(ls "$work/store/access_log/_delta_log" | wc -l) log files" >&2
for query in "${queries[@]}"; do timed_sql "$query"; done
"$bin" compact --store "$work/store" --now "$(date -u -d '2 days' +%F)"
echo "== after compaction: $(find "$work/store/access_log" -name '*.parquet' -not -path '*_delta_log*' | wc -l) data files (removed ones stay until vacuum)" >&2
for query in "${queries[@]}"; do timed_sql "$query"; done
