#!/usr/bin/env bash
# One machine carrying a large organization's year (issue 32):
# benches/e2e/query.sh at a large organization's size — `aitrail gen`
# piped straight into `aitrail load` (load events/s, peak RSS, store bytes
# an event), then every report and the compliance query set through
# `aitrail serve`, and the same SQL through DuckDB over the same Parquet
# files, in the same run.
#
#   benches/e2e/scale.sh [USERS] [DAYS]   # defaults: 20000 users, 365 days (≈90M events)
#
# Disk: the store takes ~31 bytes an event (≈2.8 GB for 90M) in
# $AITRAIL_BENCH_DIR (else a temporary directory); nothing else is written.
# Time on a 2-core machine: ~4 minutes to build the store, then the
# queries. A store already there is reused.
set -euo pipefail
exec "$(dirname "$0")/query.sh" "${1:-20000}" "${2:-365}"
