#!/usr/bin/env bash
# Issue 30's figures: `aitrail report violations` for a year of an
# organization generated under the example policy (`gen --policy`), judged by
# that policy (governance/governance.example.toml),
# timed, and the same findings computed by DuckDB from the same Parquet files
# with SQL written from DESIGN §10 (benches/e2e/governance_compare.py),
# checked row for row.
#
#   benches/e2e/governance.sh [USERS] [DAYS]     # defaults: 1000 users, 365 days (≈ 4.5M events; 2200 users ≈ 10M)
#
# The store is generated once and kept in $AITRAIL_BENCH_DIR between runs;
# AITRAIL_BIN names a binary to use instead of building one.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aitrail-target}"
users="${1:-1000}"
days="${2:-365}"
work="${AITRAIL_BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
bin="${AITRAIL_BIN:-$CARGO_TARGET_DIR/release/aitrail}"
[ -n "${AITRAIL_BIN:-}" ] || cargo build --release --locked -p aitrail >&2

if [ ! -d "$work/store/ai_usage" ]; then
  echo "== gen --users $users --days $days | load" >&2
  printf 'default_tier = "standard"\n[[tiers]]\nname = "standard"\nkeep_days = 2557\n' \
    > "$work/retention.toml"
  "$bin" gen --users "$users" --days "$days" --seed 1 --policy governance/governance.example.toml \
    | "$bin" load --store "$work/store" --policy "$work/retention.toml"
fi
"$bin" sql --store "$work/store" --format csv "SELECT count(*) AS ai_usage_events FROM ai_usage"
range=$("$bin" sql --store "$work/store" --format csv \
  "SELECT CAST(min(date) AS VARCHAR) || ' ' || CAST(max(date) + INTERVAL '1 day' AS VARCHAR) FROM ai_usage" | tail -1)
read -r from to <<< "$range"
python3 benches/e2e/governance_compare.py "$bin" "$work/store" \
  governance/governance.example.toml "$from" "$to"
