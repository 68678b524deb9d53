"""Writes valid aitrail events (schema v1, DESIGN §2–§3) as JSONL to stdout,
the way producers other than `aitrail gen` write them: an independent check
that the validator's fast path takes any valid shape (issue 27).

- Python's `json.dumps` defaults for most lines: `", "` and `": "`, every
  non-ASCII character as `\\uXXXX`; some lines as PHP's `json_encode` writes
  them (compact, `\\/`, `\\uXXXX`), some as Go's `encoding/json` does
  (compact, UTF-8, `\\u003c`, `\\u003e`, `\\u0026`).
- Keys in an order of each event's own.
- Team, tool, repository and attribute text beyond ASCII (`Zürich-Plattform`,
  `日本語`), names that hold `sk-` inside a word (`risk-management`,
  `task-runner`, `disk-cleanup`, `ask-bot`).
- Timestamps in `Z`, `+00:00`, `+02:00`, `-05:00` and `+05:30`.
- Optional fields absent, present, or null; attributes sometimes; `cost_usd`
  sometimes, with all the digits a float has.
- About 88 % ai_usage, 11 % code_change, 1 % incident events.

usage: foreign_events.py --events N [--seed S] [--start YYYY-MM-DD] [--days D]

Every event is valid: ids unique, times within the days given and never in
the future, repositories canonical, parts never above their wholes.
"""

import argparse
import datetime as dt
import json
import random
import sys

TEAMS = [
    "risk-management",
    "task-runner",
    "disk-cleanup",
    "ask-bot",
    "Zürich-Plattform",
    "日本語チーム",
    "équipe-données",
    "R&D <core>",
    "payments",
    "São Paulo / infra",
    "trading",
    "platform",
]
TOOLS = [
    ("claude-code", "anthropic", ["claude-sonnet-4-5", "claude-opus-4-1"], "cli"),
    ("github-copilot", "openai", ["gpt-4.1", "gpt-5-mini"], "ide"),
    ("cursor", "anthropic", ["claude-sonnet-4-5"], "ide"),
    ("ask-bot", "openai", ["gpt-5"], "web"),
    ("task-runner", "anthropic", ["claude-haiku-4-5"], "ci"),
    ("Zürich Assistent", "mistral", ["mistral-large-2"], "web"),
]
# Hosts are lower-case ASCII (IDNs in punycode); paths may hold any script.
HOSTS = ["github.example.com", "gitlab.example.org", "git.xn--zrich-kva.example"]
OWNERS = ["acme", "risk-management", "plattform"]
NAMES = ["payments-api", "disk-cleanup", "task-runner", "zürich-infra", "日本語-docs", "web"]
OPERATIONS = ["chat", "completion", "agent", "edit", "review", "embedding"]
DATA_CLASSES = ["public", "internal", "confidential", "restricted"]
DOMAINS = ["green", "green", "green", "yellow", "red"]
CLIENTS = ["ide", "cli", "web", "ci"]
ATTRIBUTES = [
    ("ticket", lambda r: f"RISK-{r.randrange(1, 9999)}"),
    ("workflow", lambda r: r.choice(["task-runner", "disk-cleanup", "risk-sk-review"])),
    ("site", lambda r: r.choice(["Zürich", "São Paulo", "東京"])),
    ("équipe", lambda r: "données"),
    ("チーム", lambda r: "日本語"),
    ("ide", lambda r: "VS Code — Insiders"),
    ("wiki", lambda r: "https://wiki.example.com/a/b?x=1&y=2"),
    ("note", lambda r: "<auto> R&D"),
    ("trace.id", lambda r: f"{r.getrandbits(64):016x}"),
]
OFFSETS = [None, None, dt.timedelta(0), dt.timedelta(hours=2), dt.timedelta(hours=-5),
           dt.timedelta(hours=5, minutes=30)]


def timestamp(rng, at):
    """`at` (UTC) as RFC 3339 in one of the offsets producers write."""
    offset = rng.choice(OFFSETS)
    zone = dt.timezone(offset or dt.timedelta(0))
    spec = rng.choice(["seconds", "milliseconds", "microseconds"])
    text = at.astimezone(zone).isoformat(timespec=spec)
    return text.replace("+00:00", "Z") if offset is None else text


def repository(rng):
    owner = rng.choice(OWNERS)
    return f"{rng.choice(HOSTS)}/{owner}/{rng.choice(NAMES)}"


def maybe(rng, event, field, value, present=0.6, null=0.15):
    """Sets an optional field: present, null, or left out."""
    roll = rng.random()
    if roll < present:
        event[field] = value
    elif roll < present + null:
        event[field] = None


