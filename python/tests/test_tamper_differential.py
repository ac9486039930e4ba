"""Random single-field tampers, judged by trailseal's drop-in and by weaver-kernel 0.12.0.

Each case writes a fresh store of :data:`RECORDS` traces with trailseal's drop-in, changes one
field of one record (with ``sqlite3``, or by rewriting the JSONL line as ``json.dumps`` of the
parsed, edited line), then asks both ``verify_chain()``\\ s. Every change is a real change of a
value (never only of its spelling; :func:`test_respelling_alone_is_no_tamper` shows that the
rewriting itself verifies in both). Asserted for every case:

- both detect it: ``ok`` is False, or ``AgentKernelError`` is raised;
- both name the same record: the same ``first_bad_seq``, and both give a result or both raise
  (a raised error's record: the seq weaver-kernel's message names, or for JSONL its line; for
  trailseal, the ``first_bad_seq`` of its full verdict, ``trailseal.verify``);
- trailseal is never ``ok`` where weaver-kernel is not.

Where weaver-kernel reports ``ok`` and trailseal does not, the tamper must belong to one of the
classes in :data:`TRAILSEAL_ONLY` (fields weaver-kernel does not read or reads loosely); where
both detect it but name it differently, to :data:`NAMED_DIFFERENTLY`. Each of those classes also
has its own test below. Two bugs of the native JSONL reader this file found (a `kid` that is not
a string read as no kid; a compact line with a member after `trace` refused) have their tests
at the end.
"""

from __future__ import annotations

import datetime
import json
import random
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
import weaver_kernel.stores as upstream
from weaver_kernel.errors import AgentKernelError
from weaver_kernel.models import ActionTrace
from weaver_kernel.stores.audit_chain import canonical_json

import trailseal
from trailseal.weaver import JsonlTraceStore, SQLiteTraceStore

SEED = 1234
CASES = 100
RECORDS = 8

#: Tamper classes weaver-kernel 0.12.0 does not detect and trailseal does, and why.
TRAILSEAL_ONLY = {
    "column:action_id": "SQLite `action_id` column: weaver-kernel's verify_chain reads only seq, "
    "prev_hash, record_hash and payload; `get`/`audit show` look records up by this column",
    "column:invoked_at": "SQLite `invoked_at` column: not read by weaver-kernel's verify_chain; "
    "its `prune` deletes by this column",
    "kid": "JSONL `kid` (trailseal's key id, not covered by the MAC): weaver-kernel ignores it",
    "seq:type": "JSONL `seq` spelled as another JSON type with the same int() value "
    '("3", 3.0, true for 1, false for 0): weaver-kernel reads it with int()',
    # Not in the random mix (it changes a storage class, not a value); it has its own test.
    "column:payload-blob": "SQLite `payload` stored as a BLOB of the same bytes: weaver-kernel's "
    "json.loads accepts bytes; trailseal reads only TEXT (docs/format.md §5, storage classes)",
}

#: Tamper classes both detect but name at different seqs, and why.
NAMED_DIFFERENTLY = {
    "seq:negative": "a negative `seq`: weaver-kernel names the negative seq it read (a broken link "
    "or content); trailseal's seqs are unsigned, so it reports the record `malformed` at the seq "
    "expected there, and its drop-in's verify_chain() raises AgentKernelError for that",
}


# ── Stores ────────────────────────────────────────────────────────────────────


