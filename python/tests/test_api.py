"""`trailseal.open` and the rest of the package API: append, verify, retention, anchors,
exports, bundles, keys, errors, and the `trailseal` command the wheel installs."""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

import trailseal
from trailseal import errors
from conftest import SECRET

UTC = datetime.timezone.utc
BASE = datetime.datetime(2026, 1, 1, tzinfo=UTC)


def trace(action_id: str, day: int = 0, **extra: Any) -> dict[str, Any]:
    """An export-shape trace (what weaver-kernel's encode_trace gives)."""
    doc: dict[str, Any] = {
        "action_id": action_id,
        "capability_id": "billing.list",
        "principal_id": "u1",
        "token_id": "tok-1",
        "invoked_at": (BASE + datetime.timedelta(days=day)).isoformat(),
        "args": {"a": 1},
        "response_mode": "summary",
        "driver_id": "memory",
        "handle_id": None,
        "error": None,
        "result_summary": None,
        "sensitivity": "NONE",
        "event_type": "invoke",
        "reason_code": None,
        "status": "succeeded",
    }
    doc.update(extra)
    return doc


def filled(location: str, n: int = 5) -> trailseal.AuditLog:
    log = trailseal.open(location, SECRET)
    log.append_many(trace(f"act-{i}", day=i) for i in range(n))
    return log


def test_append_read_and_verify_on_every_backend(store_location: str) -> None:
    with trailseal.open(store_location, SECRET) as log:
        first = log.append(trace("act-0"))
        assert (first.seq, len(first.record_hash)) == (0, 64)
        second = log.append(json.dumps(trace("act-1", 1)))
        third = log.append(json.dumps(trace("act-2", 2)).encode())
        assert [second.seq, third.seq] == [1, 2]
        assert log.append_many([trace("act-3", 3), trace("act-4", 4)])[-1].seq == 4
        assert log.head == (4, log.records()[-1].record_hash)
        records = log.records()
        assert [r.seq for r in records] == [0, 1, 2, 3, 4]
        assert records[1].prev_hash == first.record_hash
        assert records[2].trace["action_id"] == "act-2"
        found = log.find("act-3")
        assert found is not None and found.seq == 3
        assert log.find("act-missing") is None
        verdict = log.verify()
        assert verdict.verified and bool(verdict) and verdict.status == "verified"
        assert (verdict.records_checked, verdict.first_seq, verdict.last_seq) == (5, 0, 4)
        assert verdict.first_bad_seq is None and verdict.kind is None
        assert "no-anchor" in {c.code for c in verdict.caveats}
        assert log.records(3)[0].seq == 3


