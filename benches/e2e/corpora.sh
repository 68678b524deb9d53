#!/usr/bin/env bash
# validate, load and ingest on two corpora side by side, with DuckDB turning
# the same files into partitioned Parquet in the same run (issue 27):
# one corpus from `aitrail gen`, one it did not write
# (benches/e2e/foreign_events.py: Python's json.dumps defaults, shuffled
# keys, escaped non-ASCII text, PHP and Go escaping, offsets other than Z,
# names such as `risk-management`).
#
#   benches/e2e/corpora.sh [EVENTS]        # default 1,000,000 per corpus
#
# validate runs on one core (taskset), the rest on both. Needs DuckDB and
# confluent-kafka from PyPI and tansu (scripts/test installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aitrail-target}"
events="${1:-1000000}"
work="${AITRAIL_BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
bin="${AITRAIL_BIN:-$CARGO_TARGET_DIR/release/aitrail}"
[ -n "${AITRAIL_BIN:-}" ] || cargo build --release --locked --workspace >&2
export AITRAIL_BIN="$bin"

start_date=$(date -u -d '10 days ago' +%F)
echo "== corpora: $events events each, 7 days from $start_date" >&2
"$bin" gen --users $(( events / 56 + 5 )) --days 7 --seed 1 --start "$start_date" \
  | head -n "$events" > "$work/gen.jsonl"
python3 benches/e2e/foreign_events.py --events "$events" --seed 1 --start "$start_date" --days 7 \
  > "$work/foreign.jsonl"

rate() { echo "$1 / ($2)" | bc -l | xargs printf '%.0f'; }

for corpus in gen foreign; do
  file="$work/$corpus.jsonl"
  lines=$(wc -l < "$file")
  echo "== $corpus: $lines events, $(du -h "$file" | cut -f1)" >&2

  start=$(date +%s.%N)
  taskset -c 0 "$bin" validate "$file" > "$work/$corpus.rejects" 2> /dev/null || true
  end=$(date +%s.%N)
  rejected=$(wc -l < "$work/$corpus.rejects")
  printf '%s validate (one core): %d events in %.2f s = %s events/s, %d rejected\n' \
    "$corpus" "$lines" "$(echo "$end - $start" | bc)" "$(rate "$lines" "$end - $start")" "$rejected"

  rm -rf "$work/store-$corpus"
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$work/load.rss" \
    "$bin" load --store "$work/store-$corpus" --rejects "$work/$corpus.load-rejects" "$file" 2> /dev/null || true
  end=$(date +%s.%N)
  printf '%s load: %d events in %.2f s = %s events/s, peak RSS %d MiB\n' \
    "$corpus" "$lines" "$(echo "$end - $start" | bc)" "$(rate "$lines" "$end - $start")" \
    "$(( $(cat "$work/load.rss") / 1024 ))"

  echo -n "$corpus " && python3 benches/e2e/duckdb_load.py "$file" "$work/duckdb-$corpus"

  echo -n "$corpus " && AITRAIL_BENCH_INPUT="$file" AITRAIL_BENCH_DIR="$work/ingest-$corpus" \
    benches/e2e/ingest.sh | grep '^ingest:'
done