def _traces(rng: random.Random) -> list[ActionTrace]:
    base = datetime.datetime(2026, 3, 1, 9, 30, tzinfo=datetime.timezone.utc)
    out = []
    for i in range(RECORDS):
        event = rng.choice(["invoke", "invoke", "expand", "deny"])
        failed = event == "deny" or rng.random() < 0.3
        out.append(
            ActionTrace(
                action_id=f"act-{rng.getrandbits(48):012x}-{i}",
                capability_id=rng.choice(["billing.list_invoices", "crm.get_contact", "fs.read"]),
                principal_id=rng.choice(["user-1", "svc-analytics", "zoë"]),
                token_id="" if event != "invoke" else f"tok-{rng.getrandbits(32):08x}",
                invoked_at=base + datetime.timedelta(
                    seconds=i, microseconds=rng.choice([0, rng.randrange(1, 10**6)])),
                args={
                    "operation": "list",
                    "limit": rng.randrange(1, 500),
                    "filter": {"status": rng.choice(["paid", "open"]), "min": rng.randrange(-9, 9)},
                    "tags": [rng.choice(["a", "b", "ü"]), rng.randrange(100)],
                },
                response_mode=rng.choice(["summary", "table", "handle_only", "raw"]),
                driver_id="" if event == "deny" else "memory",
                handle_id=f"h-{i}" if event == "expand" else None,
                error="denied: missing role" if event == "deny" else ("boom" if failed else None),
                result_summary=None if failed else {
                    "fact_count": rng.randrange(10), "row_count": rng.randrange(100),
                    "warning_count": 0, "has_handle": rng.random() < 0.5,
                },
                event_type=event,  # type: ignore[arg-type]
                reason_code="missing_role" if event == "deny" else None,
            )
        )
    return out


@dataclass(frozen=True)
class Format:
    name: str
    file: str
    ours: Callable[..., Any]
    theirs: Callable[..., Any]


SQLITE = Format("sqlite", "audit.db", SQLiteTraceStore, upstream.SQLiteTraceStore)
JSONL = Format("jsonl", "audit.jsonl", JsonlTraceStore, upstream.JsonlTraceStore)


def _write(fmt: Format, path: Path, secret: str, traces: list[ActionTrace]) -> None:
    store = fmt.ours(path, secret=secret)
    try:
        for trace in traces:
            store.record(trace)
    finally:
        store.close()


@dataclass(frozen=True)
class Outcome:
    ok: bool
    seq: int | None  # first_bad_seq, or the record a raised error names
    raised: str | None
    kind: str | None = None  # trailseal's verdict kind

    @property
    def detected(self) -> bool:
        return not self.ok


#: weaver-kernel's "Corrupted trace payload at seq N in PATH" (SQLite) and "Corrupted trace
#: record at PATH:LINE:" (JSONL; the stores here have one record per line, so line N is the
#: record at position N - 1).
_SEQ_IN_MESSAGE = re.compile(r"^Corrupted trace payload at seq (-?\d+) in ")
_LINE_IN_MESSAGE = re.compile(r"^Corrupted trace record at .*?:(\d+): ")


def _raised_at(message: str) -> int | None:
    if found := _SEQ_IN_MESSAGE.match(message):
        return int(found.group(1))
    if found := _LINE_IN_MESSAGE.match(message):
        return int(found.group(1)) - 1
    return None


def _judge(open_store: Callable[[], Any]) -> Outcome:
    store = None
    try:
        store = open_store()
        result = store.verify_chain()
        return Outcome(ok=result.ok, seq=result.first_bad_seq, raised=None)
    except AgentKernelError as exc:
        return Outcome(ok=False, seq=_raised_at(str(exc)), raised=str(exc))
    finally:
        if store is not None and hasattr(store, "close"):
            store.close()


def _ours(fmt: Format, path: Path, secret: str) -> Outcome:
    """The drop-in's verify_chain(); a raised error's record from trailseal's full verdict."""
    dropin = _judge(lambda: fmt.ours(path, secret=secret))
    verdict = trailseal.verify(path, secret, format=fmt.name)
    if dropin.raised is None:
        assert (dropin.ok, dropin.seq) == (verdict.verified, verdict.first_bad_seq), (
            f"the drop-in and trailseal.verify disagree: {dropin} / {verdict}")
    seq = verdict.first_bad_seq if dropin.raised is not None else dropin.seq
    return Outcome(ok=dropin.ok, seq=seq, raised=dropin.raised, kind=verdict.kind)


def _both(fmt: Format, path: Path, secret: str) -> tuple[Outcome, Outcome]:
    return _ours(fmt, path, secret), _judge(lambda: fmt.theirs(path, secret=secret))


