#!/usr/bin/env python3
"""What the Merkle tree costs: the same appends and verifications by trailseal with the tree
and by a build of the last commit before it (the baseline), run alternately on the same machine
in the same run.

    cargo build --release -p trailseal-cli
    git worktree add --detach /tmp/pre-tree b623e86          # the last commit without the tree
    (cd /tmp/pre-tree && cargo build --release -p trailseal-cli)
    python3 bench/tree_overhead.py --baseline /tmp/pre-tree/target/release/trailseal

For SQLite and JSONL: `append` of N traces in durable batches of 10,000 (`--commit-every`),
`append` of 2,000 traces one durable transaction each (`--commit-every 1`; also its CPU time,
user + system, which the disk's noise does not reach), and `verify` of the
N-record store each version wrote (with the tree recomputed, for the new one). Each step runs
`--rounds` times per version, alternating; the table gives the median and the ratio
new / baseline (time: above 1 is slower).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure  # noqa: E402
from scale import traces  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def remove_store(store: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".tree", ".lock"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)


def timed(cmd: list[str], env: dict[str, str], stdin=None) -> tuple[float, str]:
    wall, _, out, _, _ = measure.run(cmd, env, measure.chunks(stdin) if stdin is not None else None)
    return wall, out


def plain_sqlite(path: Path, n: int, tree_rows: bool) -> float:
    """What the storage engine itself charges: `n` commits of one 1 KB record row each (WAL,
    synchronous=FULL, as trailseal writes), with or without the two 32-byte rows a record adds
    to a tree table on average. Python's sqlite3, no trailseal."""
    import sqlite3

    remove_store(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, a TEXT UNIQUE, p TEXT, r TEXT, payload TEXT)")
    conn.execute("CREATE TABLE tr (idx INTEGER PRIMARY KEY, hash BLOB NOT NULL)")
    payload = "x" * 960
    idx = 0
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", (i, f"a-{i}", "0" * 64, "1" * 64, payload))
        if tree_rows:
            for _ in range(2):
                conn.execute("INSERT INTO tr VALUES (?, ?)", (idx, os.urandom(32)))
                idx += 1
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    remove_store(path)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="the trailseal binary without the tree")
    parser.add_argument("--trailseal", default=str(ROOT / "target" / "release" / "trailseal"))
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--single", type=int, default=2_000, help="traces appended one transaction each")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--steps", default="batched,verify,per-record",
                        help="which of batched, verify, per-record to run (comma-separated; verify needs batched)")
    args = parser.parse_args()
    steps = set(args.steps.split(","))
    if "verify" in steps:
        steps.add("batched")
    env = dict(os.environ, WEAVER_KERNEL_SECRET="tree-overhead-bench-secret-5c1e")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="trailseal-tree-"))
    work.mkdir(parents=True, exist_ok=True)
    versions = {"baseline": args.baseline, "tree": args.trailseal}
    results: dict[tuple[str, str, str], list[float]] = {}
    for fmt in ("db", "jsonl"):
        for r in range(args.rounds):
            for name, binary in (versions.items() if r % 2 == 0 else reversed(versions.items())):
                store = work / f"{name}.{fmt}"
                remove_store(store)
                if "batched" in steps:
                    s, _ = timed([binary, "append", "--store", str(store), "--commit-every", "10000", "--quiet"], env, traces(args.records))
                    results.setdefault((fmt, "batched", name), []).append(s)
                for step in ("verify", "verify again") if "verify" in steps else ():
                    s, out = timed([binary, "verify", "--store", str(store), "--json"], env)
                    verdict = json.loads(out)
                    assert verdict["records_checked"] == args.records, out
                    if name == "tree":
                        assert not any(c["code"] == "tree-incomplete" for c in verdict["caveats"]), out
                    results.setdefault((fmt, step, name), []).append(s)
                if "per-record" not in steps:
                    continue
                single = work / f"{name}-single.{fmt}"
                remove_store(single)
                s, cpu, _ = measure.run_cpu([binary, "append", "--store", str(single), "--commit-every", "1", "--quiet"],
                                            env, measure.chunks(traces(args.single)))
                results.setdefault((fmt, "per-record", name), []).append(s)
                results.setdefault((fmt, "per-record CPU", name), []).append(cpu)
                remove_store(single)
        for name in versions:
            remove_store(work / f"{name}.{fmt}")
    for r in range(args.rounds if "per-record" in steps else 0):
        for rows in ((False, True) if r % 2 == 0 else (True, False)):
            name = "tree" if rows else "baseline"
            results.setdefault(("plain", "per-record", name), []).append(
                plain_sqlite(work / "plain.db", args.single, rows))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ntree overhead, {os.cpu_count()} cores, {args.records:,} records (per-record: {args.single:,}), "
          f"{args.rounds} rounds, medians")
    print("| store | step | baseline | with the tree | ratio |")
    print("|---|---|---|---|---|")
    for fmt in ("db", "jsonl"):
        for step in ("batched", "per-record", "per-record CPU", "verify", "verify again"):
            if (fmt, step, "baseline") not in results:
                continue
            n = args.single if step.startswith("per-record") else args.records
            base = statistics.median(results[(fmt, step, "baseline")])
            tree = statistics.median(results[(fmt, step, "tree")])
            spread = (f"{min(results[(fmt, step, 'tree')]) / max(results[(fmt, step, 'baseline')]):.2f}–"
                      f"{max(results[(fmt, step, 'tree')]) / min(results[(fmt, step, 'baseline')]):.2f}")
            print(f"| {'SQLite' if fmt == 'db' else 'JSONL'} | {step} | {base:.2f} s ({n / base / 1000:.1f} k/s) "
                  f"| {tree:.2f} s ({n / tree / 1000:.1f} k/s) | {tree / base:.2f} (extremes {spread}) |")
    if ("plain", "per-record", "baseline") not in results:
        return
    base = statistics.median(results[("plain", "per-record", "baseline")])
    tree = statistics.median(results[("plain", "per-record", "tree")])
    n = args.single
    print(f"| plain SQLite (Python sqlite3): a record row per commit, then with 2 tree rows | per-record "
          f"| {base:.2f} s ({n / base / 1000:.1f} k/s) | {tree:.2f} s ({n / tree / 1000:.1f} k/s) | {tree / base:.2f} |")


if __name__ == "__main__":
    main()
