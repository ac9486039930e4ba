"""Threads and processes recording into trailseal.weaver's drop-in stores at once.

What is asserted every time: one chain (seqs 0..n-1, no gap, no fork; trailseal's
verify_chain() and, for SQLite and JSONL, weaver-kernel's own store's verify_chain() accept
it), nothing lost or doubled (every action id stored exactly once), every record() call
acknowledged exactly once (returned None, and its record is there), and failures raised
(AgentKernelError) with nothing of the failed record left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pytest
from weaver_kernel.errors import AgentKernelError

from _concurrency_worker import VICTIMS, make_trace, open_store

WORKER = Path(__file__).resolve().parent / "_concurrency_worker.py"

THREADS = 8
PER_THREAD = 150
PROCESSES = 4
THREADS_PER_PROCESS = 2
PER_PROCESS_THREAD = 60
JOIN_SECONDS = 60.0


def _format(location: str) -> str:
    if location.startswith("postgres"):
        return "postgres"
    return "jsonl" if location.endswith(".jsonl") else "sqlite"


def _weaver_verify(location: str) -> Any:
    """weaver-kernel's own store's verify_chain() of the file, or None for PostgreSQL."""
    from weaver_kernel.stores import JsonlTraceStore, SQLiteTraceStore

    fmt = _format(location)
    if fmt == "postgres":
        return None
    store = (SQLiteTraceStore if fmt == "sqlite" else JsonlTraceStore)(location)
    try:
        return store.verify_chain()
    finally:
        close = getattr(store, "close", None)  # weaver-kernel's JSONL store has none
        if close is not None:
            close()


def assert_one_chain(
    location: str, expected: set[str], acks: Counter[str], in_order: Sequence[list[str]] = ()
) -> None:
    """The store at *location* holds exactly *expected*, once each, as one verified chain,
    and every one of them was acknowledged exactly once. Each list of *in_order* (one
    thread's calls, one after the other) is stored in that order: a record() that returned
    precedes every record of a later call."""
    assert acks == Counter({a: 1 for a in expected}), (
        f"acknowledgements: missing {sorted(expected - set(acks))[:5]}, "
        f"extra or repeated {sorted(a for a, n in acks.items() if n != 1 or a not in expected)[:5]}"
    )
    store = open_store(_format(location), location)
    try:
        records = store.list_records()
        result = store.verify_chain()
    finally:
        store.close()
    assert [r.seq for r in records] == list(range(len(expected))), "seqs are not 0..n-1"
    stored = Counter(r.trace["action_id"] for r in records)
    assert stored == Counter({a: 1 for a in expected}), (
        f"stored: missing {sorted(expected - set(stored))[:5]}, "
        f"doubled {sorted(a for a, n in stored.items() if n > 1)[:5]}"
    )
    for before, after in zip(records, records[1:]):
        assert after.prev_hash == before.record_hash, f"seq {after.seq}: the chain forks"
    seq_of = {r.trace["action_id"]: r.seq for r in records}
    for calls in in_order:
        seqs = [seq_of[a] for a in calls]
        assert seqs == sorted(seqs), f"{calls[0]}..: stored out of call order: {seqs[:10]}"
    assert result.ok and result.records_checked == len(expected), result
    theirs = _weaver_verify(location)
    if theirs is not None:
        assert theirs.ok and theirs.records_checked == len(expected), theirs


def _run_threads(targets: list[Callable[[], None]]) -> None:
    """Starts one thread per target and joins them all (also when one fails)."""
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    try:
        for t in threads:
            t.start()
    finally:
        deadline = time.monotonic() + JOIN_SECONDS
        for t in threads:
            if t.ident is not None:
                t.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads still in record() after {JOIN_SECONDS} s: {stuck}"


# ── threads sharing one store object ──────────────────────────────────────────


def test_threads_sharing_one_store_make_one_chain_and_share_commits(store_location: str) -> None:
    store = open_store(_format(store_location), store_location)
    acks: Counter[str] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS, timeout=JOIN_SECONDS)

    def writer(t: int) -> Callable[[], None]:
        def run() -> None:
            barrier.wait()
            for i in range(PER_THREAD):
                action_id = f"t{t}-{i}"
                try:
                    returned = store.record(make_trace(action_id, i))
                except BaseException as exc:
                    with lock:
                        errors.append(f"{action_id}: {type(exc).__name__}: {exc}")
                    continue
                with lock:
                    acks[action_id if returned is None else f"{action_id} returned {returned!r}"] += 1

        return run

    try:
        _run_threads([writer(t) for t in range(THREADS)])
        commits, traces = store.audit_log.group_stats()
    finally:
        store.close()
    assert not errors, errors[:5]
    total = THREADS * PER_THREAD
    assert traces == total
    assert commits < traces, f"no group commit: {commits} commits for {traces} traces"
    per_thread = [[f"t{t}-{i}" for i in range(PER_THREAD)] for t in range(THREADS)]
    assert_one_chain(store_location, {a for calls in per_thread for a in calls}, acks, per_thread)


# ── processes, each with its own store object, on one file or URL ─────────────


def _spawn(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _await_ready(proc: subprocess.Popen[str]) -> None:
    """Waits (at most JOIN_SECONDS) for the worker's ``ready`` line."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(JOIN_SECONDS):
            pytest.fail(f"worker {proc.args} did not open its store within {JOIN_SECONDS} s")
    line = proc.stdout.readline()
    if line != "ready\n":
        proc.kill()
        _, err = proc.communicate(timeout=JOIN_SECONDS)
        pytest.fail(f"worker {proc.args} did not start: {line!r}\n{err}")


@pytest.fixture()
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Worker processes the test starts; every one is killed and reaped afterwards."""
    started: list[subprocess.Popen[str]] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=JOIN_SECONDS)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


def test_processes_appending_at_once_make_one_chain(
    store_location: str, processes: list[subprocess.Popen[str]]
) -> None:
    fmt = _format(store_location)
    # The store exists before the workers start, so that none of them races to create it.
    open_store(fmt, store_location).close()
    for p in range(PROCESSES):
        processes.append(
            _spawn(["record", fmt, store_location, f"p{p}", str(PER_PROCESS_THREAD), str(THREADS_PER_PROCESS)])
        )
    for proc in processes:
        _await_ready(proc)
    for proc in processes:  # all at once
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    acks: Counter[str] = Counter()
    commits = traces = 0
    for proc in processes:
        out, err = proc.communicate(timeout=JOIN_SECONDS)
        assert proc.returncode == 0, err
        result = json.loads(out)
        assert not result["errors"], result["errors"][:5]
        acks.update(result["acked"])
        commits += result["commits"]
        traces += result["traces"]
    per_thread = [
        [f"p{p}-{t}-{i}" for i in range(PER_PROCESS_THREAD)]
        for p in range(PROCESSES)
        for t in range(THREADS_PER_PROCESS)
    ]
    expected = {a for calls in per_thread for a in calls}
    assert traces == len(expected)
    # Each process's two threads share commits while the other processes hold the store.
    assert commits < traces, f"no group commit: {commits} commits for {traces} traces"
    assert_one_chain(store_location, expected, acks, per_thread)


# ── the GIL is released while a record is committed ───────────────────────────


class _Probe:
    """A pure-Python thread counting while the test thread makes calls; measures in what
    fraction of the calls it ran.

    The switch interval is raised so far that CPython never takes the GIL from a thread by
    force during the measurement: the counting thread can run inside a call only if the
    call releases the GIL. It gives the GIL back itself every few thousand counts (a short
    sleep), so that the calling thread gets it back when its call returns."""

    def __init__(self) -> None:
        self.count = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop:
            for _ in range(2_000):
                self.count += 1
            time.sleep(0.00005)

    def __enter__(self) -> _Probe:
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(30.0)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._thread.join(JOIN_SECONDS)
        sys.setswitchinterval(self._interval)
        assert not self._thread.is_alive()

    def fraction_running_during(self, call: Callable[[int], None], calls: int) -> float:
        advanced = 0
        for i in range(calls):
            before = self.count
            call(i)
            if self.count != before:
                advanced += 1
        return advanced / calls


@contextlib.contextmanager
def _fsync_caller(tmp_path: Path, lib: ctypes.CDLL) -> Iterator[Callable[[int], None]]:
    """A call writing a line and flushing it with libc's write and fsync through *lib*:
    ctypes.PyDLL holds the GIL during the call, ctypes.CDLL releases it."""
    fd = os.open(tmp_path / f"fsync-{type(lib).__name__}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    line = b"x" * 200 + b"\n"
    try:

        def call(i: int) -> None:
            assert lib.write(fd, line, len(line)) == len(line)
            assert lib.fsync(fd) == 0

        yield call
    finally:
        os.close(fd)


CALLS = 100
ATTEMPTS = 5


def test_the_gil_is_released_while_a_record_is_committed(store_location: str, tmp_path: Path) -> None:
    """While the test thread records, a pure-Python thread runs during most record() calls.

    The probe's own check, in every attempt: around a durable write that holds the GIL
    (libc write+fsync through ctypes.PyDLL) the counting thread never runs, which is what a
    record() holding the GIL across its commit would show; around the same write through
    ctypes.CDLL (GIL released) it runs in most calls. On a busy machine the counting thread
    may not be scheduled within a short commit, so up to ATTEMPTS measurements are made; a
    GIL-holding record() scores 0 in every one of them, so retrying cannot make it pass."""
    store = open_store(_format(store_location), store_location)
    seen: list[tuple[float, float, float]] = []
    try:
        store.record(make_trace("warm-up"))
        with _Probe() as probe:
            for attempt in range(ATTEMPTS):
                with _fsync_caller(tmp_path, ctypes.PyDLL(None)) as held:
                    with_gil = probe.fraction_running_during(held, CALLS)
                with _fsync_caller(tmp_path, ctypes.CDLL(None)) as released:
                    without_gil = probe.fraction_running_during(released, CALLS)
                ours = probe.fraction_running_during(
                    lambda i: store.record(make_trace(f"g{attempt}-{i}", i)), CALLS
                )
                seen.append((with_gil, without_gil, ours))
                assert with_gil < 0.05, f"the probe saw a thread run while the GIL was held: {seen}"
                if ours > 0.25:
                    break
    finally:
        store.close()
    assert seen[-1][2] > 0.25, (
        "a Python thread ran during too few record() calls; per attempt (GIL-holding "
        f"write+fsync, GIL-releasing write+fsync, record()): {seen}"
    )


# ── failures are raised, and leave nothing behind ─────────────────────────────


def test_duplicate_action_ids_from_threads_at_once_fail_alone(store_location: str) -> None:
    """Eight threads record the same action id at the same moment, 20 times over, between
    records of their own: each time exactly one call succeeds, the seven others raise
    AgentKernelError, and the records sharing their commits are stored and acknowledged."""
    store = open_store(_format(store_location), store_location)
    rounds = 20
    acks: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    unexpected: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS, timeout=JOIN_SECONDS)

    def writer(t: int) -> Callable[[], None]:
        def run() -> None:
            for k in range(rounds):
                for action_id in (f"own-{t}-{k}", f"dup-{k}"):
                    if action_id.startswith("dup"):
                        barrier.wait()
                    try:
                        store.record(make_trace(action_id, k))
                    except AgentKernelError as exc:
                        with lock:
                            if action_id.startswith("dup") and "already present" in str(exc):
                                refused[action_id] += 1
                            else:
                                unexpected.append(f"{action_id}: {exc}")
                        continue
                    except BaseException as exc:
                        with lock:
                            unexpected.append(f"{action_id}: {type(exc).__name__}: {exc}")
                        continue
                    with lock:
                        acks[action_id] += 1

        return run

    try:
        _run_threads([writer(t) for t in range(THREADS)])
    finally:
        store.close()
    assert not unexpected, unexpected[:5]
    assert refused == Counter({f"dup-{k}": THREADS - 1 for k in range(rounds)})
    own = [[f"own-{t}-{k}" for k in range(rounds)] for t in range(THREADS)]
    expected = {a for calls in own for a in calls} | {f"dup-{k}" for k in range(rounds)}
    assert_one_chain(store_location, expected, acks, own)


def _unstorable(i: int) -> Any:
    """Traces trailseal cannot store: over its 1 MiB trace limit, or not strict JSON (a NaN,
    which json.dumps writes and weaver-kernel's store would keep)."""
    if i % 2 == 0:
        return make_trace(f"big-{i}", i, pad=(1 << 20) + 1)
    trace = make_trace(f"nan-{i}", i)
    trace.args["x"] = float("nan")
    return trace


def test_unstorable_traces_raise_and_leave_the_others_alone(store_location: str) -> None:
    store = open_store(_format(store_location), store_location)
    acks: Counter[str] = Counter()
    raised: list[str] = []
    unexpected: list[str] = []
    lock = threading.Lock()
    good_threads, bad = 4, 10

    def good(t: int) -> Callable[[], None]:
        def run() -> None:
            for i in range(40):
                try:
                    store.record(make_trace(f"ok-{t}-{i}", i))
                except BaseException as exc:
                    with lock:
                        unexpected.append(f"ok-{t}-{i}: {type(exc).__name__}: {exc}")
                    continue
                with lock:
                    acks[f"ok-{t}-{i}"] += 1

        return run

    def poison() -> None:
        for i in range(bad):
            trace = _unstorable(i)
            try:
                store.record(trace)
            except AgentKernelError as exc:
                with lock:
                    if "Nothing was recorded" in str(exc):
                        raised.append(trace.action_id)
                    else:
                        unexpected.append(f"{trace.action_id}: {exc}")
                continue
            except BaseException as exc:
                with lock:
                    unexpected.append(f"{trace.action_id}: {type(exc).__name__}: {exc}")
                continue
            with lock:
                unexpected.append(f"{trace.action_id}: record() returned")

    try:
        _run_threads([good(t) for t in range(good_threads)] + [poison])
    finally:
        store.close()
    assert not unexpected, unexpected[:5]
    assert sorted(raised) == sorted(_unstorable(i).action_id for i in range(bad))
    assert_one_chain(store_location, {f"ok-{t}-{i}" for t in range(good_threads) for i in range(40)}, acks)


def test_an_unstorable_trace_leaves_the_jsonl_file_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    store = open_store("jsonl", str(path))
    try:
        store.record(make_trace("first"))
        before = path.read_bytes()
        for i in range(4):
            with pytest.raises(AgentKernelError, match="Nothing was recorded"):
                store.record(_unstorable(i))
        assert path.read_bytes() == before
        store.record(make_trace("second", 1))
    finally:
        store.close()
    assert_one_chain(str(path), {"first", "second"}, Counter({"first": 1, "second": 1}))


@pytest.mark.parametrize(("fmt", "limit"), [("sqlite", "1"), ("jsonl", "+10")])
def test_a_write_the_disk_refuses_raises_and_leaves_no_partial_record(
    tmp_path: Path, fmt: str, limit: str, processes: list[subprocess.Popen[str]]
) -> None:
    """A worker process lowers its file-size limit (RLIMIT_FSIZE binds root too) so that its
    next write fails with EFBIG: for JSONL after writing 10 bytes of a line. Four threads then
    record at once (so that a failing commit is shared): every one of the calls must raise
    AgentKernelError naming its trace, the store must hold nothing of them, and the next
    record() (the limit raised again) must extend the same chain."""
    location = str(tmp_path / ("audit.db" if fmt == "sqlite" else "audit.jsonl"))
    proc = _spawn(["fsize", fmt, location, limit])
    processes.append(proc)
    out, err = proc.communicate(timeout=JOIN_SECONDS)
    assert proc.returncode == 0, err
    result = json.loads(out)
    victims = result["victims"]
    assert len(victims) == VICTIMS
    for action_id, outcome in victims.items():
        assert outcome.startswith("AgentKernelError: ") and f"'{action_id}'" in outcome, (action_id, outcome)
    assert result["after"] == "returned", result
    if fmt == "jsonl":
        text = Path(location).read_text(encoding="utf-8")
        assert text.endswith("\n")
        assert [json.loads(line)["trace"]["action_id"] for line in text.splitlines()] == ["before", "after"]
    assert_one_chain(location, {"before", "after"}, Counter({"before": 1, "after": 1}))


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
@pytest.mark.parametrize("move", ["rename", "unlink"])
def test_a_record_into_a_moved_store_file_raises(tmp_path: Path, kind: str, move: str) -> None:
    """weaver-kernel's SQLite store refuses (SQLITE_READONLY_DBMOVED); trailseal's refuses for
    SQLite (its WAL would take the record beside the old name) and JSONL (a new chain at seq 0
    would read as a fresh, intact store), and recreates nothing."""
    path = tmp_path / f"audit.{'db' if kind == 'sqlite' else 'jsonl'}"
    store = open_store(kind, str(path))
    try:
        store.record(make_trace("one"))
        if move == "rename":
            os.rename(path, tmp_path / "rotated")
        else:
            os.unlink(path)
        with pytest.raises(AgentKernelError, match="moved, replaced or deleted"):
            store.record(make_trace("two"))
        assert not path.exists()
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_verifying_does_not_hold_up_appends_of_other_threads(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """verify() reads through a read-only handle of its own: a record() from another thread
    completes while a long verification is still running (it waited for the whole
    verification when both went through the one shared handle). Not JSONL: its readers hold
    the file's shared lock while they read, and appends wait for it (docs/python.md)."""
    import trailseal
    from weaver_kernel.stores import encode_trace

    from conftest import SECRET

    path = str(tmp_path / "big.db") if kind == "sqlite" else request.getfixturevalue("pg_url")
    log = trailseal.open(path, SECRET)
    batch = [json.dumps(encode_trace(make_trace(f"bulk-{i}", i))) for i in range(50_000)]
    for start in range(0, len(batch), 10_000):
        log.append_many(batch[start : start + 10_000])
    store = open_store(kind, path)
    started = threading.Event()
    done: dict[str, float] = {}

    def verify() -> None:
        started.set()
        assert store.verify_chain().ok
        done["verify"] = time.monotonic()

    verifier = threading.Thread(target=verify)
    verifier.start()
    try:
        started.wait(JOIN_SECONDS)
        time.sleep(0.02)
        store.record(make_trace("during-verify"))
        done["record"] = time.monotonic()
    finally:
        verifier.join(JOIN_SECONDS)
        store.close()
        log.close()
    assert done["record"] < done["verify"], done