# ── Mutations (every one changes the value) ──────────────────────────────────


def _new_string(rng: random.Random, old: str) -> str:
    choices: list[Callable[[], str]] = [
        lambda: old + rng.choice(["x", " ", "é", "\u2028", "😀"]),
        lambda: "tampered",
        lambda: old.upper() if old.upper() != old else old + "X",
    ]
    if old:
        choices.append(lambda: old[:-1])
        i = rng.randrange(len(old))
        choices.append(lambda: old[:i] + chr((ord(old[i]) + 1) % 0x10000 or 1) + old[i + 1:])
    new = rng.choice(choices)()
    return new if new != old else old + "!"


def _new_int(rng: random.Random, old: int) -> Any:
    return rng.choice([old + 1, old - 1, -old - 1, old + 2**64, old * 1000 + 7])


def _new_time(rng: random.Random, old: str) -> str:
    when = datetime.datetime.fromisoformat(old)
    new = rng.choice([
        (when + datetime.timedelta(seconds=rng.choice([-3600, -1, 1, 86400]))).isoformat(),
        (when + datetime.timedelta(microseconds=1)).isoformat(),
        when.astimezone(datetime.timezone(datetime.timedelta(hours=2))).isoformat(),  # same instant
        old.replace("+00:00", "Z"),  # same instant, another spelling of the value
        "2026-13-01T00:00:00+00:00",  # not a date
    ])
    return new if new != old else old[:-6] + "+00:01"


def _new_args(rng: random.Random, old: dict[str, Any]) -> dict[str, Any]:
    new = dict(old)
    action = rng.choice(["add", "drop", "nest", "empty"])
    if action == "add" or (action == "drop" and not old):
        new["injected"] = rng.choice([1, "x", None, [1, 2], {"k": "v"}])
    elif action == "drop":
        del new[rng.choice(sorted(old))]
    elif action == "nest":
        new["filter"] = {"nested": old.get("filter")}
    else:
        new = {}
    return new if new != old else {"replaced": True}


def _new_hash(rng: random.Random, old: str, others: list[str]) -> str:
    i = rng.randrange(len(old))
    flipped = "0123456789abcdef"[("0123456789abcdef".index(old[i]) + 1) % 16]
    pool = [o for o in others if o != old]
    new = rng.choice([
        old[:i] + flipped + old[i + 1:],
        old.upper() if any(c.isalpha() for c in old) else old[:-1] + "A",
        "0" * 64,
        old[:-1],
        old + "0",
        "",
        rng.choice(pool) if pool else "f" * 64,
    ])
    return new if new != old else old[:-1] + ("1" if old[-1] != "1" else "2")


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every string and int (not bool) inside *value*, with its path."""
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, i))]
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [(path, value)]
    return []


def _set(root: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        root = root[step]
    root[path[-1]] = value


@dataclass(frozen=True)
class Tamper:
    index: int  # the record's position (= its seq before the change)
    cls: str  # the tamper class (a key of TRAILSEAL_ONLY for the trailseal-only ones)
    what: str  # for messages: the field and the change

    def __str__(self) -> str:
        return f"record {self.index}: {self.cls}: {self.what}"


def _tamper_trace(rng: random.Random, trace: dict[str, Any]) -> str:
    """Change one value inside *trace* in place; return the tamper's class."""
    field = rng.choice(["leaf", "leaf", "leaf", "args", "invoked_at"])
    if field == "args":
        trace["args"] = _new_args(rng, trace["args"])
        return "trace:args"
    if field == "invoked_at":
        trace["invoked_at"] = _new_time(rng, trace["invoked_at"])
        return "trace:invoked_at"
    path, old = rng.choice([leaf for leaf in _leaves(trace) if leaf[0] != ("invoked_at",)])
    new = _new_string(rng, old) if isinstance(old, str) else _new_int(rng, old)
    _set(trace, path, new)
    return "trace:" + ".".join(str(p) for p in path) + (":str" if isinstance(old, str) else ":int")


