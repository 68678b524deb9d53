#!/usr/bin/env bash
# Issue 31's figures: `aitrail load` of the same events with signing off
# and on in the same run (every commit hashes its new files, signs an
# intent and a digest), then `aitrail verify` over the signed store, beside
# this machine's SHA-256 speed (`openssl speed`), which bounds it. The
# events are another producer's (benches/e2e/foreign_events.py), not the
# generator's.
#
#   benches/e2e/integrity.sh [EVENTS]      # default 10,000,000
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aitrail-target}"
events="${1:-10000000}"
work="${AITRAIL_BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
bin="${AITRAIL_BIN:-$CARGO_TARGET_DIR/release/aitrail}"
[ -n "${AITRAIL_BIN:-}" ] || cargo build --release --locked -p aitrail >&2

start_date=$(date -u -d '40 days ago' +%F)
python3 benches/e2e/foreign_events.py --events "$events" --seed 1 --start "$start_date" --days 30 \
  > "$work/events.jsonl"
lines=$(wc -l < "$work/events.jsonl")
echo "== $lines events, $(du -h "$work/events.jsonl" | cut -f1)" >&2
rm -rf "$work/keys"
"$bin" keygen --out "$work/keys" > /dev/null

timed() {
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

for round in 1 2; do
  rm -rf "$work/plain" "$work/signed"
  plain=$(timed "$bin" load --store "$work/plain" "$work/events.jsonl")
  signed=$(timed env AITRAIL_SIGNING_KEY_FILE="$work/keys/signing.key" \
    "$bin" load --store "$work/signed" "$work/events.jsonl")
  printf 'round %d: load unsigned %.1f s (%.0f events/s), signed %.1f s (%.0f events/s): %+.1f%%\n' \
    "$round" "$plain" "$(echo "$lines / $plain" | bc -l)" "$signed" "$(echo "$lines / $signed" | bc -l)" \
    "$(echo "($signed / $plain - 1) * 100" | bc -l)"
done

bytes=$(du -sb "$work/signed" | cut -f1)
versions=$(ls "$work/signed/_digests/ai_usage" | grep -c '\.json$')
verify=$(timed "$bin" verify --store "$work/signed" --public-key "$work/keys/signing.pub")
printf 'verify: %.1f s over %.0f MiB (%d ai_usage versions) = %.0f MiB/s\n' \
  "$verify" "$(echo "$bytes / 1048576" | bc -l)" "$versions" "$(echo "$bytes / 1048576 / $verify" | bc -l)"
openssl speed -bytes 16384 -seconds 3 sha256 2>/dev/null | tail -1 \
  | awk '{printf "openssl sha256, one core: %.0f MiB/s\n", $2 * 1000 / 1048576}'
