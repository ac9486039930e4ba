"""Signing-key transitions from Python (issue 16): ``keygen(rotate_from=...)`` writes the
transition signed by both keys, ``anchor``/``checkpoint(also_signing_keys=...)`` sign with both
during the overlap, and ``verify(key_transitions=...)`` walks the history from the old public
key; an anchor signed by a key outside its validity is unverifiable, never verified."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest

import trailseal
from trailseal.errors import TrailsealError

from test_api import trace

SECRET = "python-transition-test-chain-secret-0123456789"


def _signers(note: str) -> list[str]:
    """The key names of a signed note's signature lines."""
    return [line.split()[1] for line in note.split("\n\n", 1)[1].splitlines() if line]


def test_a_transition_carries_anchors_from_the_old_key_to_the_new(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    old, new = tmp_path / "old", tmp_path / "new"
    trailseal.keygen(old, "py-old")
    with trailseal.open(db, SECRET) as log:
        log.append_many(trace(f"a-{i}", day=i) for i in range(2))
        a1 = log.anchor(old, out=tmp_path / "a1.anchor")
        public = trailseal.keygen(new, "py-new", rotate_from=old)
        transition = Path(f"{new}.transition")
        assert transition.read_text().count("\u2014 ") == 2
        assert "PRIVATE" not in transition.read_text() and "PRIVATE" not in public
        steps = tmp_path / "steps"
        steps.mkdir()
        shutil.copy(transition, steps / "1.transition")
        log.append(trace("b", day=5))
        a2 = log.anchor(new, out=tmp_path / "a2.anchor", also_signing_keys=[old])
        assert sorted(_signers(a2.note)) == ["py-new", "py-old"]
        cp = log.checkpoint(new, also_signing_keys=[old])
        assert sorted(_signers(cp.note)) == ["py-new", "py-old"]
        log.append(trace("c", day=6))
        a3 = log.anchor(new, out=tmp_path / "a3.anchor")
        assert _signers(a3.note) == ["py-new"]
        with pytest.raises(TrailsealError):
            log.checkpoint(new, also_signing_keys=[old], witnesses=["http://127.0.0.1:9=x"])
    old_pub = f"{old}.pub"
    anchors = [a1.path, a2.path, a3.path]
    # The old key alone does not vouch for a3; the history does.
    alone = trailseal.verify(db, SECRET, anchors=anchors, public_key=old_pub)
    assert alone.status == "unverifiable", alone
    walked = trailseal.verify(
        db, SECRET, anchors=anchors, public_key=old_pub, key_transitions=steps
    )
    assert walked.verified, walked
    # A history whose old key stopped being valid in 2020: a1 (signed by it now) is outside
    # its validity, so unverifiable, naming the validity.
    past = tmp_path / "past"
    trailseal.keygen(
        past,
        "py-past",
        rotate_from=old,
        effective=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc),
        overlap=datetime.timedelta(days=1),
    )
    past_steps = tmp_path / "past-steps"
    past_steps.mkdir()
    shutil.copy(f"{past}.transition", past_steps / "1.transition")
    late = trailseal.verify(
        db, SECRET, anchors=[a1.path], public_key=old_pub, key_transitions=past_steps
    )
    assert (late.status, late.reason) == ("unverifiable", "wrong public key"), late
    assert "valid" in late.detail
    # A transition signed by the old key only never walks.
    lines = transition.read_text().splitlines()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.transition").write_text("\n".join(lines[:-1]) + "\n")
    broken = trailseal.verify(
        db, SECRET, anchors=[a1.path], public_key=old_pub, key_transitions=bad
    )
    assert broken.status == "unverifiable", broken


def test_keygen_rotation_arguments_are_checked(tmp_path: Path) -> None:
    old = tmp_path / "old"
    trailseal.keygen(old, "k-old")
    with pytest.raises(TrailsealError):
        trailseal.keygen(tmp_path / "x", "k-x", effective="2026-01-01T00:00:00Z")
    with pytest.raises(TrailsealError):
        trailseal.keygen(tmp_path / "y", "k-old", rotate_from=old)  # same name as the old key
    assert not (tmp_path / "y").exists() and not (tmp_path / "y.transition").exists()
    (tmp_path / "z.transition").write_text("taken\n")
    with pytest.raises(TrailsealError):
        trailseal.keygen(tmp_path / "z", "k-z", rotate_from=old)
    assert not (tmp_path / "z").exists()
    assert (tmp_path / "z.transition").read_text() == "taken\n"
    with pytest.raises(TrailsealError):
        trailseal.verify(tmp_path / "none.db", SECRET, key_transitions=tmp_path)
