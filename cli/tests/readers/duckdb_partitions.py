"""Partitions and retention log of an aitrail store, as DuckDB and the
`deltalake` package see them.

For each event table: the files the Delta log lists, read by DuckDB with the
tier and date taken from the Hive-style paths, counted per partition. And the
`retention_log` table read by `deltalake` into Arrow. Prints one JSON object.
"""

import json
import sys

import duckdb
from deltalake import DeltaTable

TABLES = ["ai_usage", "code_changes", "incidents", "code_reviews"]


def main(root: str) -> None:
    con = duckdb.connect()
    out = {}
    for table in TABLES:
        files = [f.removeprefix("file://") for f in DeltaTable(f"{root}/{table}").file_uris()]
        if not files:
            out[table] = []
            continue
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        rows = con.execute(
            f"SELECT tier, CAST(date AS VARCHAR) AS date, count(*) AS n "
            f"FROM read_parquet([{listed}], hive_partitioning = true) "
            f"GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        out[table] = [[tier, date, n] for tier, date, n in rows]
    log = DeltaTable(f"{root}/retention_log").to_pyarrow_table().to_pylist()
    out["retention_log"] = sorted(
        [r["table_name"], r["tier"], r["date"].isoformat(), r["rows"], r["run_id"]] for r in log
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
