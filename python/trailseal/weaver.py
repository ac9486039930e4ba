"""Drop-in trace stores for weaver-kernel, backed by trailseal's Rust core.

Change one import line::

    from weaver_kernel.stores import SQLiteTraceStore   # before
    from trailseal.weaver import SQLiteTraceStore       # after

:class:`SQLiteTraceStore` and :class:`JsonlTraceStore` have weaver-kernel 0.12.0's
constructors, methods, return types (weaver-kernel's own ``ActionTrace``, ``TraceRecord`` and
``ChainVerificationResult``) and errors (``AgentKernelError`` with weaver-kernel's message
prefixes), and read and write the same files byte for byte, so weaver-kernel's own store and
``weaver-kernel audit verify`` accept what they write. :class:`PostgresTraceStore` keeps one
chain for a fleet of workers on many hosts. Everything else ``weaver_kernel.stores`` exports
is re-exported unchanged, so the one import line keeps working.

What is different, on purpose:

- Without a secret (argument or ``WEAVER_KERNEL_SECRET``) the stores refuse to open instead
  of signing with a random development secret that no later process could verify.
- :meth:`~SQLiteTraceStore.record` returns only once the record is durable, and raises when
  it is not stored; many threads and processes may record into one store at once (the chain
  never forks), and concurrent calls share commits.
- A chain written with another secret is refused rather than silently extended.
- :meth:`~SQLiteTraceStore.prune` removes the longest *prefix* of records invoked before the
  cutoff (never a record between two kept ones), after verifying the chain, and writes an
  authenticated receipt; a minimum-retention policy set with ``trailseal policy`` is enforced.
- :meth:`~SQLiteTraceStore.verify_chain` also checks the index columns, the retention
  receipts and the store's schema; it raises ``AgentKernelError`` ("Corrupted trace …") for a
  record that cannot be read at all, as weaver-kernel does.
- Records are read with trailseal's reader (which agrees with ``json.loads``, a repeated key
  included) and handed to Python as the canonical text their MAC covers.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

try:
    from weaver_kernel.errors import AgentKernelError
    from weaver_kernel.models import ActionTrace
    from weaver_kernel.stores import (
        CHAIN_VERSION,
        GENESIS_HASH,
        HandleStoreProtocol,
        InMemoryRevocationStore,
        RevocationStoreProtocol,
        SQLiteRevocationStore,
        TraceStoreProtocol,
        build_record,
        compute_record_hash,
        verify_chain,
    )
    from weaver_kernel.stores._trace_codec import decode_trace, encode_trace
    from weaver_kernel.stores.audit_chain import ChainVerificationResult, TraceRecord
    from weaver_kernel.trace_query import TraceQuery, query_traces
except ImportError as _exc:  # pragma: no cover - exercised without weaver-kernel installed
    raise ImportError(
        "trailseal.weaver needs weaver-kernel 0.12: pip install 'trailseal[weaver]'"
    ) from _exc

from . import _native
from ._types import Verdict
from .errors import CorruptRecordError, DuplicateActionIdError, TrailsealError

__all__ = [
    # weaver_kernel.stores, re-exported unchanged
    "TraceStoreProtocol",
    "RevocationStoreProtocol",
    "HandleStoreProtocol",
    "CHAIN_VERSION",
    "GENESIS_HASH",
    "ChainVerificationResult",
    "TraceRecord",
    "build_record",
    "compute_record_hash",
    "verify_chain",
    "decode_trace",
    "encode_trace",
    "InMemoryRevocationStore",
    "SQLiteRevocationStore",
    # trailseal's stores
    "SQLiteTraceStore",
    "JsonlTraceStore",
    "PostgresTraceStore",
]

SECRET_ENV_VAR = "WEAVER_KERNEL_SECRET"


def _resolve_secret(explicit: str | None) -> str:
    """weaver-kernel's resolution (the argument if non-empty, else the environment), without
    its random development fallback."""
    if explicit:
        return explicit
    env = os.environ.get(SECRET_ENV_VAR)
    if env:
        return env
    raise AgentKernelError(
        f"No audit-chain secret: pass secret=... or set {SECRET_ENV_VAR}. trailseal's trace "
        "stores never sign with a random development secret (weaver-kernel's fallback), "
        "because no later process could verify such a chain."
    )


class _TraceStore:
    """What the three stores share."""

    _FORMAT = ""
    _KIND = ""

    def __init__(self, location: str, *, secret: str | None = None, format: str | None = None) -> None:  # noqa: A002
        key = _resolve_secret(secret)
        # As messages show it: a database URL without its password.
        self._path = _native.redact_location(location)
        try:
            self._log = _native.Log(
                location, key.encode("utf-8"), format=format or self._FORMAT, create=True
            )
        except TrailsealError as exc:
            raise self._open_error(exc) from exc

    def _open_error(self, exc: TrailsealError) -> AgentKernelError:
        return AgentKernelError(f"'{self._path}' cannot be opened as a {self._KIND}: {exc}.")

    def __bool__(self) -> bool:
        # weaver-kernel's Kernel replaces a falsy store by its in-memory default.
        return True

    def __repr__(self) -> str:
        return f"<trailseal.weaver.{type(self).__name__} {self._log.location!r}>"

    def _corrupted(self, exc: CorruptRecordError, context: str) -> AgentKernelError:
        return AgentKernelError(f"Corrupted trace payload {context}: {exc.problem or exc}.")

    def _read_error(self, exc: TrailsealError) -> AgentKernelError:
        if isinstance(exc, CorruptRecordError):
            where = f"at seq {exc.seq}" if exc.seq is not None else f"at {exc.position}"
            return self._corrupted(exc, f"{where} in {self._path}")
        return AgentKernelError(f"Cannot read the trace store '{self._path}': {exc}.")

    def _records(self) -> list[tuple[int, str, str, str]]:
        try:
            return self._log.records(0)
        except TrailsealError as exc:
            raise self._read_error(exc) from exc

    # ── TraceStoreProtocol ───────────────────────────────────────────────────

    def record(self, trace: ActionTrace) -> None:
        """Append *trace* to the chain; returns once it is durable, raises if it is not
        stored."""
        payload = encode_trace(trace)
        try:
            self._log.append(json.dumps(payload).encode("utf-8"))
        except DuplicateActionIdError as exc:
            raise AgentKernelError(
                f"Cannot record trace: action_id '{trace.action_id}' is already present in "
                "the store (duplicate record)."
            ) from exc
        except TrailsealError as exc:
            raise AgentKernelError(
                f"Cannot record trace '{trace.action_id}': {exc}. Nothing was recorded."
            ) from exc
        except (TypeError, ValueError) as exc:
            raise AgentKernelError(
                f"Cannot record trace '{trace.action_id}': {exc}. Nothing was recorded."
            ) from exc

    def get(self, action_id: str) -> ActionTrace:
        """Return the trace for *action_id*."""
        try:
            found = self._log.find(action_id)
        except CorruptRecordError as exc:
            raise self._corrupted(exc, f"for action_id='{action_id}'") from exc
        except TrailsealError as exc:
            raise self._read_error(exc) from exc
        if found is None:
            raise AgentKernelError(f"No action trace found for action_id='{action_id}'.")
        return decode_trace(json.loads(found[3]))

    def list_all(self) -> list[ActionTrace]:
        """Return all traces in chain order."""
        return [decode_trace(json.loads(r[3])) for r in self._records()]

    def query(self, query: TraceQuery) -> list[ActionTrace]:
        """Return traces matching *query*, with weaver-kernel's own ``query_traces``."""
        return query_traces(self.list_all(), query)

    # ── Audit chain ──────────────────────────────────────────────────────────

    def list_records(self) -> list[TraceRecord]:
        """Return the raw chain records in ``seq`` order; ``trace`` is parsed from the
        canonical text the record's MAC covers."""
        return [
            TraceRecord(seq=s, prev_hash=p, record_hash=h, trace=json.loads(t))
            for s, p, h, t in self._records()
        ]

    def verify(self) -> Verdict:
        """trailseal's full verdict (status, kind, caveats with their codes)."""
        return Verdict._from_json(self._log.verify([], None))

    def verify_chain(self) -> ChainVerificationResult:
        """Verify the whole chain in Rust on all cores. A record that cannot be read at all
        raises ``AgentKernelError`` as weaver-kernel does; every other failure is a result
        with ``ok=False`` naming the first bad seq."""
        verdict = self.verify()
        if verdict.verified:
            return ChainVerificationResult(
                ok=True,
                records_checked=verdict.records_checked,
                first_bad_seq=None,
                detail=f"Verified {verdict.records_checked} record(s).",
            )
        if verdict.status == "tampered" and verdict.kind == "malformed":
            raise AgentKernelError(self._malformed_message(verdict))
        return ChainVerificationResult(
            ok=False,
            records_checked=verdict.records_checked,
            first_bad_seq=verdict.first_bad_seq,
            detail=f"{verdict.status}"
            + (f" ({verdict.kind})" if verdict.kind else f" ({verdict.reason})")
            + f": {verdict.detail}",
        )

    def _malformed_message(self, verdict: Verdict) -> str:
        return f"Corrupted trace payload at seq {verdict.first_bad_seq} in {self._path}: {verdict.detail}."

    def close(self) -> None:
        """Close the store."""
        self._log.close()

    # ── trailseal additions ─────────────────────────────────────────────────

    @property
    def audit_log(self) -> Any:
        """The store as a :class:`trailseal.AuditLog` (anchors, bundles, policy, receipts)."""
        from ._log import AuditLog

        return AuditLog(self._log)