def ai_usage(rng, common, user):
    tool, provider, models, client = rng.choice(TOOLS)
    output_tokens = rng.randrange(0, 8000)
    event = dict(common, event_type="ai_usage", user_id=user, tool=tool,
                 model=rng.choice(models), input_tokens=rng.randrange(0, 200_000),
                 output_tokens=output_tokens)
    maybe(rng, event, "team", rng.choice(TEAMS))
    maybe(rng, event, "tool_version", f"{rng.randrange(1, 3)}.{rng.randrange(0, 40)}.{rng.randrange(0, 9)}")
    maybe(rng, event, "provider", provider)
    maybe(rng, event, "session_id", f"s-{user}-{rng.getrandbits(32):08x}")
    maybe(rng, event, "repository", repository(rng))
    maybe(rng, event, "domain", rng.choice(DOMAINS))
    maybe(rng, event, "client", client)
    maybe(rng, event, "accepted", rng.random() < 0.3, present=0.3)
    maybe(rng, event, "duration_ms", rng.randrange(50, 120_000))
    maybe(rng, event, "cost_usd", rng.random() * 3, present=0.3, null=0.05)
    if rng.random() < 0.4:
        lines = rng.randrange(0, 400)
        event["lines_added"], event["lines_removed"] = lines, rng.randrange(0, lines + 1)
    # Defaults that are not options: present with a value, or left out.
    if rng.random() < 0.7:
        event["operation"] = rng.choice(OPERATIONS)
    if rng.random() < 0.5:
        event["data_class"] = rng.choice(DATA_CLASSES)
    if rng.random() < 0.5:
        event["cache_read_tokens"] = rng.randrange(0, 100_000)
        event["cache_write_tokens"] = rng.randrange(0, 20_000)
    if rng.random() < 0.3:
        event["reasoning_tokens"] = rng.randrange(0, output_tokens + 1)
    if rng.random() < 0.35:
        chosen = rng.sample(ATTRIBUTES, rng.randrange(1, 5))
        event["attributes"] = {key: value(rng) for key, value in chosen}
    return event


def code_change(rng, common, user):
    repo = repository(rng)
    kind = rng.choice(["pull_request", "commit", "deployment"])
    event = dict(common, event_type="code_change", kind=kind, repository=repo, user_id=user,
                 change_id=f"{repo.split('/', 1)[1]}#{rng.randrange(1, 99_999)}",
                 ai_assisted=rng.random() < 0.6)
    maybe(rng, event, "team", rng.choice(TEAMS))
    maybe(rng, event, "ai_tools", rng.sample([t[0] for t in TOOLS], rng.randrange(0, 3)))
    if rng.random() < 0.8:
        lines = rng.randrange(0, 2000)
        event["lines_added"] = lines
        event["lines_removed"] = rng.randrange(0, 2000)
        maybe(rng, event, "ai_lines_added", rng.randrange(0, lines + 1))
    maybe(rng, event, "reviewer_ids", [f"u-{rng.getrandbits(32):08x}" for _ in range(rng.randrange(0, 3))])
    maybe(rng, event, "domain", rng.choice(DOMAINS))
    maybe(rng, event, "service", rng.choice(NAMES), present=0.4)
    return event


def incident(rng, common, started, now):
    event = dict(common, event_type="incident", incident_id=f"INC-{rng.randrange(1, 99_999)}",
                 severity=rng.choice(["sev1", "sev2", "sev3", "sev4"]),
                 repositories=[repository(rng) for _ in range(rng.randrange(1, 3))])
    maybe(rng, event, "service", rng.choice(NAMES))
    resolved = started + dt.timedelta(minutes=rng.randrange(5, 600))
    if resolved <= now:
        maybe(rng, event, "resolved_at", timestamp(rng, resolved))
    maybe(rng, event, "caused_by_change_id", f"acme/{rng.choice(NAMES)}#{rng.randrange(1, 99_999)}")
    return event


def shuffled(rng, event):
    """The event with its keys (and its attributes' keys) in an order of its own."""
    items = list(event.items())
    rng.shuffle(items)
    return {key: shuffled(rng, value) if isinstance(value, dict) else value for key, value in items}


def written(rng, event):
    """One line as Python, PHP or Go writes it."""
    style = rng.random()
    if style < 0.6:
        return json.dumps(event)
    if style < 0.8:
        # PHP: `json_encode` escapes `/` and every non-ASCII character. `/`
        # stands only inside strings, so escaping it in the text is exact.
        return json.dumps(event, separators=(",", ":")).replace("/", "\\/")
    # Go: UTF-8 as it is, HTML characters and line separators escaped; they
    # too stand only inside strings.
    text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in [("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")]:
        text = text.replace(char, escaped)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2026, 1, 5))
    parser.add_argument("--days", type=int, default=5)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    start = dt.datetime.combine(args.start, dt.time(), dt.timezone.utc)
    # Never in the future, with room for a clock that runs a little behind.
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    end = min(start + dt.timedelta(days=args.days), now)
    if end <= start:
        sys.exit("the days given are all in the future")
    span = (end - start).total_seconds()
    users = [f"u-{rng.getrandbits(48):012x}" for _ in range(max(10, args.events // 50))]

    out = sys.stdout
    for index in range(args.events):
        at = start + dt.timedelta(seconds=rng.random() * span)
        common = {
            "schema_version": 1,
            "event_id": f"py-{args.seed:x}-{index:08d}",
            "occurred_at": timestamp(rng, at),
            "org_id": rng.choice(["acme", "Zürich AG", "acme-日本"]),
        }
        user = rng.choice(users)
        kind = rng.random()
        if kind < 0.88:
            event = ai_usage(rng, common, user)
        elif kind < 0.99:
            event = code_change(rng, common, user)
        else:
            event = incident(rng, common, at, now)
        out.write(written(rng, shuffled(rng, event)))
        out.write("\n")


if __name__ == "__main__":
    main()
