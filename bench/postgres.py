#!/usr/bin/env python3
"""PostgreSQL append and verify throughput, with a plain INSERT loop measured in the same run.

    cargo build --release -p trailseal-cli
    python3 bench/postgres.py                      # starts a throwaway cluster (as root: runuser)
    python3 bench/postgres.py --url postgres://user@host/db

Rows: trailseal appends (per-record commits, and batches of 1,000 per transaction) from 1 and
from 8 writer processes on one chain, next to pgbench running a plain INSERT of a similar row
(per row, and 1,000 rows per transaction) with the same number of clients; then the verify rate
of a 1,000,000-record chain.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def trace(w: int, i: int) -> bytes:
    return (json.dumps({
        "action_id": f"b{w}-{i:08d}", "capability_id": "crm.search", "principal_id": f"worker-{w}",
        "token_id": f"tok-{i}", "invoked_at": f"2026-03-01T09:{(i // 60) % 60:02d}:{i % 60:02d}+00:00",
        "args": {"query": "customer " + "x" * 600, "limit": i % 100}, "response_mode": "summary", "driver_id": "http",
    }, separators=(",", ":")) + "\n").encode()


def start_cluster(max_connections: int = 50) -> tuple[str, callable]:
    work = Path(tempfile.mkdtemp(prefix="trailseal-pg-"))
    root = os.geteuid() == 0
    def as_pg(*cmd):
        full = [str(PG_BIN / cmd[0]), *cmd[1:]]
        if root:
            full = ["runuser", "-u", "postgres", "--", *full]
        subprocess.run(full, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if root:
        shutil.chown(work, "postgres")
    as_pg("initdb", "-A", "trust", "-E", "UTF8", "-U", "postgres", "-D", str(work / "data"))
    port = 55700 + os.getpid() % 200
    as_pg("pg_ctl", "-w", "-D", str(work / "data"), "-l", str(work / "log"), "-o",
          f"-c listen_addresses=127.0.0.1 -p {port} -k {work} -c max_connections={max_connections}", "start")
    def stop():
        as_pg("pg_ctl", "-w", "-D", str(work / "data"), "stop", "-m", "fast")
        shutil.rmtree(work, ignore_errors=True)
    return f"postgres://postgres@127.0.0.1:{port}/postgres", stop


def appenders(t: str, url: str, writers: int, each: int, commit_every: int, env) -> float:
    start = time.perf_counter()
    procs = []
    for w in range(writers):
        p = subprocess.Popen([t, "append", "--store", url, "--quiet", "--commit-every", str(commit_every)],
                             stdin=subprocess.PIPE, env=env)
        procs.append((p, w))
    # Feed them in parallel: one thread each.
    import threading
    def feed(p, w):
        for i in range(each):
            p.stdin.write(trace(w, i))
        p.stdin.close()
    threads = [threading.Thread(target=feed, args=pw) for pw in procs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for p, _ in procs:
        if p.wait() != 0:
            sys.exit("append failed")
    return writers * each / (time.perf_counter() - start)


def pgbench(url: str, clients: int, transactions: int, rows: int, schema: str) -> float:
    script = Path(tempfile.mkstemp(suffix=".sql")[1])
    if rows == 1:
        script.write_text(f"INSERT INTO {schema}.plain (payload) VALUES (repeat('x', 800));\n")
    else:
        script.write_text(f"INSERT INTO {schema}.plain (payload) SELECT repeat('x', 800) FROM generate_series(1, {rows});\n")
    m = re.match(r"postgres://(\w+)@([\d.]+):(\d+)/(\w+)", url)
    user, host, port, db = m.groups()
    out = subprocess.run([str(PG_BIN / "pgbench"), "-n", "-h", host, "-p", port, "-U", user, "-c", str(clients), "-j", str(min(clients, 2)),
                          "-t", str(transactions), "-f", str(script), db], capture_output=True, text=True, check=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    script.unlink()
    return tps * rows


def psql(url: str, sql: str):
    subprocess.run([str(PG_BIN / "psql"), url.split("?")[0], "-q", "-c", sql], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None)
    parser.add_argument("--trailseal", default=str(ROOT / "target" / "release" / "trailseal"))
    parser.add_argument("--verify-records", type=int, default=1_000_000)
    args = parser.parse_args()
    stop = None
    url = args.url
    if url is None:
        url, stop = start_cluster()
    env = dict(os.environ, WEAVER_KERNEL_SECRET="pg-bench-secret-4f1c9e2a7b3d")
    t = args.trailseal
    rows = []
    try:
        psql(url, "CREATE SCHEMA IF NOT EXISTS plainbench; CREATE TABLE IF NOT EXISTS plainbench.plain (seq bigserial PRIMARY KEY, payload text NOT NULL)")
        for writers, each_single, each_batch in ((1, 3000, 100_000), (8, 1000, 25_000)):
            single = appenders(t, f"{url}?schema=per_record_{writers}", writers, each_single, 1, env)
            plain_single = pgbench(url, writers, each_single, 1, "plainbench")
            batch = appenders(t, f"{url}?schema=batched_{writers}", writers, each_batch, 1000, env)
            plain_batch = pgbench(url, writers, each_batch // 1000, 1000, "plainbench")
            rows.append((writers, single, plain_single, batch, plain_batch))
        n = args.verify_records
        vurl = f"{url}?schema=verify_{n}"
        appenders(t, vurl, 1, n, 10_000, env)
        secs, peak, out, _, _ = measure.run([t, "verify", "--store", vurl, "--json"], env)
        verdict = json.loads(out)
        assert verdict["status"] == "verified" and verdict["records_checked"] == n, verdict
        rss = peak / 1024
    finally:
        if stop:
            stop()
    print(f"PostgreSQL 15, {os.cpu_count()} cores, ~750-byte traces")
    print("| writers | trailseal per-record | plain INSERT per row | trailseal batched (1,000/txn) | plain INSERT (1,000 rows/txn) |")
    print("|---|---|---|---|---|")
    for w, s, ps, b, pb in rows:
        print(f"| {w} | {s:,.0f} /s ({s / ps:.0%}) | {ps:,.0f} /s | {b:,.0f} /s ({b / pb:.0%}) | {pb:,.0f} /s |")
    print(f"\nverify {n:,} records: {secs:.2f} s ({n / secs / 1000:.0f} k records/s), peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
