"""``trailseal.open`` and :class:`AuditLog`: the log from Python, backed by the Rust core."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Union

from . import _native
from ._types import (
    Anchor,
    Appended,
    BundleReport,
    BundleVerdict,
    Checkpoint,
    Proof,
    ProofVerdict,
    PruneReport,
    Record,
    RetentionStatus,
    TilesReport,
    Verdict,
)
from .errors import AnchorError, InvalidTraceError, SecretError

__all__ = [
    "AuditLog",
    "open",
    "verify",
    "verify_bundle",
    "verify_proof",
    "keygen",
    "keygen_secret",
]

SECRET_ENV = "WEAVER_KERNEL_SECRET"

PathLike = Union[str, "os.PathLike[str]"]
Secret = Union[str, bytes]
TraceLike = Union[Mapping[str, Any], str, bytes, Any]
#: A witness: ``"URL=VKEY"`` (as ``trailseal checkpoint --witness`` takes it) or ``(url, vkey)``.
WitnessLike = Union[str, "tuple[str, str]"]

_UNSET: Any = object()


def _secret_bytes(secret: Secret | None, secret_file: PathLike | None) -> bytes | None:
    """The secret given, else the file's contents less one line end, else the environment."""
    if secret is not None and secret_file is not None:
        raise InvalidTraceError("give secret or secret_file, not both")
    if secret is not None:
        if isinstance(secret, str):
            return secret.encode("utf-8")
        if isinstance(secret, (bytes, bytearray, memoryview)):
            return bytes(secret)
        raise InvalidTraceError("secret: expected str or bytes")
    if secret_file is not None:
        try:
            raw = Path(secret_file).read_bytes()
        except OSError as exc:
            raise SecretError(f"{os.fspath(secret_file)}: cannot read the secret file: {exc.strerror}") from None
        if raw.endswith(b"\r\n"):
            raw = raw[:-2]
        elif raw.endswith(b"\n"):
            raw = raw[:-1]
        return raw
    env = os.environb.get(SECRET_ENV.encode()) if hasattr(os, "environb") else None
    if env is None:
        value = os.environ.get(SECRET_ENV)
        env = value.encode("utf-8") if value is not None else None
    if env is not None and not env:
        raise SecretError(f"{SECRET_ENV} is set but empty")
    return env


def _time_text(name: str, value: datetime.datetime | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).isoformat()
    raise InvalidTraceError(f"{name}: expected a datetime or an RFC 3339 text")


def _micros(name: str, value: datetime.timedelta) -> int:
    if not isinstance(value, datetime.timedelta):
        raise InvalidTraceError(f"{name}: expected a timedelta")
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


def trace_json(trace: TraceLike) -> bytes:
    """The export-shape JSON of a trace: a mapping, a JSON text, or a weaver-kernel
    ``ActionTrace`` (encoded with weaver-kernel's own codec)."""
    if isinstance(trace, bytes):
        return trace
    if isinstance(trace, str):
        return trace.encode("utf-8")
    if isinstance(trace, Mapping):
        return json.dumps(dict(trace)).encode("utf-8")
    if hasattr(trace, "action_id") and hasattr(trace, "invoked_at"):
        from weaver_kernel.stores._trace_codec import encode_trace

        return json.dumps(encode_trace(trace)).encode("utf-8")
    raise InvalidTraceError(
        f"expected a trace mapping, a JSON text or an ActionTrace, not {type(trace).__name__}"
    )


def _record(t: tuple[int, str, str, str]) -> Record:
    return Record(seq=t[0], prev_hash=t[1], record_hash=t[2], trace=json.loads(t[3]))


def _anchor_notes(
    anchors: Iterable[PathLike], anchor_dir: PathLike | None
) -> list[tuple[str, str]]:
    """``(source, text)`` of each anchor file, those of ``anchor_dir`` in size order (the
    names :meth:`AuditLog.anchor` and ``trailseal anchor --dir`` give)."""
    paths = [Path(a) for a in anchors]
    if anchor_dir is not None:
        found = []
        try:
            entries = list(Path(anchor_dir).iterdir())
        except OSError as exc:
            raise AnchorError(
                f"{os.fspath(anchor_dir)}: cannot read the anchor folder: {exc.strerror}"
            ) from None
        for entry in entries:
            name = entry.name
            if name.startswith("anchor-") and name.endswith(".note"):
                digits = name[len("anchor-") : -len(".note")]
                if len(digits) >= 12 and digits.isascii() and digits.isdigit():
                    found.append((int(digits), entry))
        paths.extend(p for _, p in sorted(found))
    return _read_notes(paths, "anchor")