class _Prunable(_TraceStore):
    def prune(self, before: datetime.datetime) -> int:
        """Delete the records invoked strictly before *before* (a naive datetime counts as
        UTC), as the longest prefix of the chain, keeping the rest verifiable through an
        authenticated receipt and the checkpoint weaver-kernel reads. Returns the number
        pruned."""
        if not isinstance(before, datetime.datetime):
            raise AgentKernelError("prune: before must be a datetime.")
        if before.tzinfo is None:
            before = before.replace(tzinfo=datetime.timezone.utc)
        cutoff = before.astimezone(datetime.timezone.utc).isoformat()
        try:
            report = json.loads(self._log.prune(before=cutoff))
        except TrailsealError as exc:
            raise AgentKernelError(f"Cannot prune '{self._path}': {exc}.") from exc
        return int(report["pruned"])


class SQLiteTraceStore(_Prunable):
    """Durable, hash-chained trace store in weaver-kernel's SQLite layout, for any number of
    writer threads and processes."""

    _FORMAT = "sqlite"
    _KIND = "SQLite trace store"

    def __init__(self, path: str | Path, *, secret: str | None = None) -> None:
        location = str(path)
        # ":memory:" is an ephemeral store, as with sqlite3 (trailseal's memory backend).
        super().__init__(location, secret=secret, format="memory" if location == ":memory:" else None)

    def _open_error(self, exc: TrailsealError) -> AgentKernelError:
        return AgentKernelError(
            f"'{self._path}' is not a valid SQLite trace store: {exc}. "
            "If this is a JSONL store, pass --format jsonl."
        )


