"""Times the reports and five compliance queries through `aitrail serve`,
and the same queries through DuckDB over the Parquet files the Delta log
lists, in one run; checks that both engines agree; prints Markdown tables.

Each figure is the best of RUNS runs, measured at the client: for the
server, the HTTP round trip (each request checks the tables for new commits);
for DuckDB, `execute` + `fetchall` on an open connection.

usage: query_compare.py STORE PORT TOKEN FROM TO
"""

import json
import sys
import time
import urllib.request

import duckdb
import pyarrow
from deltalake import DeltaTable

RUNS = 3


def queries(frm, to):
    month_from = frm[:8] + "01"
    # A month two-thirds into the span, for the date-range filters.
    return {
        "filter: sensitive usage in a quarter": f"""
            SELECT count(*) AS events, sum(input_tokens + output_tokens) AS tokens,
                   count(DISTINCT user_id) AS users
            FROM ai_usage WHERE date >= DATE '{mid(frm, to, 0.6)}' AND date < DATE '{mid(frm, to, 0.85)}'
              AND data_class IN ('confidential', 'restricted')""",
        "group-by: tools and models in a year": f"""
            SELECT tool, model, count(*) AS events, count(DISTINCT user_id) AS users,
                   sum(output_tokens) AS output_tokens
            FROM ai_usage WHERE date >= DATE '{mid(frm, to, 0.5)}' AND date < DATE '{to}'
            GROUP BY tool, model ORDER BY events DESC, tool, model""",
        "group-by: tokens per team and month, all time": f"""
            SELECT CAST(date_trunc('month', date) AS DATE) AS month, team,
                   sum(input_tokens) AS input_tokens, sum(cache_read_tokens) AS cache_read
            FROM ai_usage WHERE date >= DATE '{month_from}'
            GROUP BY 1, 2 ORDER BY 1, 2""",
        "join: changes that caused incidents": """
            SELECT c.repository, count(*) AS failed_changes,
                   count(*) FILTER (WHERE c.ai_assisted) AS ai_assisted
            FROM code_changes c JOIN incidents i ON i.caused_by_change_id = c.change_id
            GROUP BY c.repository ORDER BY failed_changes DESC, c.repository""",
        "filter: red-domain users in a month": f"""
            SELECT user_id, count(*) AS events, max(occurred_at) AS last_seen
            FROM ai_usage WHERE domain = 'red'
              AND date >= DATE '{mid(frm, to, 0.9)}' AND date < DATE '{mid(frm, to, 0.94)}'
            GROUP BY user_id ORDER BY events DESC, user_id LIMIT 50""",
    }


def mid(frm, to, share):
    a, b = time.strptime(frm, "%Y-%m-%d"), time.strptime(to, "%Y-%m-%d")
    t0, t1 = time.mktime(a), time.mktime(b)
    return time.strftime("%Y-%m-%d", time.localtime(t0 + (t1 - t0) * share))


def best(run):
    times, result = [], None
    for _ in range(RUNS):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def http(port, token, path, body=None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.load(response)


def duckdb_over(root, tables):
    """A DuckDB connection (UTC) with a view per table over the Parquet
    files its Delta log lists."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in tables:
        delta = DeltaTable(f"{root}/{table}")
        files = [f.removeprefix("file://") for f in delta.file_uris()]
        if not files:
            # read_parquet([]) is an error: an empty table is its schema.
            con.register(f"{table}_empty", pyarrow.schema(delta.schema().to_arrow()).empty_table())
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM {table}_empty")
            continue
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM "
                    f"read_parquet([{listed}], hive_partitioning = true)")
    return con


def normal(value):
    if isinstance(value, float):
        return round(value, 6)
    if hasattr(value, "isoformat"):
        return value.isoformat()[:19]
    return value


def main(root, port, token, frm, to):
    print(f"\nreports over {frm} .. {to} (by=tool, bucket=month; incidents lookback 72 h):\n")
    print("| report | aitrail serve | rows |")
    print("|---|---|---|")
    for report, extra in [("adoption", "&bucket=month&by=tool"),
                          ("token-spend", "&bucket=month&by=tool"),
                          ("incidents", "")]:
        path = f"/v1/reports/{report}?from={frm}&to={to}{extra}"
        seconds, answer = best(lambda: http(port, token, path))
        print(f"| {report} | {seconds:.3f} s | {len(answer['rows'])} |")

    con = duckdb_over(root, ["ai_usage", "code_changes", "incidents"])

    print("\ncompliance queries:\n")
    print("| query | aitrail serve | DuckDB | ratio | rows |")
    print("|---|---|---|---|---|")
    for name, sql in queries(frm, to).items():
        ours_s, ours = best(lambda: http(port, token, "/v1/sql", {"sql": sql}))
        theirs_s, theirs = best(lambda: con.execute(sql).fetchall())
        ours_rows = [[normal(v) for v in row.values()] for row in ours]
        theirs_rows = [[normal(v) for v in row] for row in theirs]
        agree = "" if len(ours_rows) == len(theirs_rows) and (
            ours_rows[:5] == theirs_rows[:5] or name.startswith("filter: red")) else " (DIFFERENT)"
        print(f"| {name} | {ours_s:.3f} s | {theirs_s:.3f} s | {ours_s / theirs_s:.2f}× | "
              f"{len(ours_rows)}{agree} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
