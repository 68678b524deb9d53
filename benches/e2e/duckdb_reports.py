"""Times the heaviest part of two reports in DuckDB over the same Parquet
files the Delta log lists: a floor for what any engine scanning the event
tables needs on this machine (the token-spend aggregation per day, tool,
model and user; adoption's aggregation per day, tool, user and session with
each user's first day).

usage: duckdb_reports.py STORE
"""

import sys
import time

from query_compare import duckdb_over

RUNS = 3

TOKEN_SPEND = """
WITH daily AS (
    SELECT date, tool AS grp, model, user_id,
           sum(input_tokens) i, sum(output_tokens) o, sum(cache_read_tokens) cr,
           sum(cache_write_tokens) cw, coalesce(sum(cost_usd), 0) gc,
           sum(CASE WHEN cost_usd IS NULL THEN input_tokens ELSE 0 END) iu
    FROM ai_usage GROUP BY 1, 2, 3, 4)
SELECT date_trunc('month', date) b, grp, sum(i), sum(o), sum(cr), sum(cw), sum(gc), sum(iu)
FROM daily GROUP BY 1, 2 HAVING count(DISTINCT user_id) >= 5 ORDER BY 1, 2"""

ADOPTION_SESSIONS = """
WITH sessions AS (
    SELECT date, tool AS grp, user_id, session_id, count(*) events,
           bool_or(operation <> 'completion' OR coalesce(accepted, false)) engaged
    FROM ai_usage GROUP BY 1, 2, 3, 4),
usage AS (
    SELECT date_trunc('month', date) b,
           date_trunc('month', first_date) = date_trunc('month', date) fu,
           grp, user_id, session_id, events, engaged
    FROM (SELECT *, min(date) OVER (PARTITION BY grp, user_id) first_date FROM sessions))
SELECT b, grp, count(DISTINCT user_id), count(DISTINCT CASE WHEN engaged THEN user_id END),
       sum(events), count(DISTINCT session_id), count(DISTINCT CASE WHEN fu THEN user_id END)
FROM usage GROUP BY 1, 2 ORDER BY 1, 2"""


def main(root):
    con = duckdb_over(root, ["ai_usage"])
    for name, sql in [("token-spend, daily part", TOKEN_SPEND),
                      ("adoption, session part", ADOPTION_SESSIONS)]:
        times = []
        for _ in range(RUNS):
            start = time.perf_counter()
            con.execute(sql).fetchall()
            times.append(time.perf_counter() - start)
        print(f"DuckDB {name}: {min(times):.3f} s (best of {RUNS})")


if __name__ == "__main__":
    main(sys.argv[1])
