#!/usr/bin/env python3
"""weaver-kernel's SQLiteTraceStore against trailseal's drop-in, through Python, in one run.

    pip install './python[weaver]'      # in a venv: the release wheel and weaver-kernel 0.12.0
    python bench/python_stores.py       # --records 500 --threads 8 --verify-records 100000 --rounds 3

Both stores are used exactly as an application uses them (``store.record(trace)`` with
weaver-kernel ``ActionTrace`` objects built beforehand, ``store.verify_chain()``), each with
its defaults, on files in one temporary directory (``--workdir``, default the system's) on
the same disk:

1. durable ``record()`` from 1 thread: ``--records`` records into a fresh store per round;
   per-record latency (mean and p99) and records/s. Rounds alternate between the two stores
   and the medians are shown, with the median of the per-round ratios;
2. durable ``record()`` from ``--threads`` threads sharing one store object (weaver-kernel's
   store serialises them with its lock; trailseal's share commits): aggregate records/s;
3. ``verify_chain()`` of a ``--verify-records`` store, written fast with trailseal's
   ``append_many`` in batches (the layout weaver-kernel reads), verified by both stores'
   ``verify_chain()`` (the call alone, the store already open), ``--rounds`` alternating
   rounds, medians and the median of the per-round ratios.

"Durable" is each store's own default: weaver-kernel's is Python's sqlite3 with SQLite's
defaults (rollback journal, synchronous=FULL: the journal and the database are flushed at
every commit); trailseal's is a WAL with one flush per commit, and record() returns once its
record is on disk.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

SECRET = "bench-python-stores-secret-0123456789abcdef"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_trace(action_id: str, i: int) -> Any:
    from weaver_kernel.models import ActionTrace

    return ActionTrace(
        action_id=action_id,
        capability_id="crm.search",
        principal_id=f"worker-{i % 8}",
        token_id=f"tok-{i}",
        invoked_at=datetime.datetime(2026, 3, 1, 9, (i // 60) % 60, i % 60, tzinfo=datetime.timezone.utc),
        args={"query": "customer " + "x" * 600, "limit": i % 100},
        response_mode="summary",
        driver_id="http",
    )


def stores() -> dict[str, Callable[[Path], Any]]:
    import trailseal.weaver
    import weaver_kernel.stores

    return {
        "weaver-kernel": lambda p: weaver_kernel.stores.SQLiteTraceStore(p, secret=SECRET),
        "trailseal": lambda p: trailseal.weaver.SQLiteTraceStore(p, secret=SECRET),
    }


def one_thread(open_store: Callable[[Path], Any], path: Path, traces: list[Any]) -> dict[str, float]:
    store = open_store(path)
    try:
        store.record(traces[0])  # creates the table; not timed
        latencies = []
        start = time.perf_counter()
        for trace in traces[1:]:
            t0 = time.perf_counter()
            store.record(trace)
            latencies.append(time.perf_counter() - t0)
        wall = time.perf_counter() - start
    finally:
        store.close()
    latencies.sort()
    return {
        "rate": len(latencies) / wall,
        "mean_us": statistics.fmean(latencies) * 1e6,
        "p99_us": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e6,
    }


def many_threads(open_store: Callable[[Path], Any], path: Path, traces: list[Any], threads: int) -> dict[str, float]:
    store = open_store(path)
    errors: list[BaseException] = []
    try:
        store.record(traces[0])
        work = traces[1:]
        shares = [work[t::threads] for t in range(threads)]
        barrier = threading.Barrier(threads + 1)

        def run(share: list[Any]) -> None:
            barrier.wait()
            try:
                for trace in share:
                    store.record(trace)
            except BaseException as exc:  # reported below
                errors.append(exc)

        workers = [threading.Thread(target=run, args=(s,)) for s in shares]
        for w in workers:
            w.start()
        barrier.wait()
        start = time.perf_counter()
        for w in workers:
            w.join()
        wall = time.perf_counter() - start
        commits = None
        if hasattr(store, "audit_log"):
            commits = store.audit_log.group_stats()[0]
    finally:
        store.close()
    if errors:
        sys.exit(f"{threads} threads: record() failed: {errors[0]!r}")
    return {"rate": len(work) / wall, "commits": commits}


def build_store(path: Path, count: int, batch: int) -> float:
    import trailseal
    from weaver_kernel.stores._trace_codec import encode_trace

    start = time.perf_counter()
    with trailseal.open(path, secret=SECRET) as log_:
        for first in range(0, count, batch):
            log_.append_many(
                json.dumps(encode_trace(make_trace(f"v-{i:08d}", i))).encode()
                for i in range(first, min(count, first + batch))
            )
    return time.perf_counter() - start


def verify(open_store: Callable[[Path], Any], path: Path) -> tuple[float, int]:
    store = open_store(path)
    try:
        start = time.perf_counter()
        result = store.verify_chain()
        wall = time.perf_counter() - start
    finally:
        store.close()
    if not result.ok:
        sys.exit(f"verify_chain of {path} failed: {result}")
    return wall, result.records_checked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=500, help="records per store and round (1 and N threads)")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the append rows")
    parser.add_argument("--verify-records", type=int, default=100_000)
    parser.add_argument("--workdir", default=None, help="where the temporary directory goes")
    args = parser.parse_args()

    import trailseal
    import weaver_kernel

    opened = stores()
    names = list(opened)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="trailseal-pybench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        log(f"workdir {work}; weaver-kernel {weaver_kernel.__version__}, trailseal {trailseal.__version__}")
        single: dict[str, list[dict[str, float]]] = {n: [] for n in names}
        multi: dict[str, list[dict[str, float]]] = {n: [] for n in names}
        for r in range(args.rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                traces = [make_trace(f"r{r}-{name}-1-{i}", i) for i in range(args.records + 1)]
                single[name].append(one_thread(opened[name], work / f"one-{r}-{name}.db", traces))
                log(f"round {r} {name} 1 thread: {single[name][-1]}")
            for name in order:
                traces = [make_trace(f"r{r}-{name}-n-{i}", i) for i in range(args.records + 1)]
                multi[name].append(many_threads(opened[name], work / f"many-{r}-{name}.db", traces, args.threads))
                log(f"round {r} {name} {args.threads} threads: {multi[name][-1]}")

        big = work / "verify.db"
        built = build_store(big, args.verify_records, 5_000)
        log(f"built {args.verify_records} records in {built:.1f} s")
        verified: dict[str, list[tuple[float, int]]] = {n: [] for n in names}
        for r in range(args.rounds):  # trailseal first: the file is in the page cache for both
            for name in (names[::-1] if r % 2 == 0 else names):
                verified[name].append(verify(opened[name], big))
                log(f"round {r} {name} verify_chain: {verified[name][-1][0]:.3f} s")
        size = big.stat().st_size

    load_after = os.getloadavg()
    wk, ts = names
    med = lambda rows, key: statistics.median(row[key] for row in rows)  # noqa: E731
    ratio1 = statistics.median(t["rate"] / w["rate"] for t, w in zip(single[ts], single[wk]))
    ration = statistics.median(t["rate"] / w["rate"] for t, w in zip(multi[ts], multi[wk]))
    vw = statistics.median(w for w, _ in verified[wk])
    vt = statistics.median(t for t, _ in verified[ts])
    ratiov = statistics.median(w[0] / t[0] for t, w in zip(verified[ts], verified[wk]))
    n = verified[ts][0][1]
    print(f"{args.records} records per store and round, {args.rounds} alternating rounds (medians, ratio: median of per-round ratios); "
          f"verify of {n:,} records ({size / 2**20:.0f} MiB); {os.cpu_count()} cores, load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after\n")
    print("| measure | weaver-kernel SQLiteTraceStore | trailseal.weaver.SQLiteTraceStore | trailseal / weaver-kernel |")
    print("|---|---|---|---|")
    print(f"| durable record(), 1 thread | {med(single[wk], 'rate'):,.0f} /s "
          f"(mean {med(single[wk], 'mean_us'):,.0f} µs, p99 {med(single[wk], 'p99_us'):,.0f} µs) | "
          f"{med(single[ts], 'rate'):,.0f} /s (mean {med(single[ts], 'mean_us'):,.0f} µs, "
          f"p99 {med(single[ts], 'p99_us'):,.0f} µs) | **{ratio1:.1f}×** |")
    commits = statistics.median(row["commits"] for row in multi[ts])
    print(f"| durable record(), {args.threads} threads, one store | {med(multi[wk], 'rate'):,.0f} /s | "
          f"{med(multi[ts], 'rate'):,.0f} /s ({(args.records + 1) / commits:.1f} records per commit) | **{ration:.1f}×** |")
    print(f"| verify_chain(), {n:,} records | {vw:.2f} s ({n / vw / 1e3:,.0f} k/s) | "
          f"{vt:.3f} s ({n / vt / 1e3:,.0f} k/s) | **{ratiov:.0f}×** |")


if __name__ == "__main__":
    main()
