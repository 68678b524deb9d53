"""Times `aitrail report violations` over a store, then computes the same
findings with DuckDB from the Parquet files the Delta log lists and SQL
written from DESIGN §10 (not from aitrail's code), and checks that the two
agree row for row.

usage: governance_compare.py AITRAIL STORE POLICY FROM TO

Prints the times (best of 3) and the row counts per rule; exits 1 when
the findings differ, printing the first differences.
"""

import json
import re
import subprocess
import sys
import tomllib
from datetime import date, timedelta

from query_compare import best, duckdb_over
CLASSES = ["public", "internal", "confidential", "restricted"]
RULES = ["unapproved_tool", "data_class_exceeded", "red_domain_use",
         "unreviewed_ai_change", "stale_tool_review"]


def glob_regex(glob):
    """A glob (`*`, `?`, `[…]`) as an anchored regular expression."""
    out, i = "", 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            out += ".*"
        elif c == "?":
            out += "."
        elif c == "[":
            end = glob.index("]", i + 1)
            body = glob[i + 1:end]
            out += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
            i = end
        else:
            out += re.escape(c)
        i += 1
    return "^" + out + "$"


def any_glob(globs):
    return "|".join("(" + glob_regex(g) + ")" for g in globs)


def q(text):
    return "NULL" if text is None else "'" + str(text).replace("'", "''") + "'"


def policy_tables(con, policy):
    rows = []
    for n, entry in enumerate(policy.get("approved_tools", [])):
        models = entry.get("models")
        rows.append(f"({n}, {q(entry['tool'])}, {q(any_glob(models) if models else None)}, "
                    f"DATE {q(entry['from'])}, {('DATE ' + q(entry['until'])) if 'until' in entry else 'NULL'}, "
                    f"{CLASSES.index(entry.get('max_data_class', 'internal'))})")
    con.execute("CREATE TABLE approved (pos INT, tool VARCHAR, models VARCHAR, "
                "valid_from DATE, valid_until DATE, max_rank INT)")
    if rows:
        con.execute("INSERT INTO approved VALUES " + ", ".join(rows))
    rows = [f"({n}, {q(rule['domain'])}, {q(any_glob(rule['repositories']))})"
            for n, rule in enumerate(policy.get("domains", []))]
    con.execute("CREATE TABLE domain_rules (pos INT, domain VARCHAR, pattern VARCHAR)")
    if rows:
        con.execute("INSERT INTO domain_rules VALUES " + ", ".join(rows))
    con.execute("CREATE TABLE classes (class VARCHAR, rank INT)")
    con.execute("INSERT INTO classes VALUES " +
                ", ".join(f"({q(c)}, {n})" for n, c in enumerate(CLASSES)))


def exception_case(policy):
    """A CASE giving the id of the first exception covering a finding."""
    arms = []
    for ex in policy.get("exceptions", []):
        conds = [f"rule = {q(ex['rule'])}",
                 f"day BETWEEN DATE {q(ex['from'])} AND DATE {q(ex['until'])}"]
        for field, values in ex.get("match", {}).items():
            values = [values] if isinstance(values, str) else values
            conds.append(f"coalesce(regexp_full_match({field}, {q(any_glob(values))}), false)")
        arms.append(f"WHEN {' AND '.join(conds)} THEN {q(ex['id'])}")
    return "CASE " + " ".join(arms) + " END" if arms else "CAST(NULL AS VARCHAR)"