def _tamper_sqlite(rng: random.Random, path: Path) -> Tamper:
    con = sqlite3.connect(path)
    try:
        rows = con.execute(
            "SELECT seq, action_id, prev_hash, record_hash, invoked_at, payload FROM traces "
            "ORDER BY seq").fetchall()
        index = rng.randrange(len(rows))
        seq, action_id, prev_hash, record_hash, invoked_at, payload = rows[index]
        hashes = [r[2] for r in rows] + [r[3] for r in rows]
        field = rng.choice(["trace"] * 6 + ["prev_hash", "record_hash", "seq",
                                             "column:action_id", "column:invoked_at"])
        if field == "trace":
            trace = json.loads(payload)
            cls = _tamper_trace(rng, trace)
            # Either spelling weaver-kernel and trailseal write.
            text = canonical_json(trace) if rng.random() < 0.5 else json.dumps(trace)
            con.execute("UPDATE traces SET payload = ? WHERE seq = ?", (text, seq))
            what = f"payload = {text[:80]}…"
        elif field in ("prev_hash", "record_hash"):
            old = prev_hash if field == "prev_hash" else record_hash
            new = _new_hash(rng, old, hashes)
            con.execute(f"UPDATE traces SET {field} = ? WHERE seq = ?", (new, seq))  # noqa: S608
            cls, what = field, f"{old!r} → {new!r}"
        elif field == "seq":
            taken = {r[0] for r in rows}
            new = rng.choice([s for s in (-1, -seq - 1, RECORDS, RECORDS + 5, 2**40, seq + 100)
                              if s not in taken])
            con.execute("UPDATE traces SET seq = ? WHERE seq = ?", (new, seq))
            cls, what = "seq:negative" if new < 0 else "seq", f"{seq} → {new}"
        elif field == "column:action_id":
            new = _new_string(rng, action_id)
            con.execute("UPDATE traces SET action_id = ? WHERE seq = ?", (new, seq))
            cls, what = field, f"{action_id!r} → {new!r}"
        else:
            new = _new_time(rng, invoked_at)
            con.execute("UPDATE traces SET invoked_at = ? WHERE seq = ?", (new, seq))
            cls, what = field, f"{invoked_at!r} → {new!r}"
        con.commit()
    finally:
        con.close()
    return Tamper(index, cls, what)


def _tamper_jsonl(rng: random.Random, path: Path) -> Tamper:
    lines = path.read_text(encoding="utf-8").splitlines()
    index = rng.randrange(len(lines))
    line = json.loads(lines[index])
    hashes = [json.loads(x)[k] for x in lines for k in ("prev_hash", "record_hash")]
    field = rng.choice(["trace"] * 6 + ["prev_hash", "record_hash", "seq", "seq", "kid"])
    if field == "trace":
        cls, what = _tamper_trace(rng, line["trace"]), ""
    elif field in ("prev_hash", "record_hash"):
        old = line[field]
        line[field] = _new_hash(rng, old, hashes)
        cls, what = field, f"{old!r} → {line[field]!r}"
    elif field == "seq":
        old = line["seq"]
        typed: list[Any] = [str(old), float(old)] + ([bool(old)] if old in (0, 1) else [])
        if rng.random() < 0.3:
            line["seq"] = rng.choice(typed)
            cls = "seq:type"
        else:
            line["seq"] = rng.choice([s for s in (old - 1, old + 1, old + 2, -1, 0, 2**40, old * 2)
                                      if s != old])
            cls = "seq:negative" if line["seq"] < 0 else "seq"
        what = f"{old!r} → {line['seq']!r}"
    else:
        old = line["kid"]
        # Strings only: a kid of another JSON type is not detected (a bug, see
        # test_jsonl_kid_of_another_type_is_refused).
        line["kid"] = rng.choice([_new_hash(rng, old, []), old.upper(), "", "0123456789abcdef"])
        cls, what = "kid", f"{old!r} → {line['kid']!r}"
    lines[index] = json.dumps(line)
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return Tamper(index, cls, what or lines[index][:100] + "…")


