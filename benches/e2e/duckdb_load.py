#!/usr/bin/env python3
"""DuckDB's side of the load benchmark: the same JSONL file turned into
zstd Parquet partitioned by event type and UTC date, on the same cores.

    benches/e2e/duckdb_load.py EVENTS.jsonl OUT_DIR [--threads 2]

Prints one line: `duckdb: N events in S s = R events/s`. The columns are
the union DuckDB infers from the file; `date` is the UTC date of
`occurred_at`, whatever offset the producer wrote.
"""

import argparse
import shutil
import sys
import time

import duckdb


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("events")
    parser.add_argument("out")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    db = duckdb.connect()
    db.execute(f"SET threads = {args.threads}")
    db.execute("SET TimeZone = 'UTC'")
    started = time.monotonic()
    db.execute(
        f"""
        COPY (
            SELECT *, CAST(CAST(occurred_at AS TIMESTAMPTZ) AS DATE) AS date
            FROM read_json('{args.events}', format = 'newline_delimited',
                           sample_size = -1, union_by_name = true)
        ) TO '{args.out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (event_type, date))
        """
    )
    elapsed = time.monotonic() - started
    count = db.execute(
        f"SELECT count(*) FROM read_parquet('{args.out}/**/*.parquet')"
    ).fetchone()[0]
    print(f"duckdb: {count} events in {elapsed:.2f} s = {count / elapsed:.0f} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