def _read_notes(paths: Iterable[PathLike], what: str) -> list[tuple[str, str]]:
    """``(source, text)`` of each signed note file (anchors, checkpoints)."""
    notes = []
    for path in map(Path, paths):
        try:
            notes.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise AnchorError(f"{path}: cannot read the {what}: {reason}") from None
    return notes


def _witness_text(position: int, witness: WitnessLike) -> str:
    """``URL=VKEY`` of a witness; the message never shows the value (it holds a key)."""
    if isinstance(witness, str):
        return witness
    if (
        isinstance(witness, (tuple, list))
        and len(witness) == 2
        and all(isinstance(part, str) for part in witness)
    ):
        return f"{witness[0]}={witness[1]}"
    raise InvalidTraceError(f'witness #{position}: expected "URL=VKEY" or a (url, vkey) pair')


def _read_limited(path: PathLike, limit: int, what: str) -> bytes:
    """At most ``limit + 1`` bytes of a file (so that a larger one is seen as larger)."""
    try:
        with Path(path).open("rb") as f:
            return f.read(limit + 1)
    except OSError as exc:
        raise AnchorError(f"{os.fspath(path)}: cannot read the {what}: {exc.strerror}") from None


def _checkpoint_note(checkpoint: Checkpoint | PathLike) -> str:
    if isinstance(checkpoint, Checkpoint):
        return checkpoint.note
    return _read_notes([checkpoint], "checkpoint")[0][1]