# ── The differential ──────────────────────────────────────────────────────────


@dataclass
class Tally:
    cases: int = 0
    agreed: int = 0
    stricter: int = 0
    named_differently: int = 0


def _check(tamper: Tamper, ours: Outcome, theirs: Outcome, tally: Tally) -> str | None:
    """Count the case; return what is wrong with it, if anything."""
    tally.cases += 1
    where = f"{tamper}\n    trailseal: {ours}\n    weaver-kernel: {theirs}"
    if not ours.detected:
        return f"trailseal missed a tamper: {where}"
    if not theirs.detected:
        if tamper.cls not in TRAILSEAL_ONLY:
            return f"undocumented trailseal-only detection: {where}"
        tally.stricter += 1
        return None
    if tamper.cls in TRAILSEAL_ONLY:
        return f"weaver-kernel detects a class documented as trailseal-only: {where}"
    if tamper.cls in NAMED_DIFFERENTLY:
        tally.named_differently += 1
        return None
    if ours.seq != theirs.seq:
        return f"they name different records: {where}"
    if (ours.raised is None) != (theirs.raised is None):
        return f"one raises, the other returns a result: {where}"
    tally.agreed += 1
    return None


@pytest.mark.parametrize(("fmt", "tamper_with"), [(SQLITE, _tamper_sqlite), (JSONL, _tamper_jsonl)],
                         ids=["sqlite", "jsonl"])
def test_random_single_field_tampers_are_named_at_the_same_seq(
    fmt: Format, tamper_with: Callable[[random.Random, Path], Tamper], tmp_path: Path,
    secret: str, capsys: pytest.CaptureFixture[str],
) -> None:
    rng = random.Random(f"{SEED}-{fmt.name}")
    tally = Tally()
    classes: dict[str, int] = {}
    problems: list[str] = []
    for case in range(CASES):
        path = tmp_path / f"{case:03d}-{fmt.file}"
        _write(fmt, path, secret, _traces(rng))
        tamper = tamper_with(rng, path)
        classes[tamper.cls.split(":")[0]] = classes.get(tamper.cls.split(":")[0], 0) + 1
        ours, theirs = _both(fmt, path, secret)
        problem = _check(tamper, ours, theirs, tally)
        if problem is not None:
            problems.append(f"case {case}: {problem}")
    assert not problems, f"{len(problems)} of {CASES} cases:\n" + "\n".join(problems)
    assert tally.cases == CASES
    assert tally.agreed + tally.stricter + tally.named_differently == CASES
    # The mix reaches every field class, and both outcomes occur.
    assert set(classes) >= {"trace", "prev_hash", "record_hash", "seq"}, classes
    assert tally.agreed > CASES // 2 and tally.stricter > 0, tally
    with capsys.disabled():
        print(f"\n{fmt.name}: {tally.cases} cases, {tally.agreed} agreed, "
              f"{tally.stricter} trailseal-stricter, {tally.named_differently} named differently "
              f"(negative seq); fields {dict(sorted(classes.items()))}")


@pytest.mark.parametrize("fmt", [SQLITE, JSONL], ids=["sqlite", "jsonl"])
def test_respelling_alone_is_no_tamper(fmt: Format, tmp_path: Path, secret: str) -> None:
    """The rewriting the differential does (weaver-kernel's json.dumps spelling) changes no
    value, so both still verify: what they detect there is the changed value."""
    path = tmp_path / fmt.file
    _write(fmt, path, secret, _traces(random.Random(SEED)))
    if fmt is SQLITE:
        con = sqlite3.connect(path)
        try:
            for seq, payload in con.execute("SELECT seq, payload FROM traces").fetchall():
                con.execute("UPDATE traces SET payload = ? WHERE seq = ?",
                            (json.dumps(json.loads(payload), indent=1), seq))
            con.commit()
        finally:
            con.close()
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("".join(json.dumps(json.loads(x)) + "\n" for x in lines), encoding="utf-8")
    ours, theirs = _both(fmt, path, secret)
    assert ours == theirs == Outcome(ok=True, seq=None, raised=None)


