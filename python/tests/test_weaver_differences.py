"""`trailseal.weaver`'s deliberate differences from weaver-kernel 0.12.0's stores
(docs/python.md, "What is different, deliberately"), each shown against weaver-kernel itself."""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path

import pytest
import weaver_kernel.stores as upstream
from weaver_kernel.errors import AgentKernelError
from weaver_kernel.models import ActionTrace

import trailseal
import trailseal.weaver as weaver
from conftest import SECRET

UTC = datetime.timezone.utc
BASE = datetime.datetime(2026, 1, 1, tzinfo=UTC)


def _trace(action_id: str, when: datetime.datetime = BASE, **args: object) -> ActionTrace:
    return ActionTrace(
        action_id=action_id,
        capability_id="billing.list",
        principal_id="u1",
        token_id="tok-1",
        invoked_at=when,
        args=dict(args) or {"a": 1},
        response_mode="summary",
        driver_id="memory",
    )


def test_one_import_line_gives_every_name_weaver_kernel_stores_exports() -> None:
    for name in upstream.__all__:
        assert name in weaver.__all__ and hasattr(weaver, name), name
        if name not in ("SQLiteTraceStore", "JsonlTraceStore"):
            assert getattr(weaver, name) is getattr(upstream, name), name
    assert isinstance(weaver.SQLiteTraceStore(":memory:", secret=SECRET), upstream.TraceStoreProtocol)


@pytest.mark.parametrize("cls,name", [(weaver.SQLiteTraceStore, "a.db"), (weaver.JsonlTraceStore, "a.jsonl")])
def test_without_a_secret_the_stores_refuse_to_open(
    cls: type, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEAVER_KERNEL_SECRET")
    upstream_cls = getattr(upstream, cls.__name__)
    upstream_cls(tmp_path / f"w-{name}")  # weaver-kernel opens with a random secret
    for secret in (None, ""):
        with pytest.raises(AgentKernelError, match="No audit-chain secret"):
            cls(tmp_path / name, secret=secret)
    assert not (tmp_path / name).exists()
    monkeypatch.setenv("WEAVER_KERNEL_SECRET", SECRET)
    store = cls(tmp_path / name, secret="")  # an empty argument falls back to the environment
    store.record(_trace("act-0"))
    assert upstream_cls(tmp_path / name, secret=SECRET).verify_chain().ok


def test_stores_are_never_falsy(tmp_path: Path) -> None:
    for store in (
        weaver.SQLiteTraceStore(tmp_path / "a.db", secret=SECRET),
        weaver.JsonlTraceStore(tmp_path / "a.jsonl", secret=SECRET),
        weaver.SQLiteTraceStore(":memory:", secret=SECRET),
    ):
        assert bool(store) and store.list_all() == []
        assert SECRET not in repr(store)


def test_a_chain_written_with_another_secret_is_not_extended(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    upstream.SQLiteTraceStore(db, secret=SECRET).record(_trace("act-0"))
    other = "a-different-secret-of-good-length-01234"
    with pytest.raises(AgentKernelError, match="nothing was written") as raised:
        weaver.SQLiteTraceStore(db, secret=other).record(_trace("act-1"))
    assert isinstance(raised.value.__cause__, trailseal.SecretError)
    assert SECRET not in str(raised.value) and other not in str(raised.value)
    # weaver-kernel appends, and then neither secret verifies the chain.
    upstream.SQLiteTraceStore(db, secret=other).record(_trace("act-1"))
    assert not upstream.SQLiteTraceStore(db, secret=SECRET).verify_chain().ok
    assert not upstream.SQLiteTraceStore(db, secret=other).verify_chain().ok


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), "\ud800"])
def test_a_trace_that_is_not_json_is_refused_and_nothing_written(value: object, tmp_path: Path) -> None:
    store = weaver.SQLiteTraceStore(tmp_path / "a.db", secret=SECRET)
    store.record(_trace("act-0"))
    with pytest.raises(AgentKernelError, match="Nothing was recorded"):
        store.record(_trace("act-1", x=value))
    assert [t.action_id for t in store.list_all()] == ["act-0"]
    # weaver-kernel stores it, as text no strict JSON reader accepts.
    w = upstream.SQLiteTraceStore(tmp_path / "w.db", secret=SECRET)
    w.record(_trace("act-1", x=value))
    assert len(w.list_all()) == 1