class AuditLog:
    """An open audit log: a store (SQLite, JSONL, PostgreSQL or memory) and its chain secret.

    Safe to share between threads: concurrent :meth:`append` calls share commits (group
    commit), and every call that waits for the disk or the database releases the GIL. Many
    processes may append to one store at once; the chain never forks. Opened with
    :func:`trailseal.open`. Always true in a boolean context.
    """

    __slots__ = ("_log",)

    def __init__(self, log: _native.Log) -> None:
        self._log = log

    # ── what it is ────────────────────────────────────────────────────────────

    @property
    def location(self) -> str:
        """The store's location (a database URL without its password)."""
        return self._log.location

    @property
    def format(self) -> str:
        """``sqlite``, ``jsonl``, ``postgres`` or ``memory``."""
        return self._log.format

    @property
    def closed(self) -> bool:
        return self._log.closed

    def __repr__(self) -> str:
        return f"<trailseal.AuditLog {self.location!r} ({self.format}{', closed' if self.closed else ''})>"

    def __bool__(self) -> bool:
        return True

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the store. Idempotent."""
        self._log.close()

    # ── writing ───────────────────────────────────────────────────────────────

    def append(self, trace: TraceLike) -> Appended:
        """Appends one trace; returns once it is durable. Raises (and writes nothing) if it
        cannot be appended."""
        seq, record_hash = self._log.append(trace_json(trace))
        return Appended(seq, record_hash)

    def append_many(self, traces: Iterable[TraceLike]) -> list[Appended]:
        """Appends traces in one transaction: all of them or none."""
        done = self._log.append_many([trace_json(t) for t in traces])
        return [Appended(seq, h) for seq, h in done]

    # ── reading ───────────────────────────────────────────────────────────────

    @property
    def head(self) -> tuple[int, str] | None:
        """``(seq, record_hash)`` of the newest record, or ``None``."""
        return self._log.head()

    def records(self, from_seq: int = 0) -> list[Record]:
        """The records from ``from_seq`` on, in chain order. Raises
        :class:`~trailseal.errors.CorruptRecordError` naming the first that cannot be read.
        Records are read, not verified: call :meth:`verify` for that."""
        return [_record(t) for t in self._log.records(from_seq)]

    def find(self, action_id: str) -> Record | None:
        """The record with this ``action_id`` (read, not verified)."""
        found = self._log.find(action_id)
        return None if found is None else _record(found)

    # ── verifying ─────────────────────────────────────────────────────────────

    def verify(
        self,
        *,
        anchors: Iterable[PathLike] = (),
        anchor_dir: PathLike | None = None,
        public_key: PathLike | None = None,
        checkpoints: Iterable[PathLike] = (),
        witness_keys: Iterable[str] = (),
        quorum: int = 1,
        seals: PathLike | None = None,
        seal_public_key: PathLike | None = None,
        now: datetime.datetime | str | None = None,
        seal_grace: datetime.timedelta = datetime.timedelta(minutes=5),
        key_transitions: PathLike | None = None,
    ) -> Verdict:
        """Verifies the whole chain on all cores, against signed anchors and tree checkpoint
        files when given (with the public key file), each checkpoint with cosignatures by
        ``quorum`` of ``witness_keys`` (witness vkeys) when given; with ``seals`` (a seal
        directory) and ``seal_public_key`` (its root public key file), against the
        forward-secure seals too, an open epoch overdue at ``now`` (default: the clock) plus
        ``seal_grace`` being tampering. With ``key_transitions`` (a folder of the
        ``.transition`` notes :func:`keygen` writes), the signing-key history is walked from
        ``public_key`` and each anchor must be signed by a key valid at its time (else the
        verdict is unverifiable). Never raises for what it finds: the verdict says it."""
        notes = _anchor_notes(anchors, anchor_dir)
        cps = _read_notes(checkpoints, "checkpoint")
        if (notes or cps) and public_key is None:
            raise InvalidTraceError("anchors and checkpoints need public_key")
        vkeys = list(witness_keys)
        if vkeys and not cps:
            raise InvalidTraceError("witness_keys need checkpoints")
        key = None if public_key is None else os.fspath(public_key)
        if (seals is None) != (seal_public_key is None):
            raise InvalidTraceError("seals and seal_public_key go together")
        if key_transitions is not None and public_key is None:
            raise InvalidTraceError("key_transitions need public_key")
        return Verdict._from_json(
            self._log.verify(
                notes,
                key,
                cps,
                vkeys,
                quorum,
                seals=None if seals is None else os.fspath(seals),
                seal_public_key=None if seal_public_key is None else os.fspath(seal_public_key),
                now=None if now is None else _time_text("now", now),
                seal_grace_micros=_micros("seal_grace", seal_grace),
                key_transitions=None if key_transitions is None else os.fspath(key_transitions),
            )
        )

    # ── forward-secure seals ──────────────────────────────────────────────────

    def seal_init(
        self,
        seal_dir: PathLike,
        seal_key: PathLike,
        *,
        origin: str | None = None,
        epoch_records: int = 10_000,
        epoch_time: datetime.timedelta = datetime.timedelta(hours=1),
    ) -> str:
        """Starts forward-secure sealing (``trailseal seal --init``): epoch 0's key, its
        certificate in ``seal_dir``, the state in ``seal_key``. Returns the root public key, to
        keep where the writer's host cannot change it."""
        seconds = int(epoch_time.total_seconds())
        name = origin if origin is not None else f"trailseal.local/{Path(self.location).name}/seal"
        return str(
            self._log.seal_init(os.fspath(seal_dir), os.fspath(seal_key), name, epoch_records, seconds)
        )

    def seal(self, seal_dir: PathLike, seal_key: PathLike, *, force: bool = False) -> dict[str, Any]:
        """Closes the open seal epoch when it is due (its records or its time reached), or
        with ``force``: seals the verified tree and head, certifies the next epoch's new key and
        erases the previous one. Returns ``trailseal seal --json``'s report."""
        report: dict[str, Any] = json.loads(
            self._log.seal(os.fspath(seal_dir), os.fspath(seal_key), force=force)
        )
        return report

    # ── retention ─────────────────────────────────────────────────────────────

    def prune(
        self,
        *,
        before: datetime.datetime | str | None = None,
        older_than: datetime.timedelta | None = None,
        keep_last: int | None = None,
        dry_run: bool = False,
        archive: PathLike | None = None,
    ) -> PruneReport:
        """Removes the longest prefix of records the cutoff selects (exactly one of ``before``,
        ``older_than``, ``keep_last``), after verifying the chain, and writes an authenticated
        receipt; ``archive`` first writes the removed records to a JSONL file that verifies on
        its own. The store's minimum retention is enforced."""
        text = self._log.prune(
            before=None if before is None else _time_text("before", before),
            older_than_micros=None if older_than is None else _micros("older_than", older_than),
            keep_last=keep_last,
            dry_run=dry_run,
            archive=None if archive is None else os.fspath(archive),
        )
        return PruneReport._from_json(text)

    def rotate(self, to: str, *, archive: PathLike | None = None) -> dict[str, Any]:
        """Moves the store to the key labelled ``to`` of the keyring it was opened with
        (``secrets=``) with an authenticated ``rotate`` receipt MAC'd by both keys.

        Without ``archive`` the rotation is in place: the records stay under the old key and
        the chain continues under the new one (verifying all of it takes both secrets). With
        ``archive`` it is a new segment: the records under the old key go to ``archive`` first
        (a ``.db`` archive is a SQLite file weaver-kernel verifies with the old secret). Returns
        the report as ``trailseal rotate --json`` prints it (``"mode"``: ``"in-place"`` or
        ``"segment"``)."""
        text = self._log.rotate(to, archive=None if archive is None else os.fspath(archive))
        report: dict[str, Any] = json.loads(text)
        return report

    def retention(self) -> RetentionStatus:
        """The retention log (receipts of prunes and policy changes)."""
        receipts, verified, micros = self._log.retention()
        return RetentionStatus(
            receipts=tuple(json.loads(receipts)),
            verified=verified,
            min_retention=None if micros is None else datetime.timedelta(microseconds=micros),
        )

    def policy(
        self,
        min_retention: datetime.timedelta | None = _UNSET,
        *,
        allow_decrease: bool = False,
    ) -> datetime.timedelta | None:
        """The minimum retention in force; given ``min_retention`` (``None`` removes it), sets
        it first with an authenticated policy receipt. Lowering it needs ``allow_decrease``."""
        if min_retention is not _UNSET:
            micros = None if min_retention is None else _micros("min_retention", min_retention)
            self._log.set_min_retention(micros, allow_decrease=allow_decrease)
        return self.retention().min_retention

    # ── the transparency log ──────────────────────────────────────────────────

    def checkpoint(
        self,
        signing_key: PathLike,
        *,
        origin: str | None = None,
        out: PathLike | None = None,
        witnesses: Iterable[WitnessLike] = (),
        quorum: int | None = None,
        witness_state: PathLike | None = None,
        witness_timeout: datetime.timedelta | None = None,
        also_signing_keys: Iterable[PathLike] = (),
    ) -> Checkpoint:
        """Verifies the store (one snapshot), then signs a C2SP checkpoint of its Merkle tree
        with the signing key file, as ``trailseal checkpoint`` does: the tree is brought up
        first when the store can be written; a tree that does not cover every record gives a
        checkpoint of what it holds (``not_in_tree`` says what it leaves out).

        ``witnesses`` (``"URL=VKEY"`` or ``(url, vkey)``) are asked to cosign it; ``quorum``
        of them (default 1) must, or :class:`~trailseal.errors.WitnessError` is raised; what
        each cosigned is kept in ``witness_state`` (default: ``<store>.witness-state`` beside
        a file store). With ``out`` the checkpoint is written there atomically: a new file,
        or over a checkpoint of this log that it extends (checked with a consistency proof);
        a checkpoint there the tree does not extend raises :class:`~trailseal.errors.ForkError`
        and is left in place as evidence. ``also_signing_keys`` sign it too (a signing-key
        transition's overlap; not together with witnesses)."""
        urls = [_witness_text(i, w) for i, w in enumerate(witnesses, 1)]
        timeout = None if witness_timeout is None else _micros("witness_timeout", witness_timeout)
        (origin_, size, root, base, note, written, replaced, uncovered, reports, count) = (
            self._log.checkpoint(
                os.fspath(signing_key),
                origin=origin,
                out=None if out is None else os.fspath(out),
                witnesses=urls,
                quorum=quorum,
                witness_state=None if witness_state is None else os.fspath(witness_state),
                witness_timeout_micros=timeout,
                also_signing_keys=[os.fspath(k) for k in also_signing_keys],
            )
        )
        return Checkpoint(
            origin=origin_,
            size=size,
            root=root,
            first_seq=base,
            last_seq=base + size - 1,
            note=note,
            path=None if out is None else os.fspath(out),
            written=written,
            replaced_size=replaced,
            not_in_tree=uncovered,
            witnesses=tuple(reports),
            cosignatures=count,
        )

    def prove(
        self,
        seq: int,
        checkpoint: Checkpoint | PathLike,
        *,
        public_key: PathLike | None = None,
        signing_key: PathLike | None = None,
        out: PathLike | None = None,
        with_trace: bool = False,
    ) -> Proof:
        """A ``c2sp.org/tlog-proof@v1`` file proving that record ``seq`` is in the tree the
        checkpoint (a file, or a :class:`Checkpoint`) describes, for exactly its size, as
        ``trailseal prove`` makes it: the checkpoint must open with the log's key (the public
        key file, or the signing key's) and be of this store's tree (else
        :class:`~trailseal.errors.ForkError`). ``with_trace`` also discloses the record's
        trace and salt (whoever holds the file can check the trace). With ``out`` it is
        written there (mode 0644, 0600 with the trace; never over a different file)."""
        if (public_key is None) == (signing_key is None):
            raise InvalidTraceError("prove: give exactly one of public_key and signing_key")
        text, seq_, index, origin, size, traced, created = self._log.prove(
            seq,
            _checkpoint_note(checkpoint),
            public_key=None if public_key is None else os.fspath(public_key),
            signing_key=None if signing_key is None else os.fspath(signing_key),
            out=None if out is None else os.fspath(out),
            with_trace=with_trace,
        )
        return Proof(
            text=text,
            seq=seq_,
            index=index,
            origin=origin,
            size=size,
            with_trace=traced,
            path=None if out is None else os.fspath(out),
            created=created,
        )

    def consistency(self, old: int, new: int | None = None) -> list[str]:
        """The RFC 6962 consistency proof from the tree of ``old`` leaves to the tree of
        ``new`` (default: the store's tree size), base64 hashes in order (``trailseal
        consistency`` prints them one a line); empty when the sizes are equal. Sizes are leaf
        counts: ``0 < old <= new <=`` the tree's size."""
        return self._log.consistency(old, new)[1]

    def tiles(
        self,
        signing_key: PathLike,
        out_dir: PathLike,
        *,
        origin: str | None = None,
        sync_tree: bool = False,
    ) -> TilesReport:
        """Publishes the Merkle tree as C2SP tlog-tiles into ``out_dir`` (created if missing),
        as ``trailseal tiles`` does: one verified snapshot, only what is new since the
        directory's checkpoint written, the checkpoint last. ``sync_tree`` first brings the
        records not in the tree yet into it (the store must be writable)."""
        target = os.fspath(out_dir)
        report = self._log.tiles(
            os.fspath(signing_key), target, origin=origin, sync_tree=sync_tree
        )
        return TilesReport(target, *report)

    # ── anchors and exports ───────────────────────────────────────────────────

    def anchor(
        self,
        signing_key: PathLike,
        *,
        out: PathLike | None = None,
        origin: str | None = None,
        also_signing_keys: Iterable[PathLike] = (),
    ) -> Anchor:
        """Verifies the chain, then signs an anchor of its head with the signing key file
        (from :func:`keygen`). With ``out`` it is written there, write-once.
        ``also_signing_keys`` sign it too: during a signing-key transition's overlap the old
        key and the new one both sign."""
        origin_, size, head_hash, note, created = self._log.anchor(
            os.fspath(signing_key),
            origin=origin,
            out=None if out is None else os.fspath(out),
            also_signing_keys=[os.fspath(k) for k in also_signing_keys],
        )
        return Anchor(
            origin=origin_,
            size=size,
            head_hash=head_hash,
            note=note,
            path=None if out is None else os.fspath(out),
            created=created,
        )

    def export(
        self,
        path: PathLike,
        *,
        bundle: bool = False,
        signing_key: PathLike | None = None,
        origin: str | None = None,
        from_seq: int | None = None,
        to_seq: int | None = None,
        since: datetime.datetime | str | None = None,
        until: datetime.datetime | str | None = None,
        principal: str | None = None,
        capability: str | None = None,
        redact: Iterable[str] = (),
        withheld_reasons: bool = False,
        checkpoint: PathLike | Checkpoint | None = None,
    ) -> int | BundleReport:
        """Writes the chain as a JSONL store that verifies on its own with the secret
        (returns the record count), or with ``bundle=True`` a signed bundle an auditor checks
        with the public key alone (returns a :class:`BundleReport`). Written atomically.

        ``checkpoint`` (a :class:`Checkpoint` or a checkpoint file, as :meth:`checkpoint`
        wrote it, witnesses' cosignatures included): the bundle embeds it instead of signing a
        new one, so that ``verify_bundle(witness_keys=...)`` can count its cosignatures. It
        must be of this store's tree (a fork or rollback raises); records after its size are
        disclosed without a proof."""
        target = os.fspath(path)
        if not bundle:
            if checkpoint is not None:
                raise InvalidTraceError("checkpoint is for a bundle (bundle=True)")
            return self._log.export_jsonl(target)
        if signing_key is None:
            raise InvalidTraceError("a bundle needs signing_key")
        note = None if checkpoint is None else _checkpoint_note(checkpoint)
        report = self._log.export_bundle(
            target,
            os.fspath(signing_key),
            origin=origin,
            from_seq=from_seq,
            to_seq=to_seq,
            since=None if since is None else _time_text("since", since),
            until=None if until is None else _time_text("until", until),
            principal=principal,
            capability=capability,
            redact=list(redact),
            withheld_reasons=withheld_reasons,
            checkpoint=note,
        )
        return BundleReport(target, *report)

    def group_stats(self) -> tuple[int, int]:
        """``(commits, traces)`` appended through this handle: how well appends were grouped."""
        return self._log.group_stats()


