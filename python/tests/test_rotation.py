"""Rotating the chain secret from Python (issue 16, in place and as a segment): a keyring given
as ``secrets=``, ``AuditLog.rotate``, and the verdicts with each set of keys, on every backend;
the rotate receipt's pinned MACs recomputed with Python's own ``hmac`` and ``json``."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

import trailseal

from test_api import trace

OLD = "python-rotation-old-secret-0123456789abcdef"
NEW = "python-rotation-new-secret-fedcba9876543210"


def _codes(verdict: trailseal.Verdict) -> set[str]:
    return {c.code for c in verdict.caveats}


def test_a_segment_rotation_has_its_verdicts_on_every_backend(store_location: str, tmp_path: Path) -> None:
    with trailseal.open(store_location, OLD) as log:
        log.append_many(trace(f"act-{i}", day=i) for i in range(6))
    archive = tmp_path / "old-segment.db"
    ring = {"old": OLD, "new": NEW}
    with trailseal.open(store_location, secrets=ring, active_key="new") as log:
        report = log.rotate("new", archive=archive)
        assert report["first_seq"] == 6 and report["receipt"]["kind"] == "rotate"
        assert OLD not in repr(log) and NEW not in repr(log)
        log.append(trace("after-0", day=7))
        both = log.verify()
        assert both.verified and "keys-not-held" not in _codes(both)
    new_only = trailseal.verify(store_location, NEW)
    assert new_only.verified and "keys-not-held" in _codes(new_only)
    old_only = trailseal.verify(store_location, OLD)
    assert old_only.status == "unverifiable"
    assert trailseal.verify(archive, OLD).verified
    assert trailseal.verify(archive, NEW).status == "unverifiable"
    # The old secret alone no longer writes.
    with trailseal.open(store_location, OLD) as stale:
        with pytest.raises(trailseal.TrailsealError) as raised:
            stale.append(trace("stale", day=8))
        assert OLD not in str(raised.value) and NEW not in str(raised.value)


def _not_held(verdict: trailseal.Verdict) -> list[tuple[int | None, int | None]]:
    return [
        (c.fields.get("first_seq"), c.fields.get("last_seq"))
        for c in verdict.caveats
        if c.code == "keys-not-held"
    ]


def test_a_rotation_in_place_has_its_verdicts_on_every_backend(store_location: str) -> None:
    with trailseal.open(store_location, OLD) as log:
        log.append_many(trace(f"act-{i}", day=i) for i in range(5))
    ring = {"old": OLD, "new": NEW}
    with trailseal.open(store_location, secrets=ring, active_key="new") as log:
        report = log.rotate("new")
        assert (report["mode"], report["first_seq"], report["prune"]) == ("in-place", 5, None)
        log.append_many(trace(f"after-{i}", day=10 + i) for i in range(3))
        both = log.verify()
        assert both.verified and both.records_checked == 8 and _not_held(both) == []
    new_only = trailseal.verify(store_location, NEW)
    assert new_only.verified and _not_held(new_only) == [(0, 4)]
    old_only = trailseal.verify(store_location, OLD)
    assert old_only.verified and _not_held(old_only) == [(5, 7)]
    # With one key, what acts on every record is refused, naming the records it cannot check.
    with trailseal.open(store_location, NEW) as log:
        with pytest.raises(trailseal.TrailsealError) as raised:
            log.prune(keep_last=1)
        assert "records 0 to 4" in str(raised.value) and OLD not in str(raised.value)


def test_keyring_arguments_are_checked_without_showing_a_secret(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with pytest.raises(trailseal.TrailsealError) as raised:
        trailseal.open(db, secrets={"a": OLD, "b": OLD})
    assert "same secret" in str(raised.value) and OLD not in str(raised.value)
    with pytest.raises(trailseal.TrailsealError) as raised:
        trailseal.open(db, secrets={"a": OLD}, active_key="nope")
    assert "nope" in str(raised.value) and OLD not in str(raised.value)
    with pytest.raises(trailseal.TrailsealError):
        trailseal.open(db, OLD, secrets={"a": NEW})
    # A value that is not a secret is refused (never read from the environment instead).
    with pytest.raises(trailseal.TrailsealError):
        trailseal.open(db, secrets={"a": None})  # type: ignore[dict-item]


def test_the_pinned_rotate_receipts_verify_with_pythons_hmac() -> None:
    golden = Path(__file__).resolve().parents[2] / "crates/core/tests/golden/rotate-receipts.txt"
    lines = golden.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2

    def canonical(doc: dict[str, object]) -> bytes:
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    for line in lines:
        receipt = json.loads(line)
        body = {k: v for k, v in receipt.items() if k not in ("mac", "new_mac")}
        new_mac = hmac.new(b"golden-new", b"trailseal rotation v1\n" + canonical(body), hashlib.sha256)
        assert new_mac.hexdigest() == receipt["new_mac"]
        covered = {k: v for k, v in receipt.items() if k != "mac"}
        mac = hmac.new(b"golden", b"trailseal receipt v1\n" + canonical(covered), hashlib.sha256)
        assert mac.hexdigest() == receipt["mac"]