def test_prune_removes_a_prefix_never_a_record_between_kept_ones(tmp_path: Path) -> None:
    days = [0, 1, 5, 2, 6]  # invoked out of order: seq 3 (day 2) is older than seq 2 (day 5)
    ours = weaver.SQLiteTraceStore(tmp_path / "a.db", secret=SECRET)
    theirs = upstream.SQLiteTraceStore(tmp_path / "w.db", secret=SECRET)
    for i, day in enumerate(days):
        when = BASE + datetime.timedelta(days=day)
        ours.record(_trace(f"act-{i}", when))
        theirs.record(_trace(f"act-{i}", when))
    cutoff = BASE + datetime.timedelta(days=3)
    assert theirs.prune(cutoff) == 3  # seqs 0, 1 and 3: a hole in the chain
    assert not theirs.verify_chain().ok
    assert ours.prune(cutoff) == 2  # seqs 0 and 1 only
    assert [r.seq for r in ours.list_records()] == [2, 3, 4]
    assert ours.verify_chain().ok
    assert upstream.SQLiteTraceStore(tmp_path / "a.db", secret=SECRET).verify_chain().ok
    receipts = ours.audit_log.retention()
    assert receipts.verified and len(receipts.receipts) == 1


def test_prune_honours_the_minimum_retention(tmp_path: Path) -> None:
    store = weaver.SQLiteTraceStore(tmp_path / "a.db", secret=SECRET)
    now = datetime.datetime.now(UTC)
    for i in range(3):
        store.record(_trace(f"act-{i}", now - datetime.timedelta(days=30 - i)))
    store.audit_log.policy(datetime.timedelta(days=60))
    with pytest.raises(AgentKernelError, match="minimum retention") as raised:
        store.prune(now)
    assert isinstance(raised.value.__cause__, trailseal.PolicyError)
    assert len(store.list_all()) == 3


def test_verify_chain_checks_the_index_columns_weaver_kernel_ignores(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    store = weaver.SQLiteTraceStore(db, secret=SECRET)
    for i in range(3):
        store.record(_trace(f"act-{i}"))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE traces SET action_id = 'act-forged' WHERE seq = 1")
    assert upstream.SQLiteTraceStore(db, secret=SECRET).verify_chain().ok
    result = weaver.SQLiteTraceStore(db, secret=SECRET).verify_chain()
    assert (result.ok, result.first_bad_seq) == (False, 1)
    verdict = weaver.SQLiteTraceStore(db, secret=SECRET).verify()
    assert (verdict.status, verdict.kind) == ("tampered", "content")


def test_a_repeated_key_reads_as_python_reads_it_and_does_not_verify(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    store = weaver.SQLiteTraceStore(db, secret=SECRET)
    store.record(_trace("act-0"))
    with sqlite3.connect(db) as conn:
        payload = conn.execute("SELECT payload FROM traces").fetchone()[0]
        repeated = payload[:-1] + ', "principal_id": "root"}'  # a second principal_id
        conn.execute("UPDATE traces SET payload = ?", (repeated,))
    # Python's json.loads keeps the last one; trailseal's reader does the same, so the two
    # never read different fields from one stored text.
    theirs = upstream.SQLiteTraceStore(db, secret=SECRET)
    ours = weaver.SQLiteTraceStore(db, secret=SECRET)
    assert theirs.get("act-0").principal_id == ours.get("act-0").principal_id == "root"
    assert ours.list_records()[0].trace == theirs.list_records()[0].trace
    assert (theirs.verify_chain().first_bad_seq, ours.verify_chain().first_bad_seq) == (0, 0)


def test_a_wrong_secret_is_named_in_verify_chain(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    weaver.SQLiteTraceStore(db, secret=SECRET).record(_trace("act-0"))
    result = weaver.SQLiteTraceStore(db, secret="other-secret").verify_chain()
    assert (result.ok, result.first_bad_seq) == (False, None)
    assert "wrong secret" in result.detail


def test_the_postgres_store_is_a_drop_in_too(pg_url: str) -> None:
    store = weaver.PostgresTraceStore(pg_url, secret=SECRET)
    for i in range(4):
        store.record(_trace(f"act-{i}", BASE + datetime.timedelta(days=i)))
    with pytest.raises(AgentKernelError, match="already present"):
        store.record(_trace("act-1"))
    assert store.get("act-2").action_id == "act-2"
    assert store.prune(BASE + datetime.timedelta(days=2)) == 2
    assert [r.seq for r in store.list_records()] == [2, 3]
    assert store.verify_chain().ok
    store.close()
    with pytest.raises(AgentKernelError) as raised:
        weaver.PostgresTraceStore(
            "postgres://postgres:hunter2hunter2@127.0.0.1:1/none", secret=SECRET
        ).list_all()
    assert "hunter2hunter2" not in str(raised.value)
