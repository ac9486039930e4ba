#!/usr/bin/env python3
"""Side-by-side verification benchmark: trailseal vs weaver-kernel 0.12.0's verify_chain.

Builds two SQLite stores holding the same N traces -- one written by weaver-kernel's own code
(``interop/weaver_tool.py bulk-write``: exactly the rows ``SQLiteTraceStore.record()`` writes,
loaded in one transaction), one written by ``trailseal append`` -- then verifies each store with
both tools, several times, in this one run, and prints the medians and the ratios.

trailseal is timed as a whole process (``trailseal verify --store S --quiet``: start-up, open,
verify); weaver-kernel as the ``verify_chain()`` call alone (the store is opened before its
clock starts). Peak memory is each process's maximum RSS (``/usr/bin/time -f %M``).

Usage (with a Python that has weaver-kernel==0.12.0, e.g. target/weaver-venv/bin/python):

    cargo build --release -p trailseal-cli
    target/weaver-venv/bin/python bench/verify_vs_weaver.py --records 100000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "interop" / "weaver_tool.py"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run cmd under /usr/bin/time; return (wall seconds, max RSS KiB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *cmd], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    rss = int(proc.stderr.strip().splitlines()[-1])
    if proc.returncode not in (0,):
        sys.exit(f"{cmd} failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    return wall, rss, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--trailseal", default=str(ROOT / "target" / "release" / "trailseal"))
    parser.add_argument("--workdir", default=None, help="where to build the stores (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()

    env = dict(os.environ, WEAVER_KERNEL_SECRET="bench-secret-é")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="trailseal-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    weaver_db, trailseal_db = work / "weaver.sqlite", work / "trailseal.db"
    for p in (weaver_db, trailseal_db):
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(p) + suffix).unlink(missing_ok=True)

    print(f"building stores of {args.records} records in {work}", file=sys.stderr)
    out = subprocess.run(
        [sys.executable, str(TOOL), "bulk-write", "--path", str(weaver_db), "--count", str(args.records), "--seed", "1"],
        env=env, capture_output=True, text=True, check=True,
    )
    print("  weaver-kernel bulk-write:", out.stdout.strip(), file=sys.stderr)
    listed = subprocess.run(
        [args.trailseal, "list", "--store", str(weaver_db), "--json"], env=env, capture_output=True, check=True
    ).stdout
    traces = json.loads(listed)
    lines = "".join(json.dumps(t, separators=(",", ":")) + "\n" for t in traces).encode()
    start = time.perf_counter()
    subprocess.run([args.trailseal, "append", "--store", str(trailseal_db), "--quiet"], input=lines, env=env, check=True)
    print(f"  trailseal append (one transaction): {time.perf_counter() - start:.2f} s", file=sys.stderr)

    results = []
    for label, store in (("trailseal-written", trailseal_db), ("weaver-written", weaver_db)):
        ours, ours_rss, theirs, theirs_rss = [], [], [], []
        for _ in range(args.runs):
            wall, rss, _ = timed([args.trailseal, "verify", "--store", str(store), "--quiet"], env)
            ours.append(wall)
            ours_rss.append(rss)
            _, rss, stdout = timed([sys.executable, str(TOOL), "verify", "--backend", "sqlite", "--path", str(store), "--timed"], env)
            verdict = json.loads(stdout)
            if not verdict.get("ok") or verdict.get("records_checked") != args.records:
                sys.exit(f"weaver-kernel did not verify {store}: {verdict}")
            theirs.append(verdict["seconds"])
            theirs_rss.append(rss)
        row = {
            "store": label,
            "records": args.records,
            "bytes": store.stat().st_size,
            "trailseal_s": statistics.median(ours),
            "trailseal_records_per_s": args.records / statistics.median(ours),
            "trailseal_peak_rss_mib": max(ours_rss) / 1024,
            "weaver_s": statistics.median(theirs),
            "weaver_records_per_s": args.records / statistics.median(theirs),
            "weaver_peak_rss_mib": max(theirs_rss) / 1024,
        }
        row["ratio"] = row["weaver_s"] / row["trailseal_s"]
        results.append(row)

    cores = os.cpu_count()
    print(f"\nverify {args.records} records, median of {args.runs} runs, {cores} cores, one run of both tools")
    print("| store | size | trailseal | weaver-kernel verify_chain | speed-up | peak RSS trailseal / weaver |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['store']} | {r['bytes'] / 2**20:.0f} MiB "
            f"| {r['trailseal_s']:.3f} s ({r['trailseal_records_per_s'] / 1000:.0f} k/s) "
            f"| {r['weaver_s']:.2f} s ({r['weaver_records_per_s'] / 1000:.0f} k/s) "
            f"| **{r['ratio']:.1f}×** | {r['trailseal_peak_rss_mib']:.0f} MiB / {r['weaver_peak_rss_mib']:.0f} MiB |"
        )
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