def duckdb_findings(con, policy, frm, to):
    default = policy.get("default_domain", "green")
    review = policy.get("review", {})
    security = review.get("security_reviewers", [])
    security_list = "[" + ", ".join(q(s) for s in security) + "]::VARCHAR[]"
    usage = f"""
    WITH u AS (
      SELECT date AS day, org_id, user_id, team, tool, model, repository,
             coalesce(data_class, 'internal') AS class, domain, occurred_at, event_id
      FROM ai_usage WHERE date >= DATE {q(frm)} AND date < DATE {q(to)}),
    g AS (
      SELECT day, org_id, user_id, team, tool, model, repository, class, domain,
             count(*) AS events, min(occurred_at) AS first_at,
             arg_min(event_id, (occurred_at, event_id)) AS first_id,
             max(occurred_at) AS last_at, arg_max(event_id, (occurred_at, event_id)) AS last_id
      FROM u GROUP BY ALL),
    judged AS (
      SELECT g.*,
        (SELECT min(a.pos) FROM approved a WHERE a.tool = g.tool
           AND (a.models IS NULL OR regexp_full_match(g.model, a.models))
           AND g.day >= a.valid_from AND (a.valid_until IS NULL OR g.day <= a.valid_until)) AS entry,
        coalesce(g.domain,
          (SELECT d.domain FROM domain_rules d
           WHERE regexp_full_match(g.repository, d.pattern) ORDER BY d.pos LIMIT 1),
          {q(default)}) AS effective_domain
      FROM g),
    broken AS (
      SELECT 'unapproved_tool' AS rule, * FROM judged WHERE entry IS NULL
      UNION ALL
      SELECT 'data_class_exceeded', j.* FROM judged j
        LEFT JOIN approved a ON a.pos = j.entry
        JOIN classes c ON c.class = j.class
        WHERE j.class = 'restricted' OR (j.entry IS NOT NULL AND c.rank > a.max_rank)
      UNION ALL
      SELECT 'red_domain_use', * FROM judged WHERE effective_domain = 'red')
    SELECT rule, day, org_id, user_id, team, tool, model, repository,
           CAST(NULL AS VARCHAR) AS change_id, sum(events) AS events,
           arg_min(first_id, (first_at, first_id)) AS first_event_id,
           arg_max(last_id, (last_at, last_id)) AS last_event_id
    FROM broken GROUP BY rule, day, org_id, user_id, team, tool, model, repository"""
    changes = f"""
    WITH c AS (
      SELECT event_id, occurred_at, date AS day, org_id, change_id, repository, user_id, team,
             coalesce(domain,
               (SELECT d.domain FROM domain_rules d
                WHERE regexp_full_match(repository, d.pattern) ORDER BY d.pos LIMIT 1),
               {q(default)}) AS effective_domain,
             coalesce(reviewer_ids, []) AS listed
      FROM code_changes
      WHERE kind = 'pull_request' AND ai_assisted AND date >= DATE {q(frm)} AND date < DATE {q(to)}),
    decisive AS (
      SELECT c.event_id, r.user_id AS reviewer,
             arg_max(r.state, r.occurred_at) AS last_state
      FROM c JOIN code_reviews r ON r.change_id = c.change_id AND r.repository = c.repository
      WHERE r.occurred_at < c.occurred_at AND r.user_id <> c.user_id AND r.state <> 'commented'
      GROUP BY c.event_id, r.user_id),
    approvers AS (
      SELECT event_id, reviewer FROM decisive WHERE last_state = 'approved'
      UNION
      SELECT event_id, unnest(listed) FROM c),
    counted AS (
      SELECT c.*,
        (SELECT count(DISTINCT a.reviewer) FROM approvers a
         WHERE a.event_id = c.event_id AND a.reviewer <> c.user_id) AS approvals,
        (SELECT count(*) FROM approvers a
         WHERE a.event_id = c.event_id AND a.reviewer <> c.user_id
           AND list_contains({security_list}, a.reviewer)) AS security_approvals
      FROM c)
    SELECT 'unreviewed_ai_change' AS rule, day, org_id, user_id, team,
           CAST(NULL AS VARCHAR) AS tool, CAST(NULL AS VARCHAR) AS model, repository,
           change_id, 1 AS events, event_id AS first_event_id, event_id AS last_event_id
    FROM counted
    WHERE (effective_domain = 'red' AND (approvals < {review.get('red_min_approvals', 2)}
                                         OR security_approvals = 0))
       OR (effective_domain <> 'red' AND approvals < {review.get('min_approvals', 1)})"""
    sql = f"""
    WITH f AS (({usage}) UNION ALL ({changes}))
    SELECT rule, {exception_case(policy)} AS exception_id, day, org_id, user_id, team, tool,
           model, repository, change_id, events, first_event_id, last_event_id
    FROM f"""
    rows = []
    for row in con.execute(sql).fetchall():
        rule, exception, day, *rest = row
        rows.append([rule, "excepted" if exception else "open", exception, day.isoformat(),
                     *rest[:-3], int(rest[-3]), *rest[-2:]])
    last_day = date.fromisoformat(to) - timedelta(days=1)
    due_before = last_day - timedelta(days=92)
    for entry in policy.get("approved_tools", []):
        start = date.fromisoformat(str(entry["from"]))
        until = entry.get("until")
        if start > last_day or (until and date.fromisoformat(str(until)) < date.fromisoformat(frm)):
            continue
        reviewed = date.fromisoformat(str(entry.get("last_reviewed", entry["from"])))
        if reviewed < due_before:
            models = entry.get("models")
            rows.append(["stale_tool_review", "open", None, last_day.isoformat(), None, None, None,
                         entry["tool"], models[0] if models else None, None, None, 0, None, None])
    return rows


def ours(aitrail, store, policy_file, frm, to, form):
    return subprocess.run([aitrail, "report", "violations", "--store", store, "--policy",
                           policy_file, "--from", frm, "--to", to, "--format", form],
                          check=True, capture_output=True).stdout


def our_rows(aitrail, store, policy_file, frm, to):
    columns = ["rule", "status", "exception_id", "day", "org_id", "user_id", "team", "tool",
               "model", "repository", "change_id", "events", "first_event_id", "last_event_id"]
    answer = json.loads(ours(aitrail, store, policy_file, frm, to, "json"))
    return [[row[c] for c in columns] for row in answer["rows"]]


def key(row):
    return json.dumps(row, default=str)


def main(aitrail, store, policy_file, frm, to):
    with open(policy_file, "rb") as f:
        policy = tomllib.load(f)
    policy = json.loads(json.dumps(policy, default=str))
    # Timed: the process writing the findings as CSV; compared: its JSON.
    ours_s, _ = best(lambda: ours(aitrail, store, policy_file, frm, to, "csv"))
    mine = our_rows(aitrail, store, policy_file, frm, to)
    con = duckdb_over(store, ["ai_usage", "code_changes", "code_reviews"])
    policy_tables(con, policy)
    theirs_s, theirs = best(lambda: duckdb_findings(con, policy, frm, to))
    print(f"violations {frm} .. {to}: aitrail report {ours_s:.3f} s (process included, CSV), "
          f"DuckDB {theirs_s:.3f} s (open connection, rows fetched into Python); findings {len(mine)} and {len(theirs)}")
    for rule in RULES:
        print(f"  {rule}: {sum(r[0] == rule for r in mine)} and "
              f"{sum(r[0] == rule for r in theirs)}")
    a, b = sorted(map(key, mine)), sorted(map(key, theirs))
    if a != b:
        only_ours = sorted(set(a) - set(b))[:5]
        only_theirs = sorted(set(b) - set(a))[:5]
        print("DIFFERENT\n only aitrail:", *only_ours, "\n only DuckDB:", *only_theirs, sep="\n  ")
        sys.exit(1)
    print("agree row for row")


if __name__ == "__main__":
    main(*sys.argv[1:])
