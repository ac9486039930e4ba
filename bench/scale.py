#!/usr/bin/env python3
"""Scale benchmark of the trailseal command: build an N-record SQLite store, verify it, prune
the older half, verify again. Prints wall time and peak memory (max RSS) of each step.

    cargo build --release -p trailseal-cli
    python3 bench/scale.py --records 100000,1000000,10000000   # the scale table
    python3 bench/scale.py --records 1000000 --bundle          # one size, every step

Each trace is ~1 KiB of realistic export-shape JSON (the same generator for every N), so
store size and time grow with N alone. Appends go through `trailseal append --commit-every`
(durable batches); pruning is `trailseal prune --keep-last N/2` (verify, then one transaction).
With several sizes, one summary row per size is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def traces(n: int):
    for i in range(n):
        yield (
            json.dumps(
                {
                    "action_id": f"scale-{i:09d}",
                    "capability_id": ("crm.search", "billing.refund", "email.send", "fs.read")[i % 4],
                    "principal_id": f"agent-{i % 97}",
                    "token_id": f"tok-{i:x}",
                    "invoked_at": f"2026-{1 + (i * 12 // max(n, 1)):02d}-01T00:00:00.{i % 1000000:06d}+00:00",
                    "args": {"query": f"customer {i} " + "x" * 560, "limit": i % 100, "filters": {"region": "eu", "tags": ["a", "b", i]}},
                    "response_mode": "summary",
                    "driver_id": "http",
                    "result_summary": {"fact_count": i % 7, "row_count": i % 50, "warning_count": 0, "has_handle": False},
                    "sensitivity": "PII",
                },
                separators=(",", ":"),
            )
            + "\n"
        ).encode()


def run(cmd: list[str], env: dict[str, str], stdin=None) -> tuple[float, int, str]:
    wall, rss, out, _, _ = measure.run(cmd, env, measure.chunks(stdin) if stdin else None)
    return wall, rss, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", default="1000000", help="a size, or several separated by commas")
    parser.add_argument("--trailseal", default=str(ROOT / "target" / "release" / "trailseal"))
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the store afterwards")
    parser.add_argument("--bundle", action="store_true", help="also export and verify a signed bundle of every record")
    args = parser.parse_args()
    env = dict(os.environ, WEAVER_KERNEL_SECRET="scale-bench-secret-8d2e6a1f")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="trailseal-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(n) for n in args.records.split(",")]
    summary = [one_size(args, env, work, n) for n in sizes]
    if len(sizes) > 1:
        print(f"\nscale, {os.cpu_count()} cores")
        print("| records | store size | verify | verify again | verify peak RSS | prune the older half | prune peak RSS | verify the rest |")
        print("|---|---|---|---|---|---|---|---|")
        for r in summary:
            print(f"| {r['n']:,} | {r['size'] / 2**20:,.0f} MiB | {r['verify_s']:.2f} s ({r['n'] / r['verify_s'] / 1000:.0f} k/s) "
                  f"| {r['again_s']:.2f} s ({r['n'] / r['again_s'] / 1000:.0f} k/s) "
                  f"| {r['verify_rss'] / 1024:.0f} MiB | {r['prune_s']:.2f} s | {r['prune_rss'] / 1024:.0f} MiB "
                  f"| {r['after_s']:.2f} s |")


def one_size(args, env, work: Path, n: int) -> dict:
    store = work / "scale.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    t = args.trailseal

    append_s, append_rss, _ = run([t, "append", "--store", str(store), "--commit-every", "10000", "--quiet"], env, traces(n))
    size = sum(Path(f"{store}{s}").stat().st_size for s in ("", "-wal") if Path(f"{store}{s}").exists())
    verify_s, verify_rss, out = run([t, "verify", "--store", str(store), "--json"], env)
    assert json.loads(out)["records_checked"] == n, out
    # Again: the first run reads what the page cache kept of the freshly written store.
    again_s, again_rss, out = run([t, "verify", "--store", str(store), "--json"], env)
    assert json.loads(out)["records_checked"] == n, out
    verify_rss = max(verify_rss, again_rss)
    bundle_rows = []
    if args.bundle:
        key, bundle = work / "bench-key", work / "scale.bundle"
        for p in (key, Path(f"{key}.pub"), bundle):
            p.unlink(missing_ok=True)
        run([t, "keygen", "--out", str(key)], env)
        s, rss, _ = run([t, "export", "--store", str(store), "--bundle", str(bundle), "--signing-key", str(key)], env)
        bundle_rows.append((f"export a signed bundle of all {n} (MACs checked)", s, rss))
        s, rss, out = run([t, "verify-bundle", str(bundle), "--public-key", f"{key}.pub", "--no-secret", "--json"], env)
        assert json.loads(out)["status"] == "verified", out
        bundle_rows.append((f"verify the bundle, public key only ({bundle.stat().st_size / 2**20:.0f} MiB)", s, rss))
        s, rss, out = run([t, "verify-bundle", str(bundle), "--public-key", f"{key}.pub", "--json"], env)
        assert json.loads(out)["status"] == "verified", out
        bundle_rows.append(("verify the bundle with the secret (every MAC)", s, rss))
        bundle.unlink()
    prune_s, prune_rss, out = run([t, "prune", "--store", str(store), "--keep-last", str(n - n // 2), "--json"], env)
    assert json.loads(out)["pruned"] == n // 2, out
    after_s, after_rss, out = run([t, "verify", "--store", str(store), "--json"], env)
    assert json.loads(out)["records_checked"] == n - n // 2, out

    print(f"{n} records, {os.cpu_count()} cores, store {size / 2**20:.0f} MiB")
    print("| step | wall | rate | peak RSS |")
    print("|---|---|---|---|")
    print(f"| append ({n} in batches of 10,000, durable) | {append_s:.1f} s | {n / append_s / 1000:.0f} k/s | {append_rss / 1024:.0f} MiB |")
    print(f"| verify {n} | {verify_s:.2f} s | {n / verify_s / 1000:.0f} k/s | {verify_rss / 1024:.0f} MiB |")
    print(f"| verify {n} again | {again_s:.2f} s | {n / again_s / 1000:.0f} k/s | {verify_rss / 1024:.0f} MiB |")
    for label, s, rss in bundle_rows:
        print(f"| {label} | {s:.2f} s | {n / s / 1000:.0f} k/s | {rss / 1024:.0f} MiB |")
    print(f"| prune {n // 2} of {n} (verify + delete + receipt) | {prune_s:.2f} s | | {prune_rss / 1024:.0f} MiB |")
    print(f"| verify the {n - n // 2} left | {after_s:.2f} s | {(n - n // 2) / after_s / 1000:.0f} k/s | {after_rss / 1024:.0f} MiB |")
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)
    return {"n": n, "size": size, "verify_s": verify_s, "again_s": again_s, "verify_rss": verify_rss, "prune_s": prune_s,
            "prune_rss": prune_rss, "after_s": after_s}


if __name__ == "__main__":
    main()
