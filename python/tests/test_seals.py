"""Forward-secure seals from Python (issue 16): ``AuditLog.seal_init`` and ``AuditLog.seal``,
checked by ``verify(seals=..., seal_public_key=...)``; a forged seal and an overdue epoch are
tampering, and no report or error shows a private key."""

from __future__ import annotations

import datetime
from pathlib import Path

import trailseal

from test_api import trace

SECRET = "python-seal-test-chain-secret-0123456789abcdef"


def test_seals_close_epochs_and_verify(tmp_path: Path) -> None:
    db, seals, state = tmp_path / "s.db", tmp_path / "seals", tmp_path / "seal.state"
    with trailseal.open(db, SECRET) as log:
        log.append_many(trace(f"a-{i}", day=i) for i in range(2))
        root = log.seal_init(seals, state, origin="py.test/seal", epoch_records=3)
        assert root.startswith("py.test/seal/epoch/0+") and "PRIVATE" not in root
        log.append_many(trace(f"b-{i}", day=10 + i) for i in range(3))
        report = log.seal(seals, state)
        assert (report["sealed"], report["reason"], report["epoch"]) == (0, "records", 1)
        assert log.seal(seals, state)["sealed"] is None
        assert log.seal(seals, state, force=True)["sealed"] == 1
    root_file = tmp_path / "root.pub"
    root_file.write_text(root + "\n")
    ok = trailseal.verify(db, SECRET, seals=seals, seal_public_key=root_file)
    assert ok.verified, ok
    late = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
    overdue = trailseal.verify(db, SECRET, seals=seals, seal_public_key=root_file, now=late)
    assert (overdue.status, overdue.kind) == ("tampered", "truncated")
    (seals / "1.seal").write_text((seals / "0.seal").read_text())
    forged = trailseal.verify(db, SECRET, seals=seals, seal_public_key=root_file)
    assert (forged.status, forged.kind) == ("tampered", "seal")
    assert "PRIVATE" not in repr(forged) and "PRIVATE" not in forged.detail
