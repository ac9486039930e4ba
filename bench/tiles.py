#!/usr/bin/env python3
"""`trailseal tiles` at scale: wall time and peak memory (max RSS) of publishing an N-record
SQLite store as C2SP tlog-tiles, for several N, to show that memory does not grow with N.

    cargo build --release -p trailseal-cli
    python3 bench/tiles.py --records 100000,1000000 [--go-check target/tlogcheck]

For each N: append N small traces (`trailseal append --commit-every 10000`), then
1. `tiles` into a new directory (verify the store, every entry bundle and hash tile written),
2. append 1,000 more and run `tiles` again (incremental: every published tile compared, the
   new ones written, the checkpoint replaced last),
3. run it once more (up to date: nothing written).
With --go-check (the binary `go build interop/tlogcheck/main.go` makes), Go's sumdb/tlog then
reads the whole directory (`check-dir`: every entry, every tile, CheckRecord of every entry).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def traces(start: int, n: int):
    for i in range(start, start + n):
        yield (
            json.dumps(
                {
                    "action_id": f"tiles-{i:09d}",
                    "capability_id": ("crm.search", "billing.refund", "email.send", "fs.read")[i % 4],
                    "principal_id": f"agent-{i % 97}",
                    "token_id": f"tok-{i:x}",
                    "invoked_at": f"2026-03-01T00:00:00.{i % 1000000:06d}+00:00",
                    "args": {"query": f"customer {i}", "limit": i % 100},
                    "response_mode": "summary",
                    "driver_id": "http",
                },
                separators=(",", ":"),
            )
            + "\n"
        ).encode()


def one_size(args, env, work: Path, n: int) -> list[tuple[str, float, int]]:
    t = args.trailseal
    store = work / f"tiles-{n}.db"
    out = work / f"tiles-{n}"
    for p in (store, Path(f"{store}-wal"), Path(f"{store}-shm")):
        p.unlink(missing_ok=True)
    shutil.rmtree(out, ignore_errors=True)
    key = work / "bench-key"
    if not key.exists():
        measure.run([t, "keygen", "--out", str(key)], env)
    rows = []
    s, rss, _, _, _ = measure.run([t, "append", "--store", str(store), "--commit-every", "10000", "--quiet"], env,
                                  measure.chunks(traces(0, n)))
    rows.append((f"append {n:,} (batches of 10,000)", s, rss))
    tiles = [t, "tiles", "--store", str(store), "--signing-key", str(key), "--out", str(out)]
    s, rss, said, _, _ = measure.run(tiles, env)
    rows.append((f"tiles, new directory ({n:,} records)", s, rss))
    measure.run([t, "append", "--store", str(store), "--commit-every", "10000", "--quiet"], env,
                measure.chunks(traces(n, 1000)))
    s, rss, said, _, _ = measure.run(tiles, env)
    rows.append((f"tiles again after 1,000 more ({n + 1000:,})", s, rss))
    s, rss, said, _, _ = measure.run(tiles, env)
    assert "already up to date" in said, said
    rows.append(("tiles again, up to date", s, rss))
    files = sum(1 for p in out.rglob("*") if p.is_file())
    mib = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    if args.go_check:
        vkey = Path(f"{key}.pub").read_text().strip()
        start = time.perf_counter()
        res = subprocess.run([args.go_check], input=f"check-dir {out} {vkey}\n", capture_output=True, text=True,
                             check=True)
        answer = res.stdout.strip()
        assert answer.startswith(f"ok size {n + 1000} "), answer
        print(f"Go sumdb/tlog check-dir on {n + 1000:,}: {answer} ({time.perf_counter() - start:.1f} s)")
    print(f"{n:,} records: {files:,} files, {mib:,.0f} MiB in the tile directory")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
        for p in (store, Path(f"{store}-wal"), Path(f"{store}-shm")):
            p.unlink(missing_ok=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", default="100000,1000000", help="sizes separated by commas")
    parser.add_argument("--trailseal", default=str(ROOT / "target" / "release" / "trailseal"))
    parser.add_argument("--go-check", default=None, help="the interop/tlogcheck binary, to check every directory")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    env = dict(os.environ, WEAVER_KERNEL_SECRET="tiles-bench-secret-4b1c9e0d7a2f5e83")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="trailseal-tiles-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in (int(x) for x in args.records.split(",")):
        rows += one_size(args, env, work, n)
    print(f"\n`trailseal tiles`, {os.cpu_count()} cores")
    print("| step | wall | peak RSS |")
    print("|---|---|---|")
    for label, s, rss in rows:
        print(f"| {label} | {s:.2f} s | {rss / 1024:.0f} MiB |")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
