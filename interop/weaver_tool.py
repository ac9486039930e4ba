#!/usr/bin/env python3
"""Drive weaver-kernel 0.12.0's audit-chain stores for trailseal's interop tests and benchmarks.

Run with a Python that has ``weaver-kernel==0.12.0`` installed::

    <venv python> interop/weaver_tool.py SUBCOMMAND [options]

Every subcommand prints exactly ONE JSON object on stdout (strict JSON: no NaN/Infinity) and
nothing else; diagnostics and warnings go to stderr. The exit status is 0 whenever the tool was
used correctly -- including when weaver-kernel itself raises, which is reported as the object
``{"error": "<exception class name>", "message": "<str(exc)>"}`` -- and 2 when it is misused
(bad arguments, ``WEAVER_KERNEL_SECRET`` unset or empty, a store that must exist is missing).

The HMAC secret is read from the environment variable ``WEAVER_KERNEL_SECRET`` only. It is
passed to weaver-kernel explicitly and is never printed: it is scrubbed from every error
message and from captured stderr.

Subcommands and the JSON object each prints:

``write --backend {sqlite,jsonl} --path P --count N --seed S [--start-index K] [--start-time ISO]
[--keep-offset] [--content {tricky,simple}] [--lone-surrogates] [--non-finite]``
    Create or open the store with weaver-kernel's own ``SQLiteTraceStore`` /
    ``JsonlTraceStore`` and ``record()`` N generated ``ActionTrace`` objects, one at a time.
    ``invoked_at`` is in UTC unless ``--keep-offset`` keeps ``--start-time``'s own offset (as
    weaver-kernel writes an ``ActionTrace`` built with another time zone).
    -> ``{"written": N, "first_action_id": str|null, "last_action_id": str|null}``

``append`` (same options as ``write``)
    Like ``write``, but the store must already exist (exit 2 otherwise): this is how tests
    check that weaver-kernel can extend a store trailseal wrote. -> same object as ``write``.

``bulk-write [--backend sqlite] --path P --count N --seed S [--pad C]`` (+ the other ``write`` options)
    Benchmark loader; creates the store or appends to it. Produces exactly the rows ``SQLiteTraceStore.record()`` would (schema
    created by constructing ``SQLiteTraceStore`` once; same head/checkpoint lookup, same
    ``encode_trace`` and ``build_record``; ``payload = json.dumps(payload)``), but inserts them
    with one ``executemany`` in one transaction. Default content is ``simple`` (~600-900 byte
    payloads). -> ``{"written": N, "seconds": float}`` (whole load, including hashing).

``verify --backend {sqlite,jsonl} --path P [--timed]``
    Open the store with weaver-kernel and call ``verify_chain()``.
    -> ``{"ok": bool, "records_checked": int, "first_bad_seq": int|null, "detail": str}``
    plus ``"seconds"`` (the ``verify_chain()`` call alone; the store is opened before the clock
    starts) with ``--timed``; or ``{"error": ..., "message": ...}`` when weaver-kernel raises
    (e.g. ``AgentKernelError`` for a non-JSON payload or a torn JSONL line).

``verify-many --backend {sqlite,jsonl} --paths-from LIST``
    ``verify`` for every store named in the file LIST (one path a line, UTF-8), in one process
    (for differential tests over many generated files).
    -> ``{"results": [the object ``verify`` prints, ...]}`` in the order of LIST.

``cli-verify --backend {sqlite,jsonl} --path P``
    Run the real console script ``weaver-kernel audit verify --store P --format F --json``
    (found next to ``sys.executable``) with the secret in its environment.
    -> ``{"exit_code": int, "result": object|null, "stderr": str}``

``list --backend {sqlite,jsonl} --path P``
    ``store.list_all()`` re-encoded with ``weaver_kernel.trace.export_action_trace``.
    -> ``{"traces": [export-shape object, ...]}`` in chain order.

``prune --path P --before ISO``
    SQLite only: ``SQLiteTraceStore.prune(datetime.fromisoformat(ISO))`` (weaver-kernel treats a
    naive datetime as UTC). -> ``{"pruned": int}``

``selftest``
    Self-checks of this tool in a temporary directory, with a fixed secret of its own (it does
    not need ``WEAVER_KERNEL_SECRET``): weaver-kernel's known-answer hashes, write+verify of
    30-record SQLite and JSONL stores, list round-trips, tamper detection and the error path,
    split write/append == single write, bulk-write rows byte-identical to ``record()`` rows
    (also after existing rows and after a prune checkpoint), determinism across processes and
    hash seeds, content coverage, and ``cli-verify``.
    -> ``{"ok": true, "checks": [names...], "seconds": float}`` or
    ``{"ok": false, "checks": [names passed...], "failures": [messages...], "seconds": float}``

Generated content (``write``/``append`` default to ``--content tricky``, ``bulk-write`` to
``--content simple``) is a pure function of ``(seed, index, flags)``: record ``index`` gets
``action_id = f"act-{seed}-{index:06d}"`` and ``invoked_at = start_time + index seconds`` with
the microsecond field set to 0 (about 40% of records) or a random value, so timestamps
strictly increase and splitting one ``write`` into ``write`` + ``append --start-index K``
(same ``--start-time``) yields identical records. Note the offset counts from index 0, not from
``--start-index``. Tricky content covers non-ASCII and astral characters, U+2028/U+2029,
escapes and control characters, integers beyond 64 bits (both signs), awkward floats
(``1e16``, ``1e-05``, ``-0.0``, ``5e-324``, ``1.7976931348623157e308``, ...), nested
dicts/lists (depth up to 6), empty strings/dicts, keys that need escaping or sort differently
by code point than by UTF-16 unit, every ``SensitivityTag``, event type and response mode.
Two opt-in flags add values weaver-kernel accepts but which are not portable JSON:
``--lone-surrogates`` (unpaired UTF-16 surrogates in strings and keys) and ``--non-finite``
(NaN and +/-Infinity floats; the store then holds ``NaN``/``Infinity`` tokens, and ``list`` on
it reports an error rather than print non-strict JSON). With ``--lone-surrogates`` the ``list``
output contains unpaired ``\\udXXX`` escapes, which strict parsers such as serde_json reject.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

from weaver_kernel.enums import SensitivityTag
from weaver_kernel.errors import AgentKernelError
from weaver_kernel.models import ActionTrace
from weaver_kernel.stores import JsonlTraceStore, SQLiteTraceStore
from weaver_kernel.stores._trace_codec import encode_trace
from weaver_kernel.stores.audit_chain import GENESIS_HASH, build_record, canonical_json
from weaver_kernel.trace import export_action_trace

SECRET_ENV_VAR = "WEAVER_KERNEL_SECRET"
DEFAULT_START_TIME = "2026-03-01T09:30:00+00:00"
MAX_ARGS_DEPTH = 6

Backend: TypeAlias = Literal["sqlite", "jsonl"]
Store: TypeAlias = SQLiteTraceStore | JsonlTraceStore
JsonObject: TypeAlias = dict[str, Any]


class UsageError(Exception):
    """The tool was misused in a way argparse cannot see (reported with exit status 2)."""


# ── Deterministic content ────────────────────────────────────────────────────────────────

# fmt: off

_SENSITIVITIES: tuple[SensitivityTag, ...] = tuple(SensitivityTag)
_EVENT_TYPES = ("invoke", "expand", "deny")
_RESPONSE_MODES = ("summary", "table", "handle_only", "raw")

_WORDS = (
    "alpha", "beta", "gamma", "query", "rows", "limit", "invoice", "customer", "Zeta", "x",
    "id", "42", "a b", "DROP TABLE", "null", "true", "{}", "[]",
)
_FRAGMENTS = (
    "é", "e\u0301", "中文", "ユーザー", "😀", "𝄞", "\U0010ffff", "\u2028", "\u2029", "\u00a0",
    "\ufeff", "\ufffd", "\uffff", "ﬁ", '"', "\\", "'", "/", "</script>", "\t", "\n", "\r",
    "\r\n", "\b", "\f", "\x00", "\x01", "\x1f", "\x7f", "\x80", " ", "",
)
# Keys chosen to need escaping, and to sort differently by code point (Python, and the
# canonical form) than by UTF-16 code unit: "ﬁ" < "\uffff" < "😀" < "𝄞" by code point,
# but "😀"/"𝄞" (surrogates D83D/D834) sort before both in UTF-16.
_KEYS = (
    "", "a", "Z", "_", "10", "9", "1e2", "-1", 'k"q', "back\\slash", "tab\tkey", "new\nline",
    "cr\rkey", "nul\x00key", "\x1f", "\x7f", "/", "é", "e\u0301", "中", "😀", "𝄞", "ﬁ", "\uffff",
    "\u2028", " ", "key with spaces",
)
_BIG_INTS = (
    2**64, 2**64 + 1, -(2**64), -(2**64) - 1, 2**100, -(3**50), 10**30, -(10**40), 2**63,
    2**63 - 1, -(2**63), -(2**63) - 1, 2**53 + 1, -(2**53) - 1, 0, -1,
)
_FLOATS = (
    1e16, 1e-05, 0.1, 123456789.0, -0.0, 5e-324, 1.7976931348623157e308, 0.0, 100.0, 1e22, 1e21,
    1e-07, 0.0001, 0.30000000000000004, -2.5e-08, 2.2250738585072014e-308, 9007199254740993.0,
    1.5, -1e300, 123456789012345.67, 1e15, 9.999999999999999e15,
)
_LONE_SURROGATES = ("\ud800", "\udfff", "x\udc00y", "\udbff")
_NON_FINITE = (float("nan"), float("inf"), float("-inf"))

_CAPABILITIES = (
    "billing.list", "crm.contacts.search", "émail.send", "中文.查询", "files.read", "db.query:raw",
    'weird"cap\\id', "emoji.😀", "memory.write",
)
_PRINCIPALS = ("u1", "ops@example", "ユーザー", "svc/batch\tjob", "user-é", "𝄞-bot", "")
_DRIVERS = ("memory", "http", "sqlite", "", "drv-ü")
_REASON_CODES = (
    "missing_role", "missing_tenant_attribute", "insufficient_justification",
    "invalid_constraint", "rate_limited", "no_matching_rule", "explicit_deny_rule",
    "scope_not_allowed", 'reason "quoted" ☃',
)
_ERRORS = (
    "timeout after 3.5s \u2014 retry", "driver failed: HTTP 503", 'bad arg "limit"',
    "policy denied: missing role 'writer'", "línea 1\nlínea 2\ttab", "null byte \x00 here",
    "😀 emoji failure 𝄞", "",
)

# fmt: on


@dataclass(frozen=True, slots=True)
class ContentOptions:
    """Flags that select the generated content (all of it is a function of these + index)."""

    seed: int
    start_time: datetime.datetime
    content: Literal["tricky", "simple"] = "tricky"
    lone_surrogates: bool = False
    non_finite: bool = False
    pad: int = 0


def action_id_for(seed: int, index: int) -> str:
    """Return the action id of record *index* for *seed*."""
    return f"act-{seed}-{index:06d}"


def _rng(opts: ContentOptions, index: int) -> random.Random:
    # String seeds are hashed with SHA-512: deterministic across processes and PYTHONHASHSEED.
    return random.Random(f"trailseal:{opts.content}:{opts.seed}:{index}")


def _invoked_at(opts: ContentOptions, index: int, rng: random.Random) -> datetime.datetime:
    base = opts.start_time + datetime.timedelta(seconds=index)
    micro = 0 if rng.random() < 0.4 else rng.randrange(1, 1_000_000)
    return base.replace(microsecond=micro)


class _TrickyGen:
    """Random tricky JSON values for one record."""

    def __init__(self, opts: ContentOptions, rng: random.Random) -> None:
        self.rng = rng
        self.fragments: tuple[str, ...] = _FRAGMENTS
        self.keys: tuple[str, ...] = _KEYS
        self.floats: tuple[float, ...] = _FLOATS
        if opts.lone_surrogates:
            self.fragments += _LONE_SURROGATES
            self.keys += _LONE_SURROGATES
        if opts.non_finite:
            self.floats += _NON_FINITE

    def string(self) -> str:
        rng = self.rng
        parts = [
            rng.choice(_WORDS) if rng.random() < 0.45 else rng.choice(self.fragments)
            for _ in range(rng.randint(0, 5))
        ]
        return "".join(parts)

    def key(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            return self.rng.choice(self.keys)
        if r < 0.75:
            return self.rng.choice(_WORDS)
        return self.string()

    def scalar(self) -> Any:
        rng = self.rng
        kind = rng.randrange(10)
        if kind <= 1:
            return self.string()
        if kind == 2:
            return rng.choice(_BIG_INTS)
        if kind == 3:
            return rng.randint(-1000, 1000)
        if kind == 4:
            return rng.choice(self.floats)
        if kind == 5:
            # Arbitrary doubles across magnitudes: shortest round-trip repr, exponent switches.
            return rng.choice((-1, 1)) * rng.random() * 10.0 ** rng.randint(-30, 30)
        if kind == 6:
            return rng.random() < 0.5
        if kind == 7:
            return None
        if kind == 8:
            return rng.randint(-(2**80), 2**80)
        return ""

    def value(self, depth: int) -> Any:
        rng = self.rng
        if depth >= MAX_ARGS_DEPTH or rng.random() < 0.55:
            return self.scalar()
        if rng.random() < 0.55:
            return self.mapping(depth + 1)
        return [self.value(depth + 1) for _ in range(rng.randint(0, 4))]

    def mapping(self, depth: int) -> dict[str, Any]:
        return {self.key(): self.value(depth) for _ in range(self.rng.randint(0, 5))}

    def deep(self, depth: int) -> Any:
        """A chain of alternating dicts/lists reaching *depth* levels below the caller."""
        if depth <= 0:
            return self.scalar()
        inner = self.deep(depth - 1)
        return {self.key(): inner} if depth % 2 == 0 else [inner, self.scalar()]


def _dicts_in(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _dicts_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dicts_in(item)


def _empty_args(opts: ContentOptions, index: int) -> bool:
    # Half of the deny records (those with (index + offset) % 6 == 5; deny is % 3 == 2) carry
    # args == {}, as weaver-kernel's own denial traces do. Index-based so it has a closed form.
    return (index + opts.seed % 60) % 6 == 5


def _plant_slot(opts: ContentOptions, index: int) -> int:
    """How many args-bearing records precede *index* (counted from index 0)."""
    offset = opts.seed % 60
    return index - ((index + offset) // 6 - offset // 6)


def _tricky_args(gen: _TrickyGen, opts: ContentOptions, index: int) -> dict[str, Any]:
    if _empty_args(opts, index):
        return {}
    rng = gen.rng
    args = gen.mapping(1)
    if index % 5 == 0:
        args[gen.key()] = gen.deep(MAX_ARGS_DEPTH - 1)
    # Plant values from every pool by rotation over the args-bearing records, so any few dozen
    # consecutive records are guaranteed (not just likely) to contain every tricky value.
    slot = _plant_slot(opts, index)
    keys, frags, floats = gen.keys, gen.fragments, gen.floats
    planted: list[tuple[str, Any]] = [
        (keys[(2 * slot) % len(keys)], frags[(2 * slot) % len(frags)]),
        (keys[(2 * slot + 1) % len(keys)], frags[(2 * slot + 1) % len(frags)]),
        (gen.key(), _BIG_INTS[slot % len(_BIG_INTS)]),
        (gen.key(), floats[slot % len(floats)]),
        (gen.key(), {}),
    ]
    targets = list(_dicts_in(args))
    taken: set[tuple[int, str]] = set()
    for n, (wanted, value) in enumerate(planted):
        target = rng.choice(targets)
        key = f"{wanted}#{n}" if (id(target), wanted) in taken else wanted  # keep earlier plants
        taken.add((id(target), key))
        target[key] = value
    return args


def tricky_trace(opts: ContentOptions, index: int) -> ActionTrace:
    """Return record *index* of the tricky content stream."""
    rng = _rng(opts, index)
    gen = _TrickyGen(opts, rng)
    invoked_at = _invoked_at(opts, index, rng)
    # Rotations with pairwise-coprime periods 5, 3, 4: every combination within 60 records.
    offset = opts.seed % 60
    sensitivity = _SENSITIVITIES[(2 * index + offset) % len(_SENSITIVITIES)]
    event_type = _EVENT_TYPES[(index + offset) % len(_EVENT_TYPES)]
    response_mode = _RESPONSE_MODES[(3 * index + offset) % len(_RESPONSE_MODES)]
    deny = event_type == "deny"
    token_id = "" if event_type != "invoke" else f"tok-{rng.getrandbits(64):016x}"
    driver_id = "" if event_type != "invoke" else rng.choice(_DRIVERS)
    if event_type == "expand" or rng.random() < 0.35:
        handle_id: str | None = rng.choice((f"h-{rng.randrange(10**6)}", "h-😀-" + gen.string()))
    else:
        handle_id = None
    if deny or rng.random() < 0.3:
        error: str | None = rng.choice(_ERRORS) + (gen.string() if rng.random() < 0.5 else "")
    else:
        error = None
    if deny:
        reason_code: str | None = rng.choice(_REASON_CODES) if rng.random() < 0.9 else None
    else:
        reason_code = rng.choice(_REASON_CODES) if rng.random() < 0.15 else None
    if rng.random() < (0.2 if error is not None else 0.75):
        result_summary: dict[str, Any] | None = {
            "fact_count": rng.randint(0, 50),
            "row_count": rng.choice((0, 1, rng.randint(0, 10**6))),
            "warning_count": rng.randint(0, 3),
            "has_handle": handle_id is not None,
        }
    else:
        result_summary = None
    capability_id = rng.choice(_CAPABILITIES)
    principal_id = rng.choice(_PRINCIPALS)
    args = _tricky_args(gen, opts, index)
    return ActionTrace(
        action_id=action_id_for(opts.seed, index),
        capability_id=capability_id,
        principal_id=principal_id,
        token_id=token_id,
        invoked_at=invoked_at,
        args=args,
        response_mode=response_mode,  # type: ignore[arg-type]
        driver_id=driver_id,
        handle_id=handle_id,
        error=error,
        result_summary=result_summary,
        sensitivity=sensitivity,
        event_type=event_type,  # type: ignore[arg-type]
        reason_code=reason_code,
    )


# fmt: off
_SIMPLE_CAPS = (
    "billing.list_invoices", "crm.contacts.search", "files.read", "tickets.update",
    "analytics.run_report", "email.send",
)
_SIMPLE_WORDS = (
    "overdue", "invoice", "customer", "priority", "region", "renewal", "refund", "quarterly",
    "pending", "escalated", "München", "São Paulo", "Zürich", "naïve", "résumé", "東京",
)
_SIMPLE_FIELDS = ("id", "name", "email", "amount", "currency", "status", "created_at", "owner")
# fmt: on


def simple_trace(opts: ContentOptions, index: int) -> ActionTrace:
    """Return record *index* of the simple (benchmark) content stream: ~600-900 byte payloads."""
    rng = _rng(opts, index)
    invoked_at = _invoked_at(opts, index, rng)
    failed = rng.random() < 0.1
    handle_id = f"h-{rng.getrandbits(48):012x}" if rng.random() < 0.3 else None
    args: dict[str, Any] = {
        "query": " ".join(rng.choice(_SIMPLE_WORDS) for _ in range(rng.randint(2, 5))),
        "limit": rng.choice((10, 25, 50, 100, 500)),
        "offset": rng.randrange(0, 10_000),
        "filters": {
            "status": rng.sample(("open", "closed", "pending", "void"), rng.randint(1, 3)),
            "region": rng.choice(("eu-west-1", "us-east-2", "ap-south-1")),
            "min_amount": round(rng.uniform(0, 5000), 2),
            "since": (invoked_at - datetime.timedelta(days=rng.randint(1, 90))).date().isoformat(),
        },
        "fields": rng.sample(_SIMPLE_FIELDS, rng.randint(2, 5)),
        "order_by": rng.choice(_SIMPLE_FIELDS),
        "justification": f"ticket #{rng.randint(1000, 99999)} {rng.choice(_SIMPLE_WORDS)}",
    }
    if opts.pad:
        # Benchmarks: a note of `pad` characters brings payloads to the size wanted.
        words = " ".join(rng.choice(_SIMPLE_WORDS) for _ in range(opts.pad // 3 + 1))
        args["note"] = words[: opts.pad]
    return ActionTrace(
        action_id=action_id_for(opts.seed, index),
        capability_id=rng.choice(_SIMPLE_CAPS),
        principal_id=f"user-{rng.randrange(5000):04d}@example.com",
        token_id=f"tok-{rng.getrandbits(96):024x}",
        invoked_at=invoked_at,
        args=args,
        response_mode=rng.choice(_RESPONSE_MODES),  # type: ignore[arg-type]
        driver_id=rng.choice(("postgres", "http", "memory")),
        handle_id=handle_id,
        error="driver error: upstream timed out after 30s" if failed else None,
        result_summary=None
        if failed
        else {
            "fact_count": rng.randint(0, 20),
            "row_count": rng.randint(0, 500),
            "warning_count": rng.randint(0, 2),
            "has_handle": handle_id is not None,
        },
        sensitivity=rng.choice(_SENSITIVITIES),
    )


def generate_traces(opts: ContentOptions, start_index: int, count: int) -> Iterator[ActionTrace]:
    """Yield records ``start_index .. start_index + count - 1`` of the selected content."""
    make: Callable[[ContentOptions, int], ActionTrace] = (
        tricky_trace if opts.content == "tricky" else simple_trace
    )
    for index in range(start_index, start_index + count):
        yield make(opts, index)


# ── Store operations ─────────────────────────────────────────────────────────────────────


def open_store(backend: Backend, path: str, secret: str) -> Store:
    """Open (or create) a weaver-kernel store. *path* is passed through verbatim."""
    if backend == "sqlite":
        return SQLiteTraceStore(path, secret=secret)
    return JsonlTraceStore(path, secret=secret)


def _close(store: Store) -> None:
    if isinstance(store, SQLiteTraceStore):
        store.close()


def record_traces(
    backend: Backend, path: str, secret: str, traces: Iterable[ActionTrace]
) -> JsonObject:
    """Record *traces* one by one with weaver-kernel's ``store.record()``."""
    store = open_store(backend, path, secret)
    written, first, last = 0, None, None
    try:
        for trace in traces:
            store.record(trace)
            written += 1
            if first is None:
                first = trace.action_id
            last = trace.action_id
    finally:
        _close(store)
    return {"written": written, "first_action_id": first, "last_action_id": last}


