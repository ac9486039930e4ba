#!/usr/bin/env python3
"""A fleet on PostgreSQL (issue 17, part 2): N writer processes each appending one record per
transaction to one chain, next to pgbench doing plain one-row INSERTs with N clients in the
same run, on a throwaway cluster (or --url).

    cargo build --release -p trailseal-cli
    python3 bench/fleet.py                               # 1, 8 and 64 writers, 3 rounds
    python3 bench/fleet.py --writers 8 --rounds 5 --baseline /tmp/old/target/release/trailseal

Each row: total records/s of `trailseal append --commit-every 1` processes fed by a pipe (every
caller's record durable and sealed before the next is read), pgbench's rate for the same
number of clients, and their ratio (medians of the rounds; trailseal and pgbench alternate).
With --baseline, the same writers with another trailseal binary, for the ratio to it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import postgres  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def one_chain(url: str, schema: str, total: int) -> None:
    """The chain in `schema` holds `total` records, one linear chain, and verifies."""
    env = dict(os.environ, WEAVER_KERNEL_SECRET=SECRET)
    out = subprocess.run([TRAILSEAL, "verify", "--store", f"{url}?schema={schema}", "--json"],
                         env=env, capture_output=True, text=True)
    verdict = json.loads(out.stdout)
    assert verdict["status"] == "verified" and verdict["records_checked"] == total, verdict


SECRET = "q3J9xV0aP2mT8rL5wZ1cY7bN4dK6hF0sG2eU9iO3tAx"
TRAILSEAL = str(ROOT / "target" / "release" / "trailseal")


def main() -> None:
    global TRAILSEAL
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None)
    parser.add_argument("--trailseal", default=TRAILSEAL)
    parser.add_argument("--baseline", default=None, help="another trailseal binary to compare with")
    parser.add_argument("--writers", type=int, nargs="*", default=[1, 8, 64])
    parser.add_argument("--records", type=int, default=8000, help="records per row, split over the writers")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    TRAILSEAL = args.trailseal
    stop = None
    url = args.url
    if url is None:
        url, stop = postgres.start_cluster(max_connections=200)
    env = dict(os.environ, WEAVER_KERNEL_SECRET=SECRET)
    rows = []
    try:
        postgres.psql(url, "CREATE SCHEMA IF NOT EXISTS plainbench; CREATE TABLE IF NOT EXISTS plainbench.plain (seq bigserial PRIMARY KEY, payload text NOT NULL)")
        for writers in args.writers:
            each = max(1, args.records // writers)
            ours, plain, base = [], [], []
            for r in range(args.rounds):
                schema = f"fleet_{writers}_{r}"
                ours.append(postgres.appenders(TRAILSEAL, f"{url}?schema={schema}", writers, each, 1, env))
                one_chain(url, schema, writers * each)
                plain.append(postgres.pgbench(url, writers, each, 1, "plainbench"))
                if args.baseline:
                    bschema = f"fleet_base_{writers}_{r}"
                    base.append(postgres.appenders(args.baseline, f"{url}?schema={bschema}", writers, each, 1, env))
            rows.append((writers, each, statistics.median(ours), statistics.median(plain),
                         statistics.median(base) if base else None, min(ours), max(ours)))
    finally:
        if stop:
            stop()
    print(f"PostgreSQL 15, {os.cpu_count()} cores, ~750-byte traces, one record per transaction, medians of {args.rounds}")
    head = "| writer processes | records each | trailseal (min–max) | plain INSERT (pgbench) | ratio to plain |"
    sep = "|---|---|---|---|---|"
    if args.baseline:
        head += " baseline binary | ratio to baseline |"
        sep += "---|---|"
    print(head)
    print(sep)
    for w, each, o, p, b, lo, hi in rows:
        line = f"| {w} | {each:,} | {o:,.0f} /s ({lo:,.0f}–{hi:,.0f}) | {p:,.0f} /s | {o / p:.0%} |"
        if b is not None:
            line += f" {b:,.0f} /s | {o / b:.1f}× |"
        print(line)


if __name__ == "__main__":
    main()