def test_a_tampered_record_is_named_and_the_verdict_is_false(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    filled(str(db)).close()
    with sqlite3.connect(db) as conn:
        payload = json.loads(conn.execute("SELECT payload FROM traces WHERE seq = 2").fetchone()[0])
        payload["args"] = {"a": 2}
        conn.execute("UPDATE traces SET payload = ? WHERE seq = 2", (json.dumps(payload),))
    verdict = trailseal.verify(db, SECRET)
    assert not verdict and verdict.status == "tampered"
    assert (verdict.first_bad_seq, verdict.kind) == (2, "content")
    assert verdict.detail.startswith("seq 2")
    assert verdict.caveats == ()


def test_without_a_secret_the_log_reads_but_never_appends_or_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "a.db"
    filled(str(db)).close()
    monkeypatch.delenv("WEAVER_KERNEL_SECRET")
    with trailseal.open(db) as log:
        assert len(log.records()) == 5
        with pytest.raises(errors.SecretError, match="no secret"):
            log.append(trace("act-new"))
        verdict = log.verify()
        assert not verdict and (verdict.status, verdict.reason) == ("unverifiable", "no secret")
    assert len(trailseal.open(db, SECRET).records()) == 5


def test_the_secret_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    filled(str(db)).close()
    assert trailseal.verify(db)  # WEAVER_KERNEL_SECRET (set by conftest)
    secret_file = tmp_path / "chain.secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    assert trailseal.verify(db, secret_file=secret_file)
    with pytest.raises(errors.InvalidTraceError):
        trailseal.open(db, SECRET, secret_file=secret_file)


def test_a_wrong_secret_is_refused_for_appends_and_told_apart_from_tampering(
    tmp_path: Path,
) -> None:
    db = tmp_path / "a.db"
    filled(str(db)).close()
    other = "another-secret-of-sufficient-length-0987654321"
    with trailseal.open(db, other) as log:
        with pytest.raises(errors.SecretError) as raised:
            log.append(trace("act-new"))
        assert "nothing was written" in str(raised.value)
        verdict = log.verify()
        assert (verdict.status, verdict.reason) == ("unverifiable", "wrong secret")
    assert len(trailseal.open(db, SECRET).records()) == 5


def test_a_new_store_refuses_a_weak_secret(tmp_path: Path) -> None:
    with trailseal.open(tmp_path / "a.db", "short") as log:
        with pytest.raises(errors.SecretError, match="shorter than"):
            log.append(trace("act-0"))
    assert not (tmp_path / "a.db").exists()


def test_typed_errors_for_bad_input_leave_the_store_unchanged(tmp_path: Path) -> None:
    log = filled(str(tmp_path / "a.db"))
    with pytest.raises(errors.DuplicateActionIdError) as dup:
        log.append(trace("act-1"))
    assert isinstance(dup.value, errors.StoreError) and dup.value.action_id == "act-1"
    with pytest.raises(errors.InvalidTraceError) as bad:
        log.append_many([trace("act-new"), {"action_id": "x"}])
    assert isinstance(bad.value, ValueError) and str(bad.value).startswith("trace 1")
    with pytest.raises(errors.InvalidTraceError):
        log.append("not json")
    with pytest.raises(errors.InvalidTraceError):
        log.append(42)  # type: ignore[arg-type]
    assert [r.seq for r in log.records()] == [0, 1, 2, 3, 4]
    assert log.verify()
    with pytest.raises(errors.StoreError, match="not a SQLite|not a database|file is not"):
        bogus = tmp_path / "traces.db"
        bogus.write_text('{"seq": 0}\n', encoding="utf-8")
        trailseal.open(bogus, SECRET)


def test_a_record_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    filled(str(db)).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE traces SET payload = 'not json' WHERE seq = 3")
    with trailseal.open(db, SECRET) as log:
        with pytest.raises(errors.CorruptRecordError) as raised:
            log.records()
        assert raised.value.seq == 3 and str(raised.value).startswith("seq 3")
        verdict = log.verify()
        assert (verdict.first_bad_seq, verdict.kind) == (3, "malformed")


def test_prune_keeps_the_rest_verifiable_with_an_authenticated_receipt(tmp_path: Path) -> None:
    log = filled(str(tmp_path / "a.db"))
    dry = log.prune(keep_last=2, dry_run=True)
    assert (dry.dry_run, dry.pruned, len(log.records())) == (True, 3, 5)
    report = log.prune(before=BASE + datetime.timedelta(days=2))
    assert (report.pruned, report.from_seq, report.last_seq, report.first_retained_seq) == (2, 0, 1, 2)
    assert report.receipt is not None and report.records_checked == 5
    archive = tmp_path / "archive.jsonl"
    report = log.prune(keep_last=1, archive=archive)
    assert (report.pruned, report.archive) == (2, str(archive))
    assert [r.seq for r in log.records()] == [4]
    status = log.retention()
    assert status.verified and len(status.receipts) == 2
    verdict = log.verify()
    assert verdict.verified and len(verdict.retention) == 2
    assert trailseal.verify(archive, SECRET).verified
    with pytest.raises(errors.InvalidTraceError):
        log.prune(keep_last=1, before=BASE)
    with pytest.raises(errors.InvalidTraceError):
        log.prune()


def test_the_minimum_retention_policy_is_enforced(tmp_path: Path) -> None:
    log = trailseal.open(tmp_path / "a.db", SECRET)
    now = datetime.datetime.now(UTC)
    log.append_many(
        trace(f"act-{i}", invoked_at=(now - datetime.timedelta(days=10 - i)).isoformat())
        for i in range(5)
    )
    assert log.policy() is None
    assert log.policy(datetime.timedelta(days=30)) == datetime.timedelta(days=30)
    with pytest.raises(errors.PolicyError, match="nothing was pruned"):
        log.prune(before=now)
    with pytest.raises(errors.PolicyError, match="explicitly"):
        log.policy(datetime.timedelta(days=1))
    assert log.policy(datetime.timedelta(days=1), allow_decrease=True) == datetime.timedelta(days=1)
    assert log.prune(older_than=datetime.timedelta(days=8)).pruned == 3
    assert log.verify()


def test_anchors_catch_a_truncated_tail(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    log = filled(str(db))
    key = tmp_path / "anchor-key"
    public = trailseal.keygen(key, "test-anchor")
    pub_file = Path(f"{key}.pub")
    assert pub_file.read_text(encoding="utf-8").strip() == public
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    anchor = log.anchor(key, out=tmp_path / "head.note")
    assert (anchor.size, anchor.created) == (5, True)
    assert anchor.note.startswith(anchor.origin + "\n")
    again = log.anchor(key, out=tmp_path / "head.note")
    assert again.created is False
    verdict = log.verify(anchors=[tmp_path / "head.note"], public_key=pub_file)
    assert verdict.verified and [a.seq for a in verdict.anchors] == [4]
    log.close()
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM traces WHERE seq = 4")
    verdict = trailseal.verify(db, SECRET, anchors=[tmp_path / "head.note"], public_key=pub_file)
    assert (verdict.status, verdict.kind) == ("tampered", "truncated")
    with pytest.raises(errors.InvalidTraceError, match="public_key"):
        trailseal.verify(db, SECRET, anchors=[tmp_path / "head.note"])
    with pytest.raises(errors.AnchorError):
        trailseal.keygen(key, "again")


def test_exports_and_bundles_verify_on_their_own(tmp_path: Path) -> None:
    log = filled(str(tmp_path / "a.db"))
    assert log.export(tmp_path / "copy.jsonl") == 5
    assert trailseal.verify(tmp_path / "copy.jsonl", SECRET).records_checked == 5
    key = tmp_path / "bundle-key"
    trailseal.keygen(key)
    bundle = tmp_path / "range.bundle"
    report = log.export(bundle, bundle=True, signing_key=key, from_seq=1, to_seq=3)
    assert isinstance(report, trailseal.BundleReport)
    assert (report.from_seq, report.to_seq, report.entries) == (1, 3, 3)
    verdict = trailseal.verify_bundle(bundle, f"{key}.pub")
    assert verdict.verified and verdict.entries == 3 and verdict.level
    # The store has a tree: the bundle embeds its checkpoint and proofs, and every disclosed
    # trace is checked against it with the public key alone (not its MAC).
    assert {c.code for c in verdict.caveats} == {"tree-checked"}
    assert trailseal.verify_bundle(bundle, f"{key}.pub", SECRET).verified
    lines = bundle.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"u1"', b'"u2"')
    bundle.write_bytes(b"".join(lines))
    assert not trailseal.verify_bundle(bundle, f"{key}.pub")
    with pytest.raises(errors.InvalidTraceError, match="signing_key"):
        log.export(tmp_path / "x.bundle", bundle=True)
    redacted = tmp_path / "redacted.bundle"
    report = log.export(redacted, bundle=True, signing_key=key, principal="nobody", withheld_reasons=True)
    assert isinstance(report, trailseal.BundleReport) and report.disclosed == 0
    verdict = trailseal.verify_bundle(redacted, f"{key}.pub")
    assert verdict.verified and verdict.withheld == 5
    assert "withheld-with-reasons" in {c.code for c in verdict.caveats}


# The vkey of the seed-1 test witness `w1.example` (crates/cli/tests/bundle_tree.rs).
W1_VKEY = "w1.example+89d3dde6+BIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"


def test_verify_bundle_with_a_witness_quorum(tmp_path: Path) -> None:
    log = filled(str(tmp_path / "a.db"))
    key = tmp_path / "bundle-key"
    trailseal.keygen(key)
    bundle = tmp_path / "all.bundle"
    log.export(bundle, bundle=True, signing_key=key)
    # The exported checkpoint carries no cosignature: never verified with a witness key.
    verdict = trailseal.verify_bundle(bundle, f"{key}.pub", witness_keys=[W1_VKEY])
    assert (verdict.status, verdict.reason) == ("unverifiable", "witness quorum not met")
    verdict = trailseal.verify_bundle(bundle, f"{key}.pub", witness_keys=(W1_VKEY,), quorum=1)
    assert not verdict.verified
    assert trailseal.verify_bundle(bundle, f"{key}.pub").verified
    for bad in (
        {"witness_keys": [W1_VKEY], "quorum": 0},
        {"witness_keys": [W1_VKEY], "quorum": 2},
        {"quorum": 1},
        {"witness_keys": ["nonsense"]},
    ):
        with pytest.raises(ValueError):
            trailseal.verify_bundle(bundle, f"{key}.pub", **bad)  # type: ignore[arg-type]


def test_a_bundle_embeds_the_checkpoint_it_is_given(tmp_path: Path) -> None:
    log = filled(str(tmp_path / "a.db"))
    key = tmp_path / "bundle-key"
    trailseal.keygen(key)
    checkpoint = log.checkpoint(key, origin="example.com/audit/tree", out=tmp_path / "tree.note")
    bundle = tmp_path / "given.bundle"
    # As a Checkpoint and as its file: the header carries the note as given.
    for given in (checkpoint, tmp_path / "tree.note"):
        log.export(bundle, bundle=True, signing_key=key, origin="example.com/audit", checkpoint=given)
        with bundle.open(encoding="utf-8") as f:
            header = json.loads(f.readline())
        assert header["tree"]["checkpoint"] == checkpoint.note
        assert trailseal.verify_bundle(bundle, f"{key}.pub").verified
    # Another store's tree (a fork) is refused, and no bundle is written.
    other = trailseal.open(tmp_path / "b.db", SECRET)
    other.append_many(trace(f"other-{i}", day=i) for i in range(5))
    fork = other.checkpoint(key, origin="example.com/audit/tree")
    refused = tmp_path / "fork.bundle"
    with pytest.raises(errors.TrailsealError, match="checkpoint to embed"):
        log.export(refused, bundle=True, signing_key=key, origin="example.com/audit", checkpoint=fork)
    assert not refused.exists()
    with pytest.raises(errors.InvalidTraceError):
        log.export(tmp_path / "x.jsonl", checkpoint=checkpoint)


def test_secrets_never_appear_in_reprs_messages_or_tracebacks(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    log = filled(str(db))
    wrong = "a-wrong-secret-that-must-stay-hidden-123456"
    shown: list[str] = [repr(log), str(log), repr(log._log)]
    for secret in (wrong, "short-hidden"):
        try:
            trailseal.open(db, secret).append(trace("act-x"))
        except errors.TrailsealError as exc:
            shown += [str(exc), repr(exc), traceback.format_exc()]
    shown.append(repr(log.verify()))
    text = "\n".join(shown)
    assert len(shown) > 4
    for secret in (SECRET, wrong, "short-hidden"):
        assert secret not in text


def test_a_log_is_never_falsy_and_close_is_final(tmp_path: Path) -> None:
    log = trailseal.open(tmp_path / "a.db", SECRET)
    assert bool(log) and not log.closed
    log.close()
    log.close()
    assert log.closed and bool(log)
    with pytest.raises(errors.StoreError, match="closed"):
        log.records()


def test_a_postgres_url_keeps_its_password_out_of_messages(pg_url: str) -> None:
    with trailseal.open(pg_url, SECRET) as log:
        log.append(trace("act-0"))
        assert log.verify().records_checked == 1
        assert log.format == "postgres"
    secret_url = pg_url.replace("postgres://postgres@", "postgres://postgres:hunter2hunter2@")
    with trailseal.open(secret_url, SECRET) as log:
        assert "hunter2hunter2" not in repr(log) and "***" in log.location


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("trailseal")
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env, timeout=120)


def test_the_wheel_installs_the_trailseal_command(tmp_path: Path) -> None:
    version = _cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"trailseal {trailseal.__version__}"
    db = tmp_path / "a.db"
    filled(str(db)).close()
    env = {**os.environ, "WEAVER_KERNEL_SECRET": SECRET}
    ok = _cli("verify", "--store", str(db), "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["status"] == "verified"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE traces SET prev_hash = ? WHERE seq = 1", ("1" * 64,))
    bad = _cli("verify", "--store", str(db), env=env)
    assert bad.returncode == 1 and "seq 1" in bad.stdout
    usage = _cli("verify")
    assert usage.returncode == 2 and "--store" in usage.stderr


def test_canonical_json_is_weaver_kernels() -> None:
    from weaver_kernel.stores.audit_chain import canonical_json

    doc = {"b": [1, 2.5, "é"], "a": {"z": None, "y": True}}
    assert trailseal.canonical_json(json.dumps(doc).encode()) == canonical_json(doc)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_must_open_the_store_again(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    log = filled(str(db))
    pid = os.fork()
    if pid == 0:  # the child: refused, then fine with its own handle
        code = 1
        try:
            try:
                log.append(trace("act-child-inherited"))
            except errors.StoreError as exc:
                if "another process" in str(exc):
                    code = 2
            del log  # dropping the inherited handle leaves the parent's connection alone
            if code == 2:
                with trailseal.open(db, SECRET) as own:
                    own.append(trace("act-child"))
                    code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    log.append(trace("act-parent"))
    assert [r.trace["action_id"] for r in log.records()][-2:] == ["act-child", "act-parent"]
    assert log.verify()


def test_anchor_files_that_cannot_be_read_are_anchor_errors(tmp_path: Path) -> None:
    log = filled(str(tmp_path / "a.db"))
    key = tmp_path / "k"
    trailseal.keygen(key)
    with pytest.raises(errors.AnchorError, match="cannot read the anchor"):
        log.verify(anchors=[tmp_path / "missing.note"], public_key=f"{key}.pub")
    with pytest.raises(errors.AnchorError, match="anchor folder"):
        log.verify(anchor_dir=tmp_path / "no-such-dir", public_key=f"{key}.pub")
    (tmp_path / "anchors").mkdir()
    log.anchor(key, out=tmp_path / "anchors" / "anchor-000000000005.note")
    (tmp_path / "anchors" / "anchor-5.note").write_text("ignored: not a name trailseal gives")
    verdict = log.verify(anchor_dir=tmp_path / "anchors", public_key=f"{key}.pub")
    assert verdict.verified and len(verdict.anchors) == 1
    with pytest.raises(errors.AnchorError):
        log.verify(anchors=[tmp_path / "anchors" / "anchor-000000000005.note"], public_key=tmp_path / "nokey.pub")
