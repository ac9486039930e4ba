"""Shared fixtures for the Python package's tests.

Run by `cargo test --workspace --all-features` (crates/cli/tests/python_package.rs builds and
installs the package, then runs pytest here with TRAILSEAL_TEST_PG pointing at a PostgreSQL
server). Run directly with `python -m pytest python/tests` in a venv where the package and
weaver-kernel 0.12.0 are installed.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

#: A chain secret of the length trailseal wants for new stores (32 bytes and more).
SECRET = "trailseal-python-tests-secret-0123456789"

#: The repository root (python/tests/../..).
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _weaver_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """weaver-kernel's token provider and trailseal's stores read WEAVER_KERNEL_SECRET; every
    test starts with it set to :data:`SECRET` (tests that need it unset remove it)."""
    monkeypatch.setenv("WEAVER_KERNEL_SECRET", SECRET)


@pytest.fixture()
def secret() -> str:
    return SECRET


def _pg_base() -> str | None:
    return os.environ.get("TRAILSEAL_TEST_PG") or None


@pytest.fixture()
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL naming a schema no other test uses. Skipped without TRAILSEAL_TEST_PG,
    except under CI (CI set), where a missing server is a failure."""
    base = _pg_base()
    if base is None:
        if os.environ.get("CI"):
            pytest.fail("TRAILSEAL_TEST_PG is not set under CI")
        pytest.skip("TRAILSEAL_TEST_PG is not set")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}schema=py_{uuid.uuid4().hex[:16]}"


@pytest.fixture(params=["sqlite", "jsonl", "postgres"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A location of each backend (PostgreSQL only with a server)."""
    if request.param == "sqlite":
        return str(tmp_path / "audit.db")
    if request.param == "jsonl":
        return str(tmp_path / "audit.jsonl")
    return request.getfixturevalue("pg_url")
