#!/usr/bin/env python3
"""Soak benchmark: `aitrail dev` left running under a live stream.

    benches/e2e/soak.py --rate 20 --minutes 60 [--bin PATH] [--data-dir DIR] [--csv FILE]

Starts `aitrail dev --rate RATE` on a fresh data directory, waits for the
lines it prints once ready, then every `--every` seconds (default 60) writes
one CSV row: minutes since ready, RSS (MiB), CPU share of one core over the
interval, and per table the Delta versions (commits), the active data files
(the table's current snapshot, read with the `deltalake` Python package) and
the Parquet files on disk. Stops the process with SIGINT at the end and
checks it exits 0. Needs only the release binary and `pip install deltalake`
(which scripts/test installs).
"""

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TABLES = ["ai_usage", "code_changes", "incidents", "access_log"]


def default_binary() -> str:
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/aitrail-target"))
    return str(Path(target) / "release" / "aitrail")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line (1-based).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def table_counts(data_dir: Path, table: str) -> tuple[int, int, int]:
    """(versions, active files, Parquet files on disk) of one table."""
    root = data_dir / table
    if not (root / "_delta_log").exists():
        return (0, 0, 0)
    on_disk = sum(1 for _ in root.rglob("*.parquet"))
    try:
        from deltalake import DeltaTable

        delta = DeltaTable(str(root))
        return (delta.version() + 1, len(delta.file_uris()), on_disk)
    except Exception as err:  # a commit racing the read; counted next time
        print(f"soak: {table}: {err}", file=sys.stderr)
        return (-1, -1, on_disk)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--every", type=float, default=60, help="seconds between samples")
    parser.add_argument("--bin", default=default_binary())
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--backfill-days", default="90")
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="aitrail-soak-")) / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    command = [args.bin, "dev", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir),
               "--rate", str(args.rate), "--backfill-days", args.backfill_days, "--log-format", "json"]
    log_path = data_dir.with_name(data_dir.name + ".log")
    log = open(log_path, "wb")
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log)
    printed = {}
    while len(printed) < 4:
        line = child.stdout.readline().decode()
        if not line:
            print(f"soak: aitrail dev exited early; see {log_path}", file=sys.stderr)
            return 1
        key, _, value = line.strip().partition(": ")
        printed[key] = value
    threading.Thread(target=lambda: child.stdout.read(), daemon=True).start()
    print(f"soak: ready ({printed['dashboard']}); data {data_dir}, log {log_path}", file=sys.stderr)

    out = open(args.csv, "w", newline="") if args.csv else sys.stdout
    writer = csv.writer(out)
    header = ["minute", "rss_mib", "cpu_share"]
    for table in TABLES:
        header += [f"{table}_versions", f"{table}_files", f"{table}_on_disk"]
    writer.writerow(header)
    started = time.monotonic()
    last_cpu, last_at = cpu_seconds(child.pid), started
    deadline = started + args.minutes * 60
    while True:
        next_at = last_at + args.every
        time.sleep(max(0.0, next_at - time.monotonic()))
        if child.poll() is not None:
            print(f"soak: aitrail dev stopped with {child.returncode}; see {log_path}", file=sys.stderr)
            return 1
        now = time.monotonic()
        cpu = cpu_seconds(child.pid)
        row = [f"{(now - started) / 60:.1f}", f"{rss_mib(child.pid):.0f}", f"{(cpu - last_cpu) / (now - last_at):.3f}"]
        for table in TABLES:
            row += list(table_counts(data_dir, table))
        writer.writerow(row)
        out.flush()
        last_cpu, last_at = cpu, now
        if now >= deadline:
            break
    child.send_signal(signal.SIGINT)
    code = child.wait(timeout=120)
    print(f"soak: aitrail dev exited with {code}", file=sys.stderr)
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
