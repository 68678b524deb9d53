"""Totals of an aitrail store as engines no one on the project wrote see them.

The Delta log is read by the `deltalake` package (which files are live), and
the Parquet files by DuckDB, with the tier and date partitions taken from the
Hive-style paths. Prints one JSON object: per table, its row count and sums.
"""

import json
import sys

import duckdb
from deltalake import DeltaTable

QUERIES = {
    "ai_usage": "SELECT count(*) AS rows, sum(input_tokens) AS input_tokens, "
    "sum(output_tokens) AS output_tokens, count(DISTINCT user_id) AS users, "
    "count(*) FILTER (WHERE tier = 'regulated') AS regulated, "
    "CAST(min(date) AS VARCHAR) AS first_date FROM t",
    "code_changes": "SELECT count(*) AS rows, sum(lines_added) AS lines_added, "
    "count(*) FILTER (WHERE ai_assisted) AS ai_assisted FROM t",
    "incidents": "SELECT count(*) AS rows, count(caused_by_change_id) AS caused FROM t",
}


def main(root: str) -> None:
    con = duckdb.connect()
    totals = {}
    for table, query in QUERIES.items():
        files = [f.removeprefix("file://") for f in DeltaTable(f"{root}/{table}").file_uris()]
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(
            f"CREATE OR REPLACE VIEW t AS SELECT * FROM read_parquet([{listed}], hive_partitioning = true)"
        )
        cursor = con.execute(query)
        names = [d[0] for d in cursor.description]
        totals[table] = dict(zip(names, cursor.fetchone()))
    print(json.dumps(totals))


if __name__ == "__main__":
    main(sys.argv[1])
