"""The reports of DESIGN §6, computed by DuckDB from an aitrail store.

Written independently of aitrail's SQL (direct distinct counts, an ASOF join
for prices, correlated subqueries for incidents), over the Parquet files the
Delta log lists (read by the `deltalake` package), with the tier and date
partitions taken from the Hive-style paths. Prints one JSON object holding
the rows aitrail's reports should have.

usage: duckdb_reports.py STORE CONFIG FROM TO
"""

import json
import sys
import tomllib

import duckdb
from deltalake import DeltaTable


def timestamp(value):
    """A UTC timestamp written as arrow-json writes it (chrono's %.f)."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    micros = value.microsecond
    if micros % 1_000_000 == 0:
        return text + "Z"
    if micros % 1000 == 0:
        return f"{text}.{micros // 1000:03d}Z"
    return f"{text}.{micros:06d}Z"


def rows(con, query, params):
    cursor = con.execute(query, params)
    names = [d[0] for d in cursor.description]
    out = []
    for values in cursor.fetchall():
        row = {}
        for name, value in zip(names, values):
            if hasattr(value, "hour"):
                value = timestamp(value)
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            row[name] = value
        out.append(row)
    return out


def adoption(con, bucket, group, frm, to):
    dev_group = "grp," if group == "team" else ""
    dev_join = "AND d.grp IS NOT DISTINCT FROM a.grp" if group == "team" else ""
    dev_select = "team AS grp," if group == "team" else ""
    query = f"""
    WITH a AS (
        SELECT CAST(date_trunc('{bucket}', date) AS DATE) AS bucket_start, {group} AS grp,
               count(DISTINCT user_id) AS active_users,
               count(DISTINCT user_id) FILTER (WHERE operation <> 'completion' OR accepted)
                   AS engaged_users,
               count(*) AS events, count(DISTINCT session_id) AS sessions
        FROM ai_usage WHERE date >= $frm AND date < $to GROUP BY ALL
    ), d AS (
        SELECT bucket_start, {dev_group} count(DISTINCT user_id) AS developers FROM (
            SELECT CAST(date_trunc('{bucket}', date) AS DATE) AS bucket_start, {dev_select} user_id
            FROM ai_usage WHERE date >= $frm AND date < $to
            UNION ALL
            SELECT CAST(date_trunc('{bucket}', date) AS DATE) AS bucket_start, {dev_select} user_id
            FROM code_changes WHERE date >= $frm AND date < $to
        ) GROUP BY ALL
    ), n AS (
        SELECT CAST(date_trunc('{bucket}', first) AS DATE) AS bucket_start, grp, count(*) AS new_users
        FROM (SELECT {group} AS grp, user_id, min(date) AS first FROM ai_usage GROUP BY ALL)
        WHERE first >= $frm AND first < $to GROUP BY ALL
    )
    SELECT a.bucket_start, a.grp AS "group", a.active_users, a.engaged_users, d.developers,
           a.active_users / d.developers AS adoption_rate, a.events, a.sessions,
           coalesce(n.new_users, 0) AS new_users
    FROM a JOIN d ON d.bucket_start = a.bucket_start {dev_join}
    LEFT JOIN n ON n.bucket_start = a.bucket_start AND n.grp IS NOT DISTINCT FROM a.grp
    ORDER BY 1, 2
    """
    return rows(con, query, {"frm": frm, "to": to})


def token_spend(con, bucket, group, frm, to):
    query = f"""
    SELECT CAST(date_trunc('{bucket}', u.date) AS DATE) AS bucket_start, u.{group} AS "group",
           sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
           sum(cache_read_tokens) AS cache_read_tokens,
           sum(cache_write_tokens) AS cache_write_tokens,
           coalesce(sum(coalesce(cost_usd, (input_tokens * p.input + output_tokens * p.output
               + cache_read_tokens * p.cache_read + cache_write_tokens * p.cache_write)
               / 1e6)), 0) AS cost_usd,
           sum(CASE WHEN cost_usd IS NULL AND p.model IS NULL THEN input_tokens
               + output_tokens + cache_read_tokens + cache_write_tokens ELSE 0 END)
               AS unpriced_tokens
    FROM ai_usage u ASOF LEFT JOIN prices p ON u.model = p.model AND u.date >= p.valid_from
    WHERE u.date >= $frm AND u.date < $to
    GROUP BY ALL ORDER BY 1, 2
    """
    return rows(con, query, {"frm": frm, "to": to})


def incidents(con, frm, to, hours):
    window = f"""list_contains(i.repositories, {{t}}.repository)
        AND {{t}}.occurred_at <= i.occurred_at
        AND {{t}}.occurred_at >= i.occurred_at - INTERVAL {hours} HOUR"""
    c, u = window.format(t="c"), window.format(t="u")
    query = f"""
    SELECT incident_id, severity, service, occurred_at AS started_at,
        (SELECT count(*) FROM code_changes c WHERE {c}) AS changes,
        (SELECT count(*) FILTER (WHERE ai_assisted) FROM code_changes c WHERE {c})
            AS ai_assisted_changes,
        (SELECT count(*) FILTER (WHERE ai_assisted) / nullif(count(*), 0)
            FROM code_changes c WHERE {c}) AS ai_share,
        (SELECT coalesce(list(DISTINCT tool ORDER BY tool), [])
            FROM (SELECT unnest(c.ai_tools) AS tool FROM code_changes c WHERE {c})
            WHERE tool IS NOT NULL) AS ai_tools,
        (SELECT coalesce(sum(input_tokens + output_tokens + cache_read_tokens
            + cache_write_tokens), 0) FROM ai_usage u WHERE {u}) AS ai_tokens,
        (SELECT bool_or(ai_assisted) FROM code_changes c
            WHERE c.change_id = i.caused_by_change_id) AS cause_ai_assisted
    FROM incidents i WHERE date >= $frm AND date < $to
    ORDER BY started_at, incident_id
    """
    return rows(con, query, {"frm": frm, "to": to})


def summary(con, frm, to):
    query = """
    SELECT ai_assisted, count(*) AS changes,
           count(*) FILTER (WHERE change_id IN (SELECT caused_by_change_id FROM incidents))
               AS failed
    FROM code_changes WHERE date >= $frm AND date < $to GROUP BY ALL
    """
    sides = {"ai_assisted": None, "other": None}
    for row in rows(con, query, {"frm": frm, "to": to}):
        side = "ai_assisted" if row["ai_assisted"] else "other"
        rate = row["failed"] / row["changes"]
        sides[side] = {"changes": row["changes"], "failed": row["failed"], "rate": rate}
    return sides


def main(root, config, frm, to):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in ["ai_usage", "code_changes", "incidents"]:
        files = [f.removeprefix("file://") for f in DeltaTable(f"{root}/{table}").file_uris()]
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM "
            f"read_parquet([{listed}], hive_partitioning = true)"
        )
    with open(config, "rb") as f:
        prices = tomllib.load(f).get("prices", [])
    con.execute(
        "CREATE TABLE prices (model VARCHAR, valid_from DATE, input DOUBLE, output DOUBLE, "
        "cache_read DOUBLE, cache_write DOUBLE)"
    )
    for p in prices:
        con.execute(
            "INSERT INTO prices VALUES (?, ?, ?, ?, ?, ?)",
            [p["model"], p["valid_from"], p["input"], p["output"],
             p.get("cache_read", 0.0), p.get("cache_write", 0.0)],
        )
    print(json.dumps({
        "adoption": adoption(con, "week", "tool", frm, to),
        "adoption_team": adoption(con, "month", "team", frm, to),
        "token_spend": token_spend(con, "month", "model", frm, to),
        "incidents": incidents(con, frm, to, 72),
        "summary": summary(con, frm, to),
    }))


if __name__ == "__main__":
    main(*sys.argv[1:])