def open(  # noqa: A001 - the package's entry point, as in `trailseal.open(...)`
    store: PathLike,
    secret: Secret | None = None,
    *,
    secret_file: PathLike | None = None,
    format: str | None = None,  # noqa: A002
    create: bool = True,
    read_only: bool = False,
    threads: int | None = None,
    max_group: int | None = None,
    secrets: Mapping[str, Secret] | None = None,
    active_key: str | None = None,
) -> AuditLog:
    """Opens the audit log at ``store``: a path (``.db``/``.sqlite``/``.sqlite3`` SQLite,
    ``.jsonl`` JSONL; or name the ``format``), a ``postgres://`` URL, or ``":memory:"``.

    The chain secret is ``secret``, else the contents of ``secret_file``, else
    ``WEAVER_KERNEL_SECRET``; without one the log can be read but not appended to, and
    verification is ``unverifiable``. ``secrets`` (``{label: secret}``, instead of ``secret``)
    gives a keyring, for a store rotated from one secret to another (:meth:`AuditLog.rotate`);
    ``active_key`` names the label that writes. ``threads`` sets verification threads
    (default: all cores); ``max_group`` the most traces one group commit holds.
    """
    if secrets is not None:
        if secret is not None or secret_file is not None:
            raise InvalidTraceError("give secrets, or secret / secret_file, not both")
        ring = []
        for label, value in secrets.items():
            if not isinstance(value, (str, bytes, bytearray, memoryview)):
                raise InvalidTraceError(f"secrets[{label!r}]: expected str or bytes")
            ring.append((str(label), _secret_bytes(value, None) or b""))
        key = None
    else:
        ring = None
        key = _secret_bytes(secret, secret_file)
    return AuditLog(
        _native.Log(
            os.fspath(store),
            key,
            format=format,
            create=create,
            read_only=read_only,
            threads=threads,
            max_group=max_group,
            secrets=ring,
            active_key=active_key,
        )
    )