_INSERT_SQL = (
    "INSERT INTO traces (seq, action_id, prev_hash, record_hash, invoked_at, payload) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def bulk_insert(path: str, secret: str, traces: Iterable[ActionTrace]) -> int:
    """Append *traces* to a SQLite store in one transaction, exactly as ``record()`` would.

    Mirrors ``SQLiteTraceStore.record``: the head is the highest-seq row, else the pruning
    checkpoint in ``meta`` (``checkpoint_next_seq`` / ``checkpoint_hash``), else genesis.
    """
    SQLiteTraceStore(path, secret=secret).close()  # weaver-kernel creates the schema
    conn = sqlite3.connect(path)
    try:
        head = conn.execute(
            "SELECT seq, record_hash FROM traces ORDER BY seq DESC LIMIT 1"
        ).fetchone()

        def meta(key: str, default: str) -> str:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return default if row is None else str(row[0])

        if head is not None:
            next_seq, prev_hash = int(head[0]) + 1, str(head[1])
        else:
            next_seq = int(meta("checkpoint_next_seq", "0"))
            prev_hash = meta("checkpoint_hash", GENESIS_HASH)
        written = 0

        def rows() -> Iterator[tuple[int, str, str, str, str, str]]:
            nonlocal next_seq, prev_hash, written
            for trace in traces:
                payload = encode_trace(trace)
                rec = build_record(next_seq, prev_hash, payload, secret=secret)
                yield (
                    rec.seq,
                    trace.action_id,
                    rec.prev_hash,
                    rec.record_hash,
                    payload["invoked_at"],
                    json.dumps(payload),
                )
                next_seq, prev_hash = rec.seq + 1, rec.record_hash
                written += 1

        with conn:  # one transaction: commit on success, roll back on any error
            conn.executemany(_INSERT_SQL, rows())
        return written
    finally:
        conn.close()


def verify_store(backend: Backend, path: str, secret: str, *, timed: bool = False) -> JsonObject:
    """Run weaver-kernel's ``verify_chain()``; weaver's exceptions become an error object."""
    try:
        store = open_store(backend, path, secret)  # JSONL parses the whole file here
        try:
            started = time.perf_counter()
            result = store.verify_chain()
            elapsed = time.perf_counter() - started
        finally:
            _close(store)
    except Exception as exc:  # noqa: BLE001 -- reporting weaver's own verdict is the point
        return error_object(exc, secret)
    out: JsonObject = {
        "ok": result.ok,
        "records_checked": result.records_checked,
        "first_bad_seq": result.first_bad_seq,
        "detail": result.detail,
    }
    if timed:
        out["seconds"] = elapsed
    return out


def list_store(backend: Backend, path: str, secret: str) -> JsonObject:
    """Decode every trace with weaver-kernel and re-encode it in the export shape."""
    store = open_store(backend, path, secret)
    try:
        return {"traces": [export_action_trace(t) for t in store.list_all()]}
    finally:
        _close(store)


def prune_store(path: str, secret: str, before: datetime.datetime) -> JsonObject:
    """Run ``SQLiteTraceStore.prune(before)``."""
    store = SQLiteTraceStore(path, secret=secret)
    try:
        return {"pruned": store.prune(before)}
    finally:
        store.close()


def weaver_cli_command() -> list[str]:
    """The venv's ``weaver-kernel`` console script, or ``python -m weaver_kernel.cli``."""
    script = Path(sys.executable).parent / "weaver-kernel"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    print(
        f"warning: {script} not found; using {sys.executable} -m weaver_kernel.cli", file=sys.stderr
    )
    return [sys.executable, "-m", "weaver_kernel.cli"]


def cli_verify(
    backend: Backend, path: str, secret: str, env: dict[str, str] | None = None
) -> JsonObject:
    """Run ``weaver-kernel audit verify --json`` with the secret in the environment."""
    child_env = dict(os.environ if env is None else env)
    child_env[SECRET_ENV_VAR] = secret
    argv = [
        *weaver_cli_command(),
        "audit",
        "verify",
        "--store",
        path,
        "--format",
        backend,
        "--json",
    ]
    proc = subprocess.run(
        argv,
        env=child_env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        check=False,
    )
    try:
        result: Any = json.loads(proc.stdout) if proc.stdout.strip() else None
    except json.JSONDecodeError:
        print("warning: non-JSON stdout:\n" + scrub(proc.stdout, secret), file=sys.stderr)
        result = None
    return {"exit_code": proc.returncode, "result": result, "stderr": scrub(proc.stderr, secret)}


def scrub(text: str, secret: str) -> str:
    """Remove every occurrence of *secret* from *text* (defence in depth; weaver never logs it)."""
    return text.replace(secret, "[REDACTED]") if secret else text


def error_object(exc: BaseException, secret: str) -> JsonObject:
    """The object printed when weaver-kernel (or sqlite3 / the OS) raises."""
    return {"error": type(exc).__name__, "message": scrub(str(exc), secret)}


# ── Self-test ────────────────────────────────────────────────────────────────────────────

_KAT_SECRET = "chain-test-secret"
_KAT_HASHES = (
    "d68a91b5c0874a9137514cb984b164b540a3c9255e77c15696ea3b215c7b9007",
    "cbd72ea6e6b32137d7c1fdcc0a24929f6d3bededf5f1f9ef97bf240fcbdb7852",
)
_SELFTEST_SECRET = "selftest-secret-é-😀"


def _kat_traces() -> list[ActionTrace]:
    t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return [
        ActionTrace(
            action_id=f"act-{i}",
            capability_id="billing.list",
            principal_id="u1",
            token_id="tok-1",
            invoked_at=t0 + datetime.timedelta(seconds=i),
            args={"a": 1},
            response_mode="summary",
            driver_id="memory",
        )
        for i in range(2)
    ]


def sqlite_rows(path: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every traces/meta row with each column's SQLite storage class, for exact comparison."""
    conn = sqlite3.connect(path)
    try:
        traces = conn.execute(
            "SELECT seq, typeof(seq), action_id, typeof(action_id), prev_hash, typeof(prev_hash),"
            " record_hash, typeof(record_hash), invoked_at, typeof(invoked_at),"
            " CAST(payload AS BLOB), typeof(payload) FROM traces ORDER BY seq"
        ).fetchall()
        meta = conn.execute("SELECT key, value, typeof(value) FROM meta ORDER BY key").fetchall()
    finally:
        conn.close()
    return traces, meta


class _SelfTest:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.passed: list[str] = []
        self.failures: list[str] = []
        self.start_time = parse_iso(DEFAULT_START_TIME)

    def check(self, name: str, condition: bool, detail: str = "") -> None:
        if condition:
            self.passed.append(name)
        else:
            self.failures.append(f"{name}: {detail}" if detail else name)

    def opts(
        self,
        seed: int,
        content: Literal["tricky", "simple"] = "tricky",
        *,
        lone_surrogates: bool = False,
        non_finite: bool = False,
    ) -> ContentOptions:
        return ContentOptions(
            seed=seed,
            start_time=self.start_time,
            content=content,
            lone_surrogates=lone_surrogates,
            non_finite=non_finite,
        )

    def path(self, name: str) -> str:
        return str(self.tmp / name)

    def run_all(self) -> None:
        for step in (
            self.known_answer,
            self.write_and_verify,
            self.split_append,
            self.bulk_identity,
            self.determinism,
            self.coverage,
            self.tamper,
            self.edge_flags,
            self.subprocess_checks,
        ):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 -- a crashing check is a failed check
                self.failures.append(f"{step.__name__} raised {type(exc).__name__}: {exc}")
                traceback.print_exc(file=sys.stderr)

    def known_answer(self) -> None:
        traces = _kat_traces()
        prev = GENESIS_HASH
        got: list[str] = []
        for seq, trace in enumerate(traces):
            rec = build_record(seq, prev, encode_trace(trace), secret=_KAT_SECRET)
            got.append(rec.record_hash)
            prev = rec.record_hash
        self.check("known_answer_build_record", tuple(got) == _KAT_HASHES, f"got {got}")
        for backend in ("sqlite", "jsonl"):
            path = self.path(f"kat.{backend}")
            record_traces(backend, path, _KAT_SECRET, traces)
            hashes = [r.record_hash for r in open_store(backend, path, _KAT_SECRET).list_records()]
            self.check(
                f"known_answer_{backend}_store", tuple(hashes) == _KAT_HASHES, f"got {hashes}"
            )

    def write_and_verify(self) -> None:
        opts = self.opts(7)
        expected = [canonical_json(encode_trace(t)) for t in generate_traces(opts, 0, 30)]
        chains: dict[str, list[tuple[int, str, str]]] = {}
        for backend in ("sqlite", "jsonl"):
            path = self.path(f"w30.{backend}")
            out = record_traces(backend, path, _SELFTEST_SECRET, generate_traces(opts, 0, 30))
            self.check(
                f"write_{backend}_output",
                out
                == {
                    "written": 30,
                    "first_action_id": "act-7-000000",
                    "last_action_id": "act-7-000029",
                },
                repr(out),
            )
            verdict = verify_store(backend, path, _SELFTEST_SECRET, timed=True)
            self.check(
                f"verify_{backend}_ok",
                verdict.get("ok") is True
                and verdict.get("records_checked") == 30
                and verdict.get("first_bad_seq") is None
                and isinstance(verdict.get("seconds"), float),
                repr(verdict),
            )
            listed = list_store(backend, path, _SELFTEST_SECRET)["traces"]
            self.check(
                f"list_{backend}_roundtrip",
                [canonical_json(t) for t in listed] == expected,
                "decoded traces differ from generated ones",
            )
            store = open_store(backend, path, _SELFTEST_SECRET)
            chains[backend] = [(r.seq, r.prev_hash, r.record_hash) for r in store.list_records()]
            _close(store)
            wrong = verify_store(backend, path, _SELFTEST_SECRET + "x")
            self.check(
                f"verify_{backend}_wrong_secret", wrong.get("first_bad_seq") == 0, repr(wrong)
            )
        self.check("sqlite_jsonl_same_chain", chains["sqlite"] == chains["jsonl"])
        empty = self.path("empty.sqlite")
        SQLiteTraceStore(empty, secret=_SELFTEST_SECRET).close()
        self.check(
            "verify_empty_store",
            verify_store("sqlite", empty, _SELFTEST_SECRET)
            == {
                "ok": True,
                "records_checked": 0,
                "first_bad_seq": None,
                "detail": "Verified 0 record(s).",
            },
        )

    def split_append(self) -> None:
        opts = self.opts(8)
        for backend in ("sqlite", "jsonl"):
            whole, split = self.path(f"whole.{backend}"), self.path(f"split.{backend}")
            record_traces(backend, whole, _SELFTEST_SECRET, generate_traces(opts, 0, 20))
            record_traces(backend, split, _SELFTEST_SECRET, generate_traces(opts, 0, 12))
            record_traces(backend, split, _SELFTEST_SECRET, generate_traces(opts, 12, 8))
            same = (
                sqlite_rows(whole) == sqlite_rows(split)
                if backend == "sqlite"
                else Path(whole).read_bytes() == Path(split).read_bytes()
            )
            self.check(f"split_write_append_identical_{backend}", same)

    def bulk_identity(self) -> None:
        for content in ("tricky", "simple"):
            opts = self.opts(9, content)
            via_record, via_bulk = (
                self.path(f"rec-{content}.sqlite"),
                self.path(f"bulk-{content}.sqlite"),
            )
            record_traces("sqlite", via_record, _SELFTEST_SECRET, generate_traces(opts, 0, 30))
            n = bulk_insert(via_bulk, _SELFTEST_SECRET, generate_traces(opts, 0, 30))
            self.check(f"bulk_{content}_count", n == 30, str(n))
            self.check(
                f"bulk_{content}_rows_identical", sqlite_rows(via_record) == sqlite_rows(via_bulk)
            )
            # Appending after existing rows, and onto an emptied store after a prune checkpoint.
            record_traces("sqlite", via_record, _SELFTEST_SECRET, generate_traces(opts, 30, 10))
            bulk_insert(via_bulk, _SELFTEST_SECRET, generate_traces(opts, 30, 10))
            self.check(
                f"bulk_{content}_append_identical", sqlite_rows(via_record) == sqlite_rows(via_bulk)
            )
            cutoff = self.start_time + datetime.timedelta(seconds=3600)
            for path in (via_record, via_bulk):
                pruned = prune_store(path, _SELFTEST_SECRET, cutoff)["pruned"]
                self.check(f"prune_{content}_all", pruned == 40, str(pruned))
            record_traces("sqlite", via_record, _SELFTEST_SECRET, generate_traces(opts, 40, 5))
            bulk_insert(via_bulk, _SELFTEST_SECRET, generate_traces(opts, 40, 5))
            self.check(
                f"bulk_{content}_after_checkpoint_identical",
                sqlite_rows(via_record) == sqlite_rows(via_bulk),
            )
            verdict = verify_store("sqlite", via_bulk, _SELFTEST_SECRET)
            self.check(
                f"bulk_{content}_after_checkpoint_verifies",
                verdict.get("ok") is True and verdict.get("records_checked") == 5,
                repr(verdict),
            )
        sizes = [
            len(json.dumps(encode_trace(t)))
            for t in generate_traces(self.opts(1, "simple"), 0, 500)
        ]
        self.check(
            "simple_payload_size_600_900",
            min(sizes) >= 600 and max(sizes) <= 900,
            f"min {min(sizes)} max {max(sizes)} mean {sum(sizes) / len(sizes):.0f}",
        )

    def determinism(self) -> None:
        def dump(seed: int, content: Literal["tricky", "simple"]) -> list[str]:
            return [
                canonical_json(encode_trace(t))
                for t in generate_traces(self.opts(seed, content), 0, 40)
            ]

        for content in ("tricky", "simple"):
            self.check(f"deterministic_{content}", dump(5, content) == dump(5, content))
            self.check(f"seed_changes_{content}", dump(5, content) != dump(6, content))
        later = list(generate_traces(self.opts(5), 100, 50))
        stamps = [t.invoked_at for t in generate_traces(self.opts(5), 0, 100)] + [
            t.invoked_at for t in later
        ]
        self.check(
            "invoked_at_strictly_increasing", all(a < b for a, b in itertools.pairwise(stamps))
        )
        self.check("invoked_at_utc", all(s.utcoffset() == datetime.timedelta(0) for s in stamps))

    def coverage(self) -> None:
        traces = list(generate_traces(self.opts(7), 0, 30))
        payloads = [encode_trace(t) for t in traces]
        text = "\n".join(canonical_json(p) for p in payloads)

        def covers(name: str, values: Iterable[Any], key: Callable[[JsonObject], Any]) -> None:
            seen = {key(p) for p in payloads}
            missing = [v for v in values if v not in seen]
            self.check(f"coverage_{name}", not missing, f"missing {missing}")

        covers("sensitivity", [s.value for s in SensitivityTag], lambda p: p["sensitivity"])
        covers("event_type", _EVENT_TYPES, lambda p: p["event_type"])
        covers("response_mode", _RESPONSE_MODES, lambda p: p["response_mode"])
        covers("status", ("failed", "succeeded"), lambda p: p["status"])
        covers("handle_id", (True, False), lambda p: p["handle_id"] is None)
        covers("error", (True, False), lambda p: p["error"] is None)
        covers("result_summary", (True, False), lambda p: p["result_summary"] is None)
        covers("reason_code", (True, False), lambda p: p["reason_code"] is None)
        covers("empty_args", (True, False), lambda p: p["args"] == {})
        covers("microseconds", (True, False), lambda p: "." in p["invoked_at"])
        denies = [p for p in payloads if p["event_type"] == "deny"]
        self.check("deny_token_empty", all(p["token_id"] == "" for p in denies))
        needles = {
            "e_acute": "\\u00e9",
            "cjk": "\\u4e2d",
            "emoji": "\\ud83d\\ude00",
            "g_clef": "\\ud834\\udd1e",
            "u2028": "\\u2028",
            "quote": '\\"',
            "backslash": "\\\\",
            "tab": "\\t",
            "newline": "\\n",
            "nul": "\\u0000",
            "del": "\\u007f",
            "big_pos": str(2**64),
            "big_neg": str(-(2**64)),
            "1e16": "1e+16",
            "1e-05": "1e-05",
            "0.1": "0.1",
            "123456789.0": "123456789.0",
            "-0.0": "-0.0",
            "5e-324": "5e-324",
            "max_double": "1.7976931348623157e+308",
            "empty_string": '""',
            "empty_dict": "{}",
        }
        missing = [name for name, needle in needles.items() if needle not in text]
        self.check("coverage_tricky_values", not missing, f"missing {missing}")

        def depth(v: Any) -> int:
            if isinstance(v, dict):
                return 1 + max((depth(x) for x in v.values()), default=0)
            if isinstance(v, list):
                return 1 + max((depth(x) for x in v), default=0)
            return 0

        deepest = max(depth(p["args"]) for p in payloads)
        self.check("coverage_nesting_depth_6", deepest >= 6, f"max depth {deepest}")

    def tamper(self) -> None:
        opts = self.opts(7)
        path = self.path("tamper.sqlite")
        record_traces("sqlite", path, _SELFTEST_SECRET, generate_traces(opts, 0, 30))
        conn = sqlite3.connect(path)
        payload = json.loads(
            conn.execute("SELECT payload FROM traces WHERE seq = 12").fetchone()[0]
        )
        payload["principal_id"] += "!"
        with conn:
            conn.execute("UPDATE traces SET payload = ? WHERE seq = 12", (json.dumps(payload),))
        conn.close()
        verdict = verify_store("sqlite", path, _SELFTEST_SECRET)
        self.check(
            "tamper_detected",
            verdict.get("ok") is False
            and verdict.get("first_bad_seq") == 12
            and verdict.get("records_checked") == 13,
            repr(verdict),
        )
        conn = sqlite3.connect(path)
        with conn:
            conn.execute("UPDATE traces SET payload = '{not json' WHERE seq = 5")
        conn.close()
        verdict = verify_store("sqlite", path, _SELFTEST_SECRET)
        self.check(
            "corrupt_payload_error_object",
            verdict.get("error") == "AgentKernelError",
            repr(verdict),
        )
        jsonl = self.path("torn.jsonl")
        record_traces("jsonl", jsonl, _SELFTEST_SECRET, generate_traces(opts, 0, 5))
        data = Path(jsonl).read_bytes()
        Path(jsonl).write_bytes(data[: len(data) - 40])
        verdict = verify_store("jsonl", jsonl, _SELFTEST_SECRET)
        self.check(
            "torn_line_error_object", verdict.get("error") == "AgentKernelError", repr(verdict)
        )

    def edge_flags(self) -> None:
        # Values weaver-kernel accepts although they are not portable JSON: it stores and
        # verifies them; they are opt-in so default stores stay strict JSON.
        cases = {
            "lone_surrogates": (
                self.opts(3, lone_surrogates=True),
                ("\\ud800", "\\udfff", "\\udc00"),
            ),
            "non_finite": (self.opts(3, non_finite=True), ("NaN", "Infinity")),
        }
        for flag, (opts, needles) in cases.items():
            path = self.path(f"edge-{flag}.sqlite")
            record_traces("sqlite", path, _SELFTEST_SECRET, generate_traces(opts, 0, 30))
            verdict = verify_store("sqlite", path, _SELFTEST_SECRET)
            self.check(f"edge_{flag}_verifies", verdict.get("ok") is True, repr(verdict))
            text = "".join(canonical_json(encode_trace(t)) for t in generate_traces(opts, 0, 30))
            self.check(f"edge_{flag}_present", any(n in text for n in needles))

    def subprocess_checks(self) -> None:
        env = dict(os.environ)
        env[SECRET_ENV_VAR] = _SELFTEST_SECRET
        outputs: list[Any] = []
        for hash_seed in ("1", "2"):
            path = self.path(f"proc-{hash_seed}.sqlite")
            proc = subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "write",
                    "--backend",
                    "sqlite",
                    "--path",
                    path,
                    "--count",
                    "10",
                    "--seed",
                    "4",
                ],
                env={**env, "PYTHONHASHSEED": hash_seed},
                capture_output=True,
                text=True,
                check=False,
            )
            self.check(
                f"subprocess_write_exit_{hash_seed}", proc.returncode == 0, proc.stderr[-500:]
            )
            self.check(
                f"subprocess_write_stdout_{hash_seed}",
                json.loads(proc.stdout)
                == {
                    "written": 10,
                    "first_action_id": "act-4-000000",
                    "last_action_id": "act-4-000009",
                },
                proc.stdout,
            )
            self.check(
                f"subprocess_no_secret_{hash_seed}",
                _SELFTEST_SECRET not in proc.stdout + proc.stderr,
            )
            outputs.append(sqlite_rows(path))
        self.check("deterministic_across_processes", outputs[0] == outputs[1])
        in_process = self.path("proc-in.sqlite")
        record_traces("sqlite", in_process, _SELFTEST_SECRET, generate_traces(self.opts(4), 0, 10))
        self.check("subprocess_matches_in_process", sqlite_rows(in_process) == outputs[0])
        res = cli_verify("sqlite", self.path("proc-1.sqlite"), _SELFTEST_SECRET, env)
        self.check(
            "cli_verify_ok",
            res["exit_code"] == 0
            and res["result"]
            == {
                "ok": True,
                "records_checked": 10,
                "first_bad_seq": None,
                "detail": "Verified 10 record(s).",
            },
            repr(res),
        )
        res = cli_verify("sqlite", self.path("proc-1.sqlite"), _SELFTEST_SECRET + "x", env)
        self.check(
            "cli_verify_wrong_secret",
            res["exit_code"] == 1 and res["result"] is not None and res["result"]["ok"] is False,
            repr(res),
        )
        res = cli_verify("sqlite", self.path("tamper.sqlite"), _SELFTEST_SECRET, env)
        self.check(
            "cli_verify_corrupt",
            res["exit_code"] == 1
            and res["result"] is None
            and "Corrupted trace payload" in res["stderr"],
            repr(res),
        )
        proc = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "verify",
                "--backend",
                "sqlite",
                "--path",
                self.path("proc-1.sqlite"),
            ],
            env={k: v for k, v in env.items() if k != SECRET_ENV_VAR},
            capture_output=True,
            text=True,
            check=False,
        )
        self.check(
            "missing_secret_exit_2",
            proc.returncode == 2 and proc.stdout == "",
            repr(proc.returncode),
        )


