#!/usr/bin/env python3
"""Batched appends through a pipe against the storage engine doing the same work (issue 17,
part 1), every ratio from one run.

    cargo build --release -p trailseal-cli
    python3 bench/append_pipe.py                        # 200,000 traces of ~1 KiB and of ~200 B
    python3 bench/append_pipe.py --records 50000 --rounds 5 --workdir /var/tmp

For each trace size: one `trailseal append --commit-every 1000` process reads the traces from
a file on its stdin and appends them to a new SQLite store, then to a new JSONL store. The
baselines, alternating with it round by round on the same disk:

- SQLite: Python's `sqlite3` (the C library's executemany, rows built before the clock starts)
  inserting the rows trailseal stored (read back from its store: same seq, action_id,
  hashes, invoked_at, payload) into the same `traces` table (same columns, `action_id UNIQUE`),
  WAL, `synchronous=FULL`, 1,000 rows per transaction; and the same plus the two 32-byte
  tree rows a record adds to `trailseal_tree` (the work trailseal does on top).
- JSONL: the bytes of trailseal's JSONL store written to a new file 1,000 lines at a time,
  one `fsync` per batch.

Medians of the rounds; the ratio is the baseline's time over trailseal's (1.00 = the engine's
speed; the issue asks ≥ 0.90 for SQLite and ≥ 0.80 for JSONL).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SECRET = "Zp4Kq8Wm2Rt6Yv0Xb3Nc7Ld1Fg5Hj9Sa2Qe6Uw0Io4"
BATCH = 1000


def trace(i: int, size: str) -> bytes:
    if size == "small":
        doc = {"action_id": f"p-{i:09d}", "capability_id": "crm.search", "principal_id": f"agent-{i % 97}",
               "token_id": f"tok-{i:x}", "invoked_at": f"2026-03-01T00:00:00.{i % 1000000:06d}+00:00",
               "args": {"q": i}, "response_mode": "summary", "driver_id": "http"}
    else:
        doc = {"action_id": f"p-{i:09d}", "capability_id": ("crm.search", "billing.refund", "email.send")[i % 3],
               "principal_id": f"agent-{i % 97}", "token_id": f"tok-{i:x}",
               "invoked_at": f"2026-03-01T00:00:00.{i % 1000000:06d}+00:00",
               "args": {"query": f"customer {i} " + "x" * 700, "limit": i % 100, "filters": {"region": "eu"}},
               "response_mode": "summary", "driver_id": "http",
               "result_summary": {"fact_count": i % 7, "row_count": i % 50, "warning_count": 0, "has_handle": False},
               "sensitivity": "PII"}
    return (json.dumps(doc, separators=(",", ":")) + "\n").encode()


def ours(t: str, store: Path, source: Path) -> float:
    env = dict(os.environ, WEAVER_KERNEL_SECRET=SECRET)
    with open(source, "rb") as f:
        wall, _, _, _, _ = measure.run([t, "append", "--store", str(store), "--commit-every", str(BATCH), "--quiet"], env, f)
    return wall


def stored_rows(store: Path) -> tuple[list[tuple], list[tuple]]:
    db = sqlite3.connect(store)
    rows = db.execute("SELECT seq, action_id, prev_hash, record_hash, invoked_at, payload FROM traces ORDER BY seq").fetchall()
    tree = db.execute("SELECT idx, hash FROM trailseal_tree ORDER BY idx").fetchall()
    db.close()
    return rows, tree


def plain_sqlite(path: Path, rows: list[tuple], tree: list[tuple] | None) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE traces (seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL, prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL)")
    db.execute("CREATE TABLE trailseal_tree (idx INTEGER PRIMARY KEY, hash BLOB NOT NULL)")
    per_batch = len(tree) / len(rows) if tree else 0
    start = time.perf_counter()
    for b in range(0, len(rows), BATCH):
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO traces VALUES (?, ?, ?, ?, ?, ?)", rows[b:b + BATCH])
        if tree:
            lo, hi = int(b * per_batch), int(min(b + BATCH, len(rows)) * per_batch)
            db.executemany("INSERT INTO trailseal_tree VALUES (?, ?)", tree[lo:hi])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def plain_file(path: Path, lines: list[bytes]) -> float:
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    for b in range(0, len(lines), BATCH):
        os.write(fd, b"".join(lines[b:b + BATCH]))
        os.fsync(fd)
    os.close(fd)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trailseal", default=str(ROOT / "target" / "release" / "trailseal"))
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    n = args.records
    table = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        for size in ("large", "small"):
            source = work / f"{size}.jsonl"
            with open(source, "wb") as f:
                for i in range(n):
                    f.write(trace(i, size))
            avg = source.stat().st_size / n
            t_sql, t_plain, t_plain_tree, t_jsonl, t_file = [], [], [], [], []
            for r in range(args.rounds):
                db = work / f"{size}-{r}.db"
                t_sql.append(ours(args.trailseal, db, source))
                rows, tree = stored_rows(db)
                t_plain.append(plain_sqlite(work / f"{size}-{r}-plain.db", rows, None))
                t_plain_tree.append(plain_sqlite(work / f"{size}-{r}-plaintree.db", rows, tree))
                del rows, tree
                jl = work / f"{size}-{r}.jsonl"
                t_jsonl.append(ours(args.trailseal, jl, source))
                lines = jl.read_bytes().splitlines(keepends=True)
                t_file.append(plain_file(work / f"{size}-{r}-plain.jsonl", lines))
                del lines
                for p in work.glob(f"{size}-{r}*"):
                    p.unlink()
            med = statistics.median
            table.append((size, avg, med(t_sql), med(t_plain), med(t_plain_tree), med(t_jsonl), med(t_file)))
    print(f"{n:,} traces per store, {BATCH:,} per durable transaction, medians of {args.rounds} rounds, {os.cpu_count()} cores")
    print("| traces | trailseal SQLite | plain SQLite (same rows) | ratio | plain SQLite + tree rows | ratio | trailseal JSONL | same bytes, fsync per batch | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size, avg, s, p, pt, j, fl in table:
        rate = lambda secs: f"{n / secs / 1000:,.1f} k/s"
        print(f"| ~{avg:,.0f} B | {rate(s)} | {rate(p)} | **{p / s:.2f}** | {rate(pt)} | **{pt / s:.2f}** | {rate(j)} | {rate(fl)} | **{fl / j:.2f}** |")


if __name__ == "__main__":
    main()