def verify(
    store: PathLike,
    secret: Secret | None = None,
    *,
    secret_file: PathLike | None = None,
    format: str | None = None,  # noqa: A002
    anchors: Iterable[PathLike] = (),
    anchor_dir: PathLike | None = None,
    public_key: PathLike | None = None,
    checkpoints: Iterable[PathLike] = (),
    witness_keys: Iterable[str] = (),
    quorum: int = 1,
    seals: PathLike | None = None,
    seal_public_key: PathLike | None = None,
    now: datetime.datetime | str | None = None,
    seal_grace: datetime.timedelta = datetime.timedelta(minutes=5),
    key_transitions: PathLike | None = None,
) -> Verdict:
    """Opens ``store`` read-only and verifies it (see :meth:`AuditLog.verify`)."""
    with open(
        store, secret, secret_file=secret_file, format=format, read_only=True
    ) as log:
        return log.verify(
            anchors=anchors,
            anchor_dir=anchor_dir,
            public_key=public_key,
            checkpoints=checkpoints,
            witness_keys=witness_keys,
            quorum=quorum,
            seals=seals,
            seal_public_key=seal_public_key,
            now=now,
            seal_grace=seal_grace,
            key_transitions=key_transitions,
        )


def verify_bundle(
    path: PathLike,
    public_key: PathLike,
    secret: Secret | None = None,
    *,
    secret_file: PathLike | None = None,
    witness_keys: Iterable[str] = (),
    quorum: int | None = None,
) -> BundleVerdict:
    """Verifies a signed bundle with the public key file alone; with the chain secret, also
    every disclosed record's MAC; with ``witness_keys`` (witness vkeys), that the tree
    checkpoint the bundle embeds carries cosignatures by ``quorum`` (default 1) of them, else
    the verdict is unverifiable (``witness quorum not met``)."""
    key = None if secret is None and secret_file is None else _secret_bytes(secret, secret_file)
    return BundleVerdict._from_json(
        _native.verify_bundle(
            os.fspath(path),
            os.fspath(public_key),
            key,
            witness_keys=list(witness_keys),
            quorum=quorum,
        )
    )