# ── The trailseal-only classes, one by one ────────────────────────────────────


def _sqlite_store(tmp_path: Path, secret: str) -> Path:
    path = tmp_path / SQLITE.file
    _write(SQLITE, path, secret, _traces(random.Random(SEED)))
    return path


def _sqlite_update(path: Path, sql: str, *params: Any) -> None:
    con = sqlite3.connect(path)
    try:
        assert con.execute(sql, params).rowcount == 1
        con.commit()
    finally:
        con.close()


def test_sqlite_action_id_column_is_checked_by_trailseal_only(tmp_path: Path, secret: str) -> None:
    path = _sqlite_store(tmp_path, secret)
    _sqlite_update(path, "UPDATE traces SET action_id = 'someone-else' WHERE seq = 3")
    ours, theirs = _both(SQLITE, path, secret)
    assert theirs == Outcome(ok=True, seq=None, raised=None)  # weaver-kernel: the column is unread
    assert (ours.ok, ours.seq, ours.raised) == (False, 3, None)
    verdict = SQLiteTraceStore(path, secret=secret).verify()
    assert (verdict.status, verdict.kind, verdict.first_bad_seq) == ("tampered", "content", 3)


def test_sqlite_invoked_at_column_is_checked_by_trailseal_only(
    tmp_path: Path, secret: str
) -> None:
    path = _sqlite_store(tmp_path, secret)
    # Moving a record's column far into the past would make weaver-kernel's prune delete it
    # out of order; trailseal names the record.
    _sqlite_update(path, "UPDATE traces SET invoked_at = '2000-01-01T00:00:00+00:00' WHERE seq = 5")
    ours, theirs = _both(SQLITE, path, secret)
    assert theirs == Outcome(ok=True, seq=None, raised=None)
    assert (ours.ok, ours.seq, ours.raised) == (False, 5, None)