def selftest() -> JsonObject:
    """Run every self-check; see the module docstring."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="weaver_tool_selftest_") as tmp:
        suite = _SelfTest(Path(tmp))
        suite.run_all()
    out: JsonObject = {"ok": not suite.failures, "checks": suite.passed}
    if suite.failures:
        out["failures"] = suite.failures
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out


# ── Command line ─────────────────────────────────────────────────────────────────────────


def parse_iso_aware(value: str) -> datetime.datetime:
    """Parse an ISO-8601 timestamp into an aware datetime in its own offset (naive is UTC)."""
    try:
        dt = datetime.datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 timestamp: {value!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.UTC)
    return dt


def parse_iso(value: str) -> datetime.datetime:
    """Parse an ISO-8601 timestamp into an aware UTC datetime (naive input is taken as UTC)."""
    return parse_iso_aware(value).astimezone(datetime.UTC)


def _prune_cutoff(value: str) -> datetime.datetime:
    # Passed to weaver-kernel as parsed: it normalises (and treats naive as UTC) itself.
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 timestamp: {value!r}") from exc


def _non_negative(value: str) -> int:
    try:
        n = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from exc
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands as documented in the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="weaver_tool.py",
        description="Drive weaver-kernel 0.12.0 audit stores; prints one JSON object.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    def store_args(
        p: argparse.ArgumentParser, backends: Sequence[str] = ("sqlite", "jsonl")
    ) -> None:
        if len(backends) == 1:
            p.add_argument("--backend", choices=list(backends), default=backends[0])
        else:
            p.add_argument("--backend", choices=list(backends), required=True)
        p.add_argument(
            "--path", required=True, help="store file (passed to weaver-kernel verbatim)"
        )

    def gen_args(p: argparse.ArgumentParser, content: str) -> None:
        p.add_argument("--count", type=_non_negative, required=True)
        p.add_argument("--seed", type=int, required=True)
        p.add_argument("--start-index", type=_non_negative, default=0)
        p.add_argument(
            "--start-time",
            type=parse_iso_aware,
            default=parse_iso(DEFAULT_START_TIME),
            help=f"invoked_at of index 0 (default {DEFAULT_START_TIME})",
        )
        p.add_argument(
            "--keep-offset",
            action="store_true",
            help="keep --start-time's UTC offset: invoked_at is then written in that offset, as "
            "weaver-kernel writes an ActionTrace built with another time zone",
        )
        p.add_argument("--content", choices=["tricky", "simple"], default=content)
        p.add_argument(
            "--lone-surrogates",
            action="store_true",
            help="tricky content: add unpaired surrogates (weaver accepts them)",
        )
        p.add_argument(
            "--non-finite",
            action="store_true",
            help="tricky content: add NaN/Infinity floats (weaver accepts them)",
        )
        p.add_argument(
            "--pad",
            type=_non_negative,
            default=0,
            help="simple content: add an args.note of this many characters (payload size)",
        )

    for name, help_text in (
        ("write", "record traces with store.record()"),
        ("append", "like write, but the store must already exist"),
    ):
        p = sub.add_parser(name, help=help_text)
        store_args(p)
        gen_args(p, "tricky")
    p = sub.add_parser(
        "bulk-write", help="benchmark loader: record()-identical rows, one transaction"
    )
    store_args(p, ("sqlite",))
    gen_args(p, "simple")
    p = sub.add_parser("verify", help="store.verify_chain()")
    store_args(p)
    p.add_argument("--timed", action="store_true", help="add the verify_chain() time in seconds")
    p = sub.add_parser("verify-many", help="verify for every store a file lists")
    p.add_argument("--backend", choices=["sqlite", "jsonl"], required=True)
    p.add_argument("--paths-from", required=True, help="file with one store path a line")
    p = sub.add_parser("cli-verify", help="weaver-kernel audit verify --json")
    store_args(p)
    p = sub.add_parser("list", help="store.list_all() in the export shape")
    store_args(p)
    p = sub.add_parser("prune", help="SQLiteTraceStore.prune(before)")
    p.add_argument("--path", required=True)
    p.add_argument("--before", type=_prune_cutoff, required=True, help="ISO-8601 cutoff")
    sub.add_parser("selftest", help="self-checks of this tool")
    return parser


def _secret() -> str:
    secret = os.environ.get(SECRET_ENV_VAR, "")
    if not secret:
        raise UsageError(f"{SECRET_ENV_VAR} is not set or empty")
    return secret


def _require_existing(path: str) -> None:
    if not Path(path).exists():
        raise UsageError(f"store {path!r} does not exist")


def _content_options(args: argparse.Namespace) -> ContentOptions:
    return ContentOptions(
        seed=args.seed,
        start_time=(
            args.start_time if args.keep_offset else args.start_time.astimezone(datetime.UTC)
        ),
        content=args.content,
        lone_surrogates=args.lone_surrogates,
        non_finite=args.non_finite,
        pad=args.pad,
    )


Handler: TypeAlias = Callable[[argparse.Namespace, str], JsonObject]


def _cmd_record(args: argparse.Namespace, secret: str) -> JsonObject:
    traces = generate_traces(_content_options(args), args.start_index, args.count)
    return record_traces(args.backend, args.path, secret, traces)


def _cmd_bulk_write(args: argparse.Namespace, secret: str) -> JsonObject:
    traces = generate_traces(_content_options(args), args.start_index, args.count)
    started = time.perf_counter()
    written = bulk_insert(args.path, secret, traces)
    return {"written": written, "seconds": time.perf_counter() - started}


def _cmd_verify(args: argparse.Namespace, secret: str) -> JsonObject:
    return verify_store(args.backend, args.path, secret, timed=args.timed)


def _cmd_verify_many(args: argparse.Namespace, secret: str) -> JsonObject:
    paths = Path(args.paths_from).read_text(encoding="utf-8").splitlines()
    for path in paths:
        _require_existing(path)
    return {"results": [verify_store(args.backend, path, secret) for path in paths]}


def _cmd_cli_verify(args: argparse.Namespace, secret: str) -> JsonObject:
    return cli_verify(args.backend, args.path, secret)


def _cmd_list(args: argparse.Namespace, secret: str) -> JsonObject:
    return list_store(args.backend, args.path, secret)


def _cmd_prune(args: argparse.Namespace, secret: str) -> JsonObject:
    return prune_store(args.path, secret, args.before)


# Subcommand -> (handler, whether the store must already exist). Every reader requires it:
# opening a missing path would silently create an empty store that "verifies".
_HANDLERS: dict[str, tuple[Handler, bool]] = {
    "write": (_cmd_record, False),
    "append": (_cmd_record, True),
    "bulk-write": (_cmd_bulk_write, False),
    "verify": (_cmd_verify, True),
    "verify-many": (_cmd_verify_many, False),
    "cli-verify": (_cmd_cli_verify, True),
    "list": (_cmd_list, True),
    "prune": (_cmd_prune, True),
}


def run(args: argparse.Namespace) -> JsonObject:
    """Execute one parsed subcommand and return the JSON object to print."""
    if args.command == "selftest":
        return selftest()
    handler, must_exist = _HANDLERS[args.command]
    secret = _secret()
    if must_exist:
        _require_existing(args.path)
    try:
        return handler(args, secret)
    except AgentKernelError as exc:  # weaver's own typed refusal: a result, not a crash
        print(f"weaver-kernel raised {type(exc).__name__}", file=sys.stderr)
        return error_object(exc, secret)
    except Exception as exc:  # noqa: BLE001 -- sqlite3/OS/codec failures are results too
        print(scrub(traceback.format_exc(), secret), file=sys.stderr)
        return error_object(exc, secret)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: print exactly one JSON object; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    real_stdout = sys.stdout
    try:
        # Anything weaver-kernel (or a warning) might print goes to stderr, not our stdout.
        with contextlib.redirect_stdout(sys.stderr):
            result = run(args)
    except UsageError as exc:
        parser.exit(2, f"{parser.prog} {args.command}: error: {exc}\n")
    try:
        text = json.dumps(result, ensure_ascii=True, allow_nan=False)
    except ValueError as exc:  # NaN/Infinity in a listed trace: keep stdout strict JSON
        text = json.dumps(
            {"error": type(exc).__name__, "message": f"output is not strict JSON: {exc}"}
        )
    real_stdout.write(text + "\n")
    real_stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
