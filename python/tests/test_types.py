"""The package is typed: its stubs match the native module (mypy's stubtest), and the package
and a user of it pass `mypy --strict` (a wrong call does not)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

USER = '''
from __future__ import annotations

import datetime

import trailseal
from trailseal.weaver import JsonlTraceStore, SQLiteTraceStore


def audit(path: str, secret: str) -> int | None:
    log: trailseal.AuditLog = trailseal.open(path, secret)
    appended: trailseal.Appended = log.append({"action_id": "a"})
    verdict: trailseal.Verdict = log.verify()
    codes: list[str] = [c.code for c in verdict.caveats]
    report: trailseal.PruneReport = log.prune(older_than=datetime.timedelta(days=90))
    store = SQLiteTraceStore(path, secret=secret)
    ok: bool = store.verify_chain().ok
    JsonlTraceStore(path + ".jsonl", secret=secret).close()
    del appended, codes, report, ok
    return verdict.first_bad_seq


def publish(log: trailseal.AuditLog, key: str) -> bool:
    cp: trailseal.Checkpoint = log.checkpoint(key, witnesses=[("http://w", "k"), "http://w=k"])
    proof: trailseal.Proof = log.prove(0, cp, public_key=key + ".pub")
    hashes: list[str] = log.consistency(1)
    tiles: trailseal.TilesReport = log.tiles(key, "tiles")
    verdict: trailseal.ProofVerdict = trailseal.verify_proof(proof, key + ".pub", trace={"a": 1})
    del hashes, tiles
    return verdict.verified
'''


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        import mypy  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("mypy is not installed under CI")
        pytest.skip("mypy is not installed")
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=300
    )


def test_the_stubs_match_the_native_module() -> None:
    run = _mypy("mypy.stubtest", "trailseal._native")
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_package_and_its_users_pass_mypy_strict(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text(USER, encoding="utf-8")
    cache = str(tmp_path / "cache")
    run = _mypy("mypy", "--strict", "--cache-dir", cache, "-p", "trailseal")
    assert run.returncode == 0, run.stdout + run.stderr
    run = _mypy("mypy", "--strict", "--cache-dir", cache, str(good))
    assert run.returncode == 0, run.stdout + run.stderr
    bad = tmp_path / "bad.py"
    bad.write_text(USER + "\ntrailseal.open(1, secret=2)\n", encoding="utf-8")
    run = _mypy("mypy", "--strict", "--cache-dir", cache, str(bad))
    assert run.returncode == 1 and "bad.py" in run.stdout, run.stdout + run.stderr
