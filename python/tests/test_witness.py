"""Witness cosigning from Python, end to end, against a real C2SP tlog-witness nobody here
wrote: `aics-witness` from PyPI (the venv the Rust test harness provisions, named in
`TRAILSEAL_AICS_WITNESS_VENV`), started on loopback by the fixture and stopped after the test,
also when it fails. Without the venv the tests are skipped, unless
`TRAILSEAL_REQUIRE_EXTERNAL` is set (as in `.ci/run`): then they fail."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import trailseal
from trailseal import errors
from conftest import SECRET
from test_api import filled, trace

READY_WAIT = 60.0


class Witness:
    """One aics-witness process serving on a free loopback port."""

    def __init__(self, venv: Path, directory: Path, name: str, origin: str, log_vkey: str) -> None:
        self._bin = str(venv / "bin" / "aics-witness")
        self._config = str(directory / "witness.json")
        env = {k: v for k, v in os.environ.items() if k not in ("WITNESS_SEED_HEX", "AICS_WITNESS_CONFIG")}
        self._env = env
        self.vkey = self._run("init", "--name", name, "--listen", "127.0.0.1:0").strip()
        self._run("add-log", "--origin", origin, "--vkey", log_vkey)
        self._process = subprocess.Popen(
            [self._bin, "serve", "--listen", "127.0.0.1:0", "--log-level", "INFO", "--config", self._config],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # its own process group: stopped whole
        )
        self.lines: list[str] = []
        ready = threading.Event()
        self.url = ""

        def drain() -> None:
            assert self._process.stderr is not None
            for line in self._process.stderr:
                self.lines.append(line.rstrip("\n"))
                if not ready.is_set() and "listening on " in line:
                    self.url = line.split("listening on ", 1)[1].split()[0]
                    ready.set()
            ready.set()

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        if not ready.wait(READY_WAIT) or not self.url:
            self.stop()
            pytest.fail(f"aics-witness did not start listening: {self.lines}")
        assert self.url.startswith("http://127.0.0.1:"), self.url

    def _run(self, *args: str) -> str:
        done = subprocess.run(
            [self._bin, *args, "--config", self._config],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self._env,
            timeout=120,
        )
        assert done.returncode == 0, f"aics-witness {args[0]}: {done.stderr}"
        return done.stdout

    @property
    def endpoint(self) -> str:
        return f"{self.url}={self.vkey}"

    def stop(self) -> None:
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._drain.join(timeout=10)


@pytest.fixture()
def aics_venv() -> Path:
    venv = os.environ.get("TRAILSEAL_AICS_WITNESS_VENV")
    if not venv:
        if os.environ.get("TRAILSEAL_REQUIRE_EXTERNAL"):
            pytest.fail("aics-witness is required (TRAILSEAL_REQUIRE_EXTERNAL) but TRAILSEAL_AICS_WITNESS_VENV is not set")
        pytest.skip("no aics-witness venv (TRAILSEAL_AICS_WITNESS_VENV)")
    return Path(venv)


@pytest.fixture()
def key(tmp_path: Path) -> Path:
    path = tmp_path / "log-key"
    trailseal.keygen(path, "example.com/py-witness-log")
    return path


@pytest.fixture()
def witness_factory(aics_venv: Path, tmp_path: Path) -> Iterator:
    started: list[Witness] = []

    def start(name: str, origin: str, log_vkey: str) -> Witness:
        directory = tmp_path / f"witness-{len(started)}"
        directory.mkdir()
        w = Witness(aics_venv, directory, name, origin, log_vkey)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def _cosignature_lines(note: str, name: str) -> int:
    return sum(1 for line in note.split("\n") if line.startswith(f"\u2014 {name} "))


def test_a_growing_store_is_cosigned_and_every_verifier_counts_the_cosignature(
    tmp_path: Path, key: Path, witness_factory
) -> None:
    store = str(tmp_path / "audit.db")
    log = filled(store, 3)
    public = Path(f"{key}.pub")
    origin = log.checkpoint(key).origin
    w = witness_factory("w1.test/py-aics", origin, public.read_text().strip())
    absent = witness_factory("w2.test/py-aics", origin, public.read_text().strip()).vkey
    out = tmp_path / "tree.note"
    state = tmp_path / "witness.state"
    seen_sizes = []
    for step in range(5):
        log.append_many(trace(f"more-{step}-{i}", day=10 + step) for i in range(step + 1))
        cp = log.checkpoint(key, out=out, witnesses=[w.endpoint], witness_state=state)
        seen_sizes.append(cp.size)
        assert cp.cosignatures == 1, cp
        assert _cosignature_lines(cp.note, "w1.test/py-aics") == 1, cp.note
        assert out.read_text() == cp.note
        # The store's own verification counts it, and refuses a quorum it cannot meet.
        verdict = log.verify(checkpoints=[out], public_key=public, witness_keys=[w.vkey])
        assert verdict.verified, verdict
        # A quorum of two configured witnesses, one of which never cosigned: not verified.
        unmet = log.verify(checkpoints=[out], public_key=public, witness_keys=[w.vkey, absent], quorum=2)
        assert unmet.status == "unverifiable" and unmet.reason == "witness quorum not met", unmet
    assert seen_sizes == [4, 6, 9, 13, 18]
    assert state.exists()

    # A proof for that checkpoint, offline: the cosignature counts, a second witness never
    # heard from does not.
    proof = log.prove(7, out, public_key=public, with_trace=True)
    verdict = trailseal.verify_proof(proof, public, witness_keys=[w.vkey], quorum=1)
    assert verdict.verified and verdict.cosignatures == 1, verdict
    unmet_proof = trailseal.verify_proof(proof, public, witness_keys=[w.vkey, absent], quorum=2)
    assert unmet_proof.status == "unverifiable" and unmet_proof.reason == "witness quorum not met", unmet_proof
    # A bundle that embeds the cosigned checkpoint meets the quorum with the public key alone.
    bundle = tmp_path / "export.bundle"
    log.export(bundle, bundle=True, signing_key=key, checkpoint=out)
    bundle_verdict = trailseal.verify_bundle(bundle, public, witness_keys=[w.vkey])
    assert bundle_verdict.verified, bundle_verdict
    # Without it (a fresh checkpoint signed at export), no witness saw it: never verified.
    fresh = tmp_path / "fresh.bundle"
    log.export(fresh, bundle=True, signing_key=key)
    unmet = trailseal.verify_bundle(fresh, public, witness_keys=[w.vkey])
    assert unmet.status == "unverifiable" and unmet.reason == "witness quorum not met", unmet


def test_a_forked_copy_gets_no_cosignature_and_nothing_is_written(
    tmp_path: Path, key: Path, witness_factory
) -> None:
    store = tmp_path / "audit.jsonl"
    log = filled(str(store), 4)
    public = Path(f"{key}.pub")
    origin = log.checkpoint(key).origin
    # The fork: a copy of the store at 4 records that then records something else.
    fork_store = tmp_path / "fork.jsonl"
    log.close()
    for suffix in ("", ".tree"):
        shutil.copyfile(f"{store}{suffix}", f"{fork_store}{suffix}")
    log = trailseal.open(str(store), SECRET)
    fork = trailseal.open(str(fork_store), SECRET)
    log.append_many(trace(f"real-{i}", day=20 + i) for i in range(6))
    fork.append_many(trace(f"forged-{i}", day=20 + i) for i in range(6))
    w = witness_factory("w1.test/py-aics", origin, public.read_text().strip())
    real = log.checkpoint(key, out=tmp_path / "real.note", witnesses=[w.endpoint], witness_state=tmp_path / "real.state")
    assert real.cosignatures == 1 and real.size == 10

    # With the witness state of the real host: refused before anything is sent.
    forked_out = tmp_path / "fork.note"
    with pytest.raises(errors.AnchorError):
        fork.checkpoint(key, out=forked_out, witnesses=[w.endpoint], witness_state=tmp_path / "real.state")
    assert not forked_out.exists()
    # From a host that lost its state: the witness itself refuses (it cosigned size 10 with
    # another root).
    lost = tmp_path / "lost.state"
    with pytest.raises(errors.WitnessError, match="quorum 1 not met: 0 cosigned"):
        fork.checkpoint(key, out=forked_out, witnesses=[w.endpoint], witness_state=lost)
    assert not forked_out.exists() and not lost.exists()
    # The real log's next checkpoint is still cosigned.
    log.append(trace("real-after", day=40))
    again = log.checkpoint(key, out=tmp_path / "real.note", witnesses=[w.endpoint], witness_state=tmp_path / "real.state")
    assert again.cosignatures == 1 and again.size == 11