def verify_proof(
    proof: Proof | PathLike | bytes,
    public_key: PathLike,
    *,
    trace: PathLike | Mapping[str, Any] | bytes | None = None,
    witness_keys: Iterable[str] = (),
    quorum: int = 1,
) -> ProofVerdict:
    """Checks a proof file (a path, its bytes, or a :class:`Proof`) offline with the log's
    public key file alone (no secret, no store), as ``trailseal verify-proof`` does;
    ``trace`` (a JSON file, its bytes, or a mapping) is checked against the proven leaf with
    the salt the file carries; ``witness_keys`` (vkeys): ``quorum`` of them must have
    cosigned the checkpoint. Never raises for what it finds: the verdict says it."""
    if isinstance(proof, Proof):
        data = proof.text.encode("utf-8")
    elif isinstance(proof, (bytes, bytearray, memoryview)):
        data = bytes(proof)
    else:
        data = _read_limited(proof, _native.MAX_PROOF_FILE_BYTES, "proof")
    trace_bytes = None
    if trace is not None:
        if isinstance(trace, Mapping):
            trace_bytes = json.dumps(dict(trace)).encode("utf-8")
        elif isinstance(trace, (bytes, bytearray, memoryview)):
            trace_bytes = bytes(trace)
        else:
            trace_bytes = _read_limited(trace, _native.MAX_TRACE_BYTES, "trace")
        if len(trace_bytes) > _native.MAX_TRACE_BYTES:
            raise InvalidTraceError(
                f"trace: larger than {_native.MAX_TRACE_BYTES} bytes: not a trace"
            )
    return ProofVerdict._from_json(
        _native.verify_proof(
            data,
            os.fspath(public_key),
            trace=trace_bytes,
            witness_keys=list(witness_keys),
            quorum=quorum,
        )
    )


