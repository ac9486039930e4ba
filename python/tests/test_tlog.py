"""The transparency log from Python: `AuditLog.checkpoint`, `prove`, `consistency`, `tiles`
and `trailseal.verify_proof`, on real stores, checked against what the `trailseal` command
writes for the same store and against an RFC 6962 checker written here."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import trailseal
from trailseal import errors
from conftest import SECRET
from test_api import filled, trace


@pytest.fixture()
def key(tmp_path: Path) -> Path:
    path = tmp_path / "log-key"
    trailseal.keygen(path, "test-log")
    return path


def pub(key: Path) -> Path:
    return Path(f"{key}.pub")


def _origin(location: str) -> str | None:
    """A database URL has no file name to default the origin to."""
    return "example.com/py-test/tree" if "://" in location else None


# ── an RFC 6962 checker, independent of trailseal's ─────────────────────────────────


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def check_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: whether `proof` shows the tree of `new` leaves extends the tree of
    `old` leaves."""
    if not 0 < old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def root_of(note: str) -> bytes:
    """The root hash a checkpoint note states (its third line)."""
    return base64.b64decode(note.split("\n")[2])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The `trailseal` command the wheel installs, with the test secret."""
    script = Path(sys.executable).with_name("trailseal")
    env = {**os.environ, "WEAVER_KERNEL_SECRET": SECRET}
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env, timeout=120)


def _tree_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def _vkey(public_key_text: str, name: str = "test-witness") -> str:
    """A witness vkey (cosignature/v1, type 0x04) for the Ed25519 key of a note public key."""
    raw = base64.b64decode(public_key_text.strip().split("+", 2)[2])[1:]
    key_hash = hashlib.sha256(name.encode() + b"\n" + b"\x04" + raw).digest()[:4]
    data = base64.b64encode(b"\x04" + raw).decode()
    return f"{name}+{key_hash.hex()}+{data}"


# ── checkpoints ─────────────────────────────────────────────────────────────────────


def test_a_checkpoint_verifies_with_the_public_key_and_is_kept_up_to_date(
    store_location: str, key: Path, tmp_path: Path
) -> None:
    origin = _origin(store_location)
    log = filled(store_location)
    out = tmp_path / "tree.note"
    cp = log.checkpoint(key, out=out, origin=origin)
    assert isinstance(cp, trailseal.Checkpoint)
    assert (cp.size, cp.first_seq, cp.last_seq, cp.written) == (5, 0, 4, "created")
    assert cp.origin.endswith("/tree") and cp.note.startswith(f"{cp.origin}\n5\n{cp.root}\n\n")
    assert out.read_text() == cp.note == str(cp) and cp.not_in_tree is None
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    verdict = log.verify(checkpoints=[out], public_key=pub(key))
    assert verdict.verified, verdict
    # Another key does not open it: never verified.
    other = tmp_path / "other-key"
    trailseal.keygen(other)
    assert not log.verify(checkpoints=[out], public_key=pub(other)).verified
    # The same checkpoint again leaves the file; a larger one that extends it replaces it.
    assert log.checkpoint(key, out=out, origin=origin).written == "unchanged"
    log.append_many(trace(f"more-{i}", day=10 + i) for i in range(3))
    grown = log.checkpoint(key, out=out, origin=origin)
    assert (grown.size, grown.written, grown.replaced_size) == (8, "replaced", 5)
    assert out.read_text() == grown.note
    assert log.verify(checkpoints=[out], public_key=pub(key)).verified


def test_a_checkpoint_file_the_tree_does_not_extend_is_refused_and_left_as_evidence(
    tmp_path: Path, key: Path
) -> None:
    log = filled(str(tmp_path / "a.db"))
    (tmp_path / "forked").mkdir()
    forked = filled(str(tmp_path / "forked" / "a.db"))
    forked.append(trace("only-in-the-fork", day=30))
    out = tmp_path / "tree.note"
    # The fork (same file name: same default origin) at size 6 pins another tree.
    pinned = forked.checkpoint(key, out=out)
    log.append(trace("act-5", day=5))
    with pytest.raises(errors.ForkError, match="fork: holds another checkpoint of size 6"):
        log.checkpoint(key, out=out)
    assert out.read_text() == pinned.note
    verdict = log.verify(checkpoints=[out], public_key=pub(key))
    assert (verdict.status, verdict.kind) == ("tampered", "fork"), verdict
    # A checkpoint of a larger tree there: a rollback.
    forked.append(trace("later", day=31))
    bigger = forked.checkpoint(key, out=tmp_path / "big.note")
    with pytest.raises(errors.ForkError, match="rollback"):
        log.checkpoint(key, out=tmp_path / "big.note")
    assert (tmp_path / "big.note").read_text() == bigger.note
    # Something that is not this key's checkpoint there: refused, not replaced.
    other = tmp_path / "other-key"
    trailseal.keygen(other)
    foreign = tmp_path / "foreign.note"
    foreign.write_text(log.checkpoint(other).note)
    with pytest.raises(errors.AnchorError, match="not a checkpoint of this key") as raised:
        log.checkpoint(key, out=foreign)
    assert not isinstance(raised.value, errors.ForkError)
    assert log.checkpoint(key).size == 6


def test_a_checkpoint_is_only_made_of_a_store_that_verifies(tmp_path: Path, key: Path) -> None:
    db = tmp_path / "a.db"
    log = filled(str(db))
    with sqlite3.connect(db) as conn:
        conn.execute("""UPDATE traces SET payload = replace(payload, '"u1"', '"u2"') WHERE seq = 2""")
    out = tmp_path / "tree.note"
    with pytest.raises(errors.NotVerifiedError) as raised:
        log.checkpoint(key, out=out)
    assert raised.value.seq == 2 and not out.exists()
    with pytest.raises(errors.NotVerifiedError):
        log.tiles(key, tmp_path / "tiles")
    assert not (tmp_path / "tiles" / "checkpoint").exists()


def test_an_unreachable_witness_fails_the_quorum_and_nothing_is_written(
    tmp_path: Path, key: Path
) -> None:
    log = filled(str(tmp_path / "a.db"))
    witness_key = tmp_path / "witness-key"
    vkey = _vkey(trailseal.keygen(witness_key, "test-witness"))
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "tree.note"
    state = tmp_path / "witness.state"
    for witness in (f"http://127.0.0.1:{port}={vkey}", (f"http://127.0.0.1:{port}", vkey)):
        with pytest.raises(errors.WitnessError, match="quorum 1 not met: 0 cosigned") as raised:
            log.checkpoint(key, out=out, witnesses=[witness], witness_state=state)
        assert "nothing was written" in str(raised.value) and not out.exists()
        assert vkey.split("+", 2)[2] not in str(raised.value)


# ── proofs ──────────────────────────────────────────────────────────────────────────


def _lines(text: str) -> list[str]:
    return text.split("\n")


def test_a_proof_for_a_random_record_verifies_offline_and_tampering_never_does(
    tmp_path: Path, key: Path
) -> None:
    n = 37
    log = filled(str(tmp_path / "a.db"), n)
    cp = log.checkpoint(key, out=tmp_path / "tree.note")
    seed = random.randrange(1 << 32)
    seq = random.Random(seed).randrange(n)
    out = tmp_path / "proof.tlog"
    proof = log.prove(seq, tmp_path / "tree.note", public_key=pub(key), out=out)
    assert (proof.seq, proof.index, proof.size, proof.origin) == (seq, seq, n, cp.origin), seed
    assert out.read_text() == proof.text and proof.created is True and not proof.with_trace
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert log.prove(seq, cp, signing_key=key, out=out).created is False
    for given in (out, proof, out.read_bytes()):
        verdict = trailseal.verify_proof(given, pub(key))
        assert verdict.verified and bool(verdict), (seed, verdict)
        assert (verdict.seq, verdict.index, verdict.size) == (seq, seq, n)
        assert verdict.root == cp.root and not verdict.trace_checked
    # The record's trace checks against the leaf only with a file that carries the salt.
    record = log.records(seq)[0]
    assert trailseal.verify_proof(proof, pub(key), trace=record.trace).reason == "no salt"
    traced = log.prove(seq, cp, public_key=pub(key), with_trace=True, out=tmp_path / "t.tlog")
    assert stat.S_IMODE((tmp_path / "t.tlog").stat().st_mode) == 0o600
    verdict = trailseal.verify_proof(traced, pub(key))
    assert verdict.verified and verdict.trace_checked, verdict
    verdict = trailseal.verify_proof(traced, pub(key), trace=record.trace)
    assert verdict.verified and verdict.trace_checked
    (tmp_path / "trace.json").write_text(json.dumps(record.trace))
    assert trailseal.verify_proof(traced, pub(key), trace=tmp_path / "trace.json").verified
    changed = {**record.trace, "principal_id": "someone-else"}
    verdict = trailseal.verify_proof(traced, pub(key), trace=changed)
    assert (verdict.status, verdict.kind) == ("tampered", "trace"), verdict

    lines = _lines(proof.text)
    index_at = next(i for i, line in enumerate(lines) if line.startswith("index "))
    hashes_end = lines.index("", index_at)
    other = tmp_path / "other-key"
    trailseal.keygen(other)
    other_cp = filled(str(tmp_path / "b.db"), n).checkpoint(other)
    # A checkpoint by the log's key, same origin and size, of another tree.
    (tmp_path / "c").mkdir()
    another = filled(str(tmp_path / "c" / "a.db"), n - 1)
    another.append(trace("another-tree", day=99))
    another_cp = another.checkpoint(key)
    assert (another_cp.origin, another_cp.size) == (cp.origin, cp.size) and another_cp.root != cp.root
    wrong_index = lines.copy()
    wrong_index[index_at] = f"index {(seq + 1) % n}"
    beyond = lines.copy()
    beyond[index_at] = f"index {n}"
    extra_hash = lines.copy()
    extra_hash.insert(hashes_end, base64.b64encode(b"\x00" * 32).decode())
    flipped = lines.copy()
    first_hash = base64.b64decode(flipped[index_at + 1])
    flipped[index_at + 1] = base64.b64encode(bytes([first_hash[0] ^ 1]) + first_hash[1:]).decode()
    head = "\n".join(lines[: hashes_end + 1]) + "\n"
    tampered = {
        "wrong index": "\n".join(wrong_index),
        "index beyond the size": "\n".join(beyond),
        "extra hash": "\n".join(extra_hash),
        "flipped hash": "\n".join(flipped),
        "dropped hash": "\n".join(lines[: index_at + 1] + lines[index_at + 2 :]),
        "another key's checkpoint": head + other_cp.note,
        "another tree's checkpoint": head + another_cp.note,
        "no leaf entry": "\n".join(line for line in lines if not line.startswith("extra ")),
    }
    for what, text in tampered.items():
        verdict = trailseal.verify_proof(text.encode(), pub(key))
        assert not verdict.verified and not bool(verdict), (what, seed, verdict)
        assert verdict.status in ("tampered", "unverifiable"), (what, verdict)
    # The right proof with another log's public key: never verified.
    assert trailseal.verify_proof(proof, pub(other)).reason == "wrong public key"
    assert trailseal.verify_proof(b"\xff\xfe not text", pub(key)).reason == "unreadable proof"


def test_a_proof_is_refused_for_a_checkpoint_of_another_tree(tmp_path: Path, key: Path) -> None:
    log = filled(str(tmp_path / "a.db"))
    (tmp_path / "b").mkdir()
    fork = filled(str(tmp_path / "b" / "a.db"))
    fork.append(trace("fork-only", day=9))
    log.append(trace("main-only", day=9))
    theirs = fork.checkpoint(key)
    with pytest.raises(errors.ForkError, match="fork"):
        log.prove(2, theirs, public_key=pub(key))
    fork.append(trace("fork-later", day=10))
    with pytest.raises(errors.ForkError, match="size 7"):
        log.prove(2, fork.checkpoint(key), public_key=pub(key))
    # An older checkpoint of this store's own tree proves fine.
    assert trailseal.verify_proof(log.prove(5, log.checkpoint(key), public_key=pub(key)), pub(key))


# ── consistency ─────────────────────────────────────────────────────────────────────


def test_consistency_between_two_checkpoints_checks_and_matches_the_command(
    tmp_path: Path, key: Path
) -> None:
    db = tmp_path / "a.db"
    log = filled(str(db), 5)
    first = log.checkpoint(key, out=tmp_path / "first.note")
    log.append_many(trace(f"more-{i}", day=10 + i) for i in range(6))
    second = log.checkpoint(key, out=tmp_path / "second.note")
    proof = log.consistency(first.size, second.size)
    assert proof == log.consistency(first.size) and proof
    hashes = [base64.b64decode(h) for h in proof]
    assert check_consistency(5, 11, root_of(first.note), root_of(second.note), hashes)
    assert not check_consistency(5, 11, root_of(first.note), root_of(second.note), hashes[:-1])
    assert not check_consistency(5, 11, root_of(second.note), root_of(second.note), hashes)
    cli = _cli("consistency", "--store", str(db), "--old", "5", "--new", "11")
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.splitlines() == proof
    for old in range(1, 12):
        assert log.consistency(old, 11) == _cli(
            "consistency", "--store", str(db), "--old", str(old)
        ).stdout.splitlines()
    assert log.consistency(11, 11) == []
    verdict = log.verify(checkpoints=[tmp_path / "first.note", tmp_path / "second.note"], public_key=pub(key))
    assert verdict.verified, verdict


# ── tiles ───────────────────────────────────────────────────────────────────────────


def test_tiles_are_the_bytes_the_command_writes(tmp_path: Path, key: Path) -> None:
    db = tmp_path / "a.db"
    log = filled(str(db), 300)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    report = log.tiles(key, ours)
    assert isinstance(report, trailseal.TilesReport) and report.checkpoint_written
    assert (report.size, report.previous, report.kept, report.uncovered) == (300, None, 0, None)
    cli = _cli("tiles", "--store", str(db), "--signing-key", str(key), "--out", str(theirs))
    assert cli.returncode == 0, cli.stderr
    assert (
        f"{report.hash_tiles} hash tiles and {report.entry_bundles} entry bundles written, 0 already there"
        in cli.stdout
    ), cli.stdout
    files = _tree_files(ours)
    assert files == _tree_files(theirs)
    assert files["checkpoint"].decode().startswith(f"{report.origin}\n300\n{report.root}\n")
    assert len(files) == 1 + report.hash_tiles + report.entry_bundles
    # 300 leaves: one full level-0 tile and 44 leaves of the next, their level-1 tile of one
    # hash, entry bundles alike (c2sp.org/tlog-tiles).
    assert set(files) == {
        "checkpoint",
        "tile/0/000",
        "tile/0/001.p/44",
        "tile/1/000.p/1",
        "tile/entries/000",
        "tile/entries/001.p/44",
    }
    # Up to date: nothing written. Grown: only what is new, the rest kept.
    again = log.tiles(key, ours)
    assert not again.checkpoint_written and again.hash_tiles == again.entry_bundles == 0
    log.append_many(trace(f"more-{i}", day=400 + i) for i in range(20))
    grown = log.tiles(key, ours)
    assert (grown.size, grown.previous) == (320, 300) and grown.kept > 0 and grown.checkpoint_written
    cli = _cli("tiles", "--store", str(db), "--signing-key", str(key), "--out", str(theirs))
    assert cli.returncode == 0, cli.stderr
    assert _tree_files(ours) == _tree_files(theirs)
    # The directory's checkpoint is this log's and the store's tree must extend it.
    other = tmp_path / "other-key"
    trailseal.keygen(other)
    with pytest.raises(errors.AnchorError, match="does not open as a checkpoint"):
        log.tiles(other, ours)
    with pytest.raises(errors.AnchorError, match="another log's directory"):
        log.tiles(key, ours, origin="example.com/another/tree")
    (tmp_path / "b").mkdir()
    smaller = filled(str(tmp_path / "b" / "a.db"), 3)
    with pytest.raises(errors.ForkError, match="rolled back"):
        smaller.tiles(key, ours)


# ── bad arguments ───────────────────────────────────────────────────────────────────


def test_bad_arguments_raise_typed_errors_without_key_material(
    tmp_path: Path, key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = filled(str(tmp_path / "a.db"))
    cp = log.checkpoint(key)
    private = key.read_text().strip()
    vkey = _vkey(pub(key).read_text())
    raised: list[BaseException] = []

    def expect(cls: type[BaseException], match: str | None, call: Any) -> None:
        with pytest.raises(cls, match=match) as info:
            call()
        raised.append(info.value)

    expect(errors.InvalidTraceError, "seq 5: not in the tree of size 5", lambda: log.prove(5, cp, public_key=pub(key)))
    assert raised[-1].seq == 5  # type: ignore[attr-defined]
    expect(errors.InvalidTraceError, "exactly one of", lambda: log.prove(1, cp))
    expect(errors.InvalidTraceError, "exactly one of", lambda: log.prove(1, cp, public_key=pub(key), signing_key=key))
    expect(errors.AnchorError, "cannot read the checkpoint", lambda: log.prove(1, tmp_path / "no.note", public_key=pub(key)))
    (tmp_path / "bad.note").write_text(cp.note.replace("\n5\n", "\n6\n", 1))
    expect(errors.AnchorError, "the checkpoint", lambda: log.prove(1, tmp_path / "bad.note", public_key=pub(key)))
    (tmp_path / "exists.tlog").write_text("something else")
    expect(errors.StoreError, "already exists", lambda: log.prove(1, cp, public_key=pub(key), out=tmp_path / "exists.tlog"))
    assert (tmp_path / "exists.tlog").read_text() == "something else"
    expect(ValueError, "tree size 0: no consistency proof from the empty tree", lambda: log.consistency(0, 3))
    expect(errors.InvalidTraceError, None, lambda: log.consistency(4, 3))
    expect(errors.InvalidTraceError, "tree size 9", lambda: log.consistency(1, 9))
    expect(errors.InvalidTraceError, "witness #1", lambda: log.checkpoint(key, witnesses=[f"no-url-here+{vkey}"]))
    expect(errors.InvalidTraceError, "witness #2", lambda: log.checkpoint(key, witnesses=[f"http://127.0.0.1:1={vkey}", ("http://127.0.0.1:1", private)]))
    expect(errors.InvalidTraceError, "witness #1", lambda: log.checkpoint(key, witnesses=[("http://127.0.0.1:1",)]))  # type: ignore[list-item]
    expect(errors.InvalidTraceError, "need witnesses", lambda: log.checkpoint(key, quorum=1))
    expect(errors.InvalidTraceError, "origin", lambda: log.checkpoint(key, origin="not an origin"))
    expect(errors.InvalidTraceError, "origin", lambda: log.tiles(key, tmp_path / "t", origin="Not An Origin"))
    expect(errors.AnchorError, None, lambda: log.checkpoint(tmp_path / "no-key"))
    expect(errors.AnchorError, None, lambda: log.checkpoint(pub(key)))
    expect(errors.InvalidTraceError, "witness key #1", lambda: trailseal.verify_proof(b"", pub(key), witness_keys=[private]))
    expect(errors.InvalidTraceError, "quorum", lambda: trailseal.verify_proof(b"", pub(key), witness_keys=[vkey], quorum=2))
    expect(errors.InvalidTraceError, "quorum", lambda: trailseal.verify_proof(b"", pub(key), witness_keys=[vkey], quorum=0))
    expect(errors.InvalidTraceError, "witness key #1", lambda: log.verify(checkpoints=[tmp_path / "bad.note"], public_key=pub(key), witness_keys=[private]))
    expect(errors.AnchorError, "cannot read the proof", lambda: trailseal.verify_proof(tmp_path / "missing.tlog", pub(key)))
    (tmp_path / "big.json").write_bytes(b" " * (trailseal._native.MAX_TRACE_BYTES + 1))
    expect(errors.InvalidTraceError, "larger than", lambda: trailseal.verify_proof(cp.note.encode(), pub(key), trace=tmp_path / "big.json"))
    with trailseal.open(tmp_path / "empty.db", SECRET) as empty:
        expect(errors.StoreError, "holds no record", lambda: empty.checkpoint(key))
    monkeypatch.delenv("WEAVER_KERNEL_SECRET")
    with trailseal.open(tmp_path / "a.db") as no_secret:
        expect(errors.SecretError, None, lambda: no_secret.checkpoint(key))
        expect(errors.SecretError, None, lambda: no_secret.prove(1, cp, public_key=pub(key)))
        assert no_secret.consistency(2, 5) == log.consistency(2, 5)
    secret_part = private.split("+", 4)[4]
    text = "\n".join(f"{type(e).__name__}: {e!r} {e}" for e in raised)
    assert len(raised) >= 25
    for hidden in (private, secret_part, SECRET, vkey.split("+", 2)[2]):
        assert hidden not in text
