"""A writer process for test_concurrency.py, and the traces both use.

    python _concurrency_worker.py record FORMAT LOCATION PREFIX RECORDS THREADS
    python _concurrency_worker.py fsize FORMAT LOCATION LIMIT

``record`` opens its own drop-in store on LOCATION, prints ``ready``, waits for one line on
stdin (so that every process starts at once), then records RECORDS traces with action ids
``PREFIX-<thread>-<i>`` from each of THREADS threads sharing the store, and prints one JSON
object: the action ids whose record() returned (in the order they returned), the errors
raised, and the store's group-commit counts.

``fsize`` records one trace, then lowers the process's file-size limit (RLIMIT_FSIZE, which
binds root too; SIGXFSZ ignored, so a write past it fails with EFBIG, possibly after a short
write) to LIMIT bytes, or to the store file's size plus LIMIT when LIMIT starts with ``+``,
records traces that cannot be written from VICTIMS threads at once (so that they share a
commit), raises the limit again and records one more; it prints what each call did as JSON.

The secret comes from WEAVER_KERNEL_SECRET (the tests set it).
"""

from __future__ import annotations

import datetime
import json
import sys
import threading
from pathlib import Path
from typing import Any

from weaver_kernel.errors import AgentKernelError
from weaver_kernel.models import ActionTrace

#: How many threads record at once while the disk refuses writes (``fsize``).
VICTIMS = 4


def make_trace(action_id: str, i: int = 0, *, pad: int = 40) -> ActionTrace:
    """A trace like the ones weaver-kernel's Kernel records (``pad`` sizes its args)."""
    return ActionTrace(
        action_id=action_id,
        capability_id="billing.list",
        principal_id=f"u{i % 5}",
        token_id=f"tok-{i}",
        invoked_at=datetime.datetime(2026, 1, 1, 0, (i // 60) % 60, i % 60, tzinfo=datetime.timezone.utc),
        args={"i": i, "note": "x" * pad},
        response_mode="summary",
        driver_id="memory",
    )


def open_store(fmt: str, location: str) -> Any:
    from trailseal.weaver import JsonlTraceStore, PostgresTraceStore, SQLiteTraceStore

    classes = {"sqlite": SQLiteTraceStore, "jsonl": JsonlTraceStore, "postgres": PostgresTraceStore}
    return classes[fmt](location)


def _record_main(fmt: str, location: str, prefix: str, records: int, threads: int) -> None:
    store = open_store(fmt, location)
    acked: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(t: int) -> None:
        for i in range(records):
            action_id = f"{prefix}-{t}-{i}"
            try:
                returned = store.record(make_trace(action_id, i))
            except BaseException as exc:  # reported to the parent
                with lock:
                    errors.append(f"{action_id}: {type(exc).__name__}: {exc}")
                continue
            with lock:
                acked.append(action_id if returned is None else f"{action_id} returned {returned!r}")

    print("ready", flush=True)
    sys.stdin.readline()
    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    commits, traces = store.audit_log.group_stats()
    store.close()
    print(json.dumps({"acked": acked, "errors": errors, "commits": commits, "traces": traces}), flush=True)


def _fsize_main(fmt: str, location: str, limit: str) -> None:
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    store = open_store(fmt, location)
    out: dict[str, Any] = {}
    store.record(make_trace("before", 0))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    size = Path(location).stat().st_size
    bound = size + int(limit[1:]) if limit.startswith("+") else int(limit)
    out["size_before"] = size
    victims = {f"victim-{t}": "" for t in range(VICTIMS)}
    barrier = threading.Barrier(VICTIMS, timeout=60)

    def run(action_id: str) -> None:
        try:
            barrier.wait()
            store.record(make_trace(action_id, 1, pad=4000))
            victims[action_id] = "returned"
        except AgentKernelError as exc:
            victims[action_id] = f"AgentKernelError: {exc}"
        except BaseException as exc:  # reported to the parent
            victims[action_id] = f"{type(exc).__name__}: {exc}"

    workers = [threading.Thread(target=run, args=(a,)) for a in victims]
    resource.setrlimit(resource.RLIMIT_FSIZE, (bound, hard))
    try:
        for w in workers:
            w.start()
    finally:
        for w in workers:
            if w.ident is not None:
                w.join()
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    out["victims"] = victims
    try:
        store.record(make_trace("after", 2))
        out["after"] = "returned"
    except BaseException as exc:  # reported to the parent
        out["after"] = f"{type(exc).__name__}: {exc}"
    store.close()
    print(json.dumps(out), flush=True)


def main(argv: list[str]) -> None:
    if argv[0] == "record":
        _record_main(argv[1], argv[2], argv[3], int(argv[4]), int(argv[5]))
    elif argv[0] == "fsize":
        _fsize_main(argv[1], argv[2], argv[3])
    else:
        raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