def keygen(
    out: PathLike,
    name: str | None = None,
    *,
    rotate_from: PathLike | None = None,
    effective: datetime.datetime | str | None = None,
    overlap: datetime.timedelta = datetime.timedelta(days=7),
) -> str:
    """Writes a new Ed25519 signing key to ``out`` (mode 0600) and its public key to
    ``out.pub``, neither of which may exist; returns the public key text. ``name`` is the
    key's name in signatures (default: the file name).

    With ``rotate_from`` (the old signing key file) the new key is its successor, as
    ``trailseal keygen --rotate-from`` makes it: ``out.transition`` gets a transition note
    signed by both keys, the new key valid from ``effective`` (default now) and the old one
    for ``overlap`` longer. Publish the note in a folder verifiers pass as
    ``key_transitions``."""
    path = os.fspath(out)
    if rotate_from is None and effective is not None:
        raise InvalidTraceError("effective needs rotate_from")
    return _native.keygen(
        path,
        name if name is not None else Path(path).name,
        None if rotate_from is None else os.fspath(rotate_from),
        None if effective is None else _time_text("effective", effective),
        _micros("overlap", overlap),
    )


def keygen_secret(out: PathLike) -> None:
    """Writes a new chain secret (32 random bytes, base64url) to ``out`` (mode 0600), which
    must not exist. The secret is never returned or shown."""
    _native.keygen_secret(os.fspath(out))