class JsonlTraceStore(_TraceStore):
    """Append-only, hash-chained trace store in weaver-kernel's JSONL layout, for any number
    of writer threads and processes (appends are serialised with a file lock)."""

    _FORMAT = "jsonl"
    _KIND = "JSONL trace store"

    def __init__(self, path: str | Path, *, secret: str | None = None) -> None:
        super().__init__(str(path), secret=secret)
        # weaver-kernel reads the whole file on construction; so does this store (in Rust,
        # keeping nothing), so that a damaged line surfaces here as it does there.
        try:
            self._log.check_records()
        except TrailsealError as exc:
            raise self._read_error(exc) from exc

    def _open_error(self, exc: TrailsealError) -> AgentKernelError:
        return self._read_error(exc)

    def _read_error(self, exc: TrailsealError) -> AgentKernelError:
        if isinstance(exc, CorruptRecordError):
            problem = exc.problem or str(exc)
            if exc.position is not None and exc.position.startswith("line "):
                where = f"{self._path}:{exc.position[len('line '):]}"
            else:
                where = f"{self._path} (seq {exc.seq})"
            return AgentKernelError(f"Corrupted trace record at {where}: {problem}.")
        return AgentKernelError(f"Cannot read the trace store '{self._path}': {exc}.")

    def _malformed_message(self, verdict: Verdict) -> str:
        return f"Corrupted trace record at {self._path} (seq {verdict.first_bad_seq}): {verdict.detail}."


class PostgresTraceStore(_Prunable):
    """One hash-chained trace chain in PostgreSQL for a fleet of weaver-kernel workers on many
    hosts (weaver-kernel itself has no PostgreSQL store). ``url`` is a ``postgres://`` URL;
    messages never show its password."""

    _FORMAT = "postgres"
    _KIND = "PostgreSQL trace store"

    def __init__(self, url: str, *, secret: str | None = None) -> None:
        super().__init__(url, secret=secret)