def _jsonl_store(tmp_path: Path, secret: str) -> tuple[Path, list[dict[str, Any]]]:
    path = tmp_path / JSONL.file
    _write(JSONL, path, secret, _traces(random.Random(SEED)))
    return path, [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def _jsonl_rewrite(path: Path, lines: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")


@pytest.mark.parametrize("index", [0, 4])
def test_jsonl_kid_is_checked_by_trailseal_only(tmp_path: Path, secret: str, index: int) -> None:
    path, lines = _jsonl_store(tmp_path, secret)
    lines[index]["kid"] = "0123456789abcdef"
    _jsonl_rewrite(path, lines)
    ours, theirs = _both(JSONL, path, secret)
    assert theirs == Outcome(ok=True, seq=None, raised=None)  # weaver-kernel ignores `kid`
    assert ours.detected and ours.raised is not None, ours  # the drop-in refuses to open it
    # The first line's kid is the store's claim; its MAC holds with this secret, so the claim
    # was altered (metadata). A later line that names another key is malformed.
    assert (ours.seq, ours.kind) == (index, "metadata" if index == 0 else "malformed"), ours


@pytest.mark.parametrize("kid", [7, None, True, [], {}], ids=["int", "null", "bool", "list", "obj"])
def test_jsonl_kid_of_another_type_is_refused(tmp_path: Path, secret: str, kid: Any) -> None:
    path, lines = _jsonl_store(tmp_path, secret)
    lines[2]["kid"] = kid
    _jsonl_rewrite(path, lines)
    ours, _ = _both(JSONL, path, secret)
    assert ours.detected and (ours.seq, ours.kind) == (2, "malformed"), ours


@pytest.mark.parametrize("spelling", ["str", "float", "bool"])
def test_jsonl_seq_of_another_type_is_refused_by_trailseal_only(
    tmp_path: Path, secret: str, spelling: str
) -> None:
    path, lines = _jsonl_store(tmp_path, secret)
    lines[1]["seq"] = {"str": "1", "float": 1.0, "bool": True}[spelling]
    _jsonl_rewrite(path, lines)
    ours, theirs = _both(JSONL, path, secret)
    assert theirs == Outcome(ok=True, seq=None, raised=None)  # int("1") == int(1.0) == int(True)
    assert ours.detected and (ours.seq, ours.kind) == (1, "malformed"), ours


def test_sqlite_payload_stored_as_a_blob_is_refused_by_trailseal_only(
    tmp_path: Path, secret: str
) -> None:
    path = _sqlite_store(tmp_path, secret)
    con = sqlite3.connect(path)
    try:
        (payload,) = con.execute("SELECT payload FROM traces WHERE seq = 2").fetchone()
    finally:
        con.close()
    _sqlite_update(path, "UPDATE traces SET payload = ? WHERE seq = 2", payload.encode("utf-8"))
    ours, theirs = _both(SQLITE, path, secret)
    assert theirs == Outcome(ok=True, seq=None, raised=None)
    assert ours.raised is not None and (ours.seq, ours.kind) == (2, "malformed"), ours
    assert "BLOB" in ours.raised


@pytest.mark.parametrize(("member", "moved"),
                         [("kid", True), ("zzz", False), ("kid", False), ("seq", False)],
                         ids=["kid-moved", "extra-member", "kid-repeated", "seq-repeated"])
def test_a_compact_line_with_a_member_after_the_trace_verifies_as_its_spaced_spelling(
    tmp_path: Path, secret: str, member: str, moved: bool
) -> None:
    path = tmp_path / JSONL.file
    _write(JSONL, path, secret, _traces(random.Random(SEED)))
    lines = path.read_text(encoding="utf-8").splitlines()
    line = json.loads(lines[3])
    value = canonical_json(line.get(member, 1))
    head = {k: v for k, v in line.items() if not (moved and k == member)}
    compact = json.dumps(head, separators=(",", ":"))  # trailseal's member order: trace last
    assert compact.endswith("}}")
    lines[3] = compact[:-1] + f',"{member}":{value}}}'
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    ours, theirs = _both(JSONL, path, secret)
    assert theirs == Outcome(ok=True, seq=None, raised=None)  # json.loads: the last one wins
    # json.dumps spacing of the same object: the general reader, which verifies it.
    spaced = path.with_name("spaced.jsonl")
    lines[3] = json.dumps(json.loads(lines[3]))
    spaced.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    assert _ours(JSONL, spaced, secret) == Outcome(ok=True, seq=None, raised=None)
    assert ours == Outcome(ok=True, seq=None, raised=None), ours


# ── The class both detect but name differently ────────────────────────────────


@pytest.mark.parametrize(("index", "new"), [(0, -1), (3, -5)])
def test_sqlite_negative_seq_is_named_at_the_seq_expected_there(
    tmp_path: Path, secret: str, index: int, new: int
) -> None:
    path = _sqlite_store(tmp_path, secret)
    _sqlite_update(path, "UPDATE traces SET seq = ? WHERE seq = ?", new, index)
    ours, theirs = _both(SQLITE, path, secret)
    # weaver-kernel starts from the lowest seq it reads: content (record 0 moved) or link.
    assert (theirs.ok, theirs.seq, theirs.raised) == (False, new, None), theirs
    # The row sorts first, where seq 0 is expected.
    assert ours.raised is not None and (ours.seq, ours.kind) == (0, "malformed"), ours
    assert f"row with seq {new}" in ours.raised


def test_jsonl_negative_seq_is_named_at_the_seq_expected_there(tmp_path: Path, secret: str) -> None:
    path, lines = _jsonl_store(tmp_path, secret)
    lines[4]["seq"] = -1
    _jsonl_rewrite(path, lines)
    ours, theirs = _both(JSONL, path, secret)
    assert (theirs.ok, theirs.seq, theirs.raised) == (False, -1, None), theirs
    assert ours.raised is not None and (ours.seq, ours.kind) == (4, "malformed"), ours
