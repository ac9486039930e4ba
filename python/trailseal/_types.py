"""The values trailseal returns: verdicts, records, reports. All immutable."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = [
    "Appended",
    "Record",
    "Caveat",
    "AnchorChecked",
    "Verdict",
    "BundleVerdict",
    "PruneReport",
    "RetentionStatus",
    "Anchor",
    "BundleReport",
    "Checkpoint",
    "Proof",
    "ProofVerdict",
    "TilesReport",
]


@dataclass(frozen=True)
class Appended:
    """A record that was appended and is durable."""

    seq: int
    record_hash: str


@dataclass(frozen=True)
class Record:
    """A stored record. ``trace`` is parsed from the canonical JSON text its MAC covers."""

    seq: int
    prev_hash: str
    record_hash: str
    trace: dict[str, Any]


@dataclass(frozen=True)
class Caveat:
    """Something a verified verdict did not cover, with a stable ``code`` programs can match
    (``no-anchor``, ``no-key-id``, …) and the variant's numeric fields."""

    code: str
    message: str
    fields: Mapping[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class AnchorChecked:
    """A signed anchor the verification checked: the seq it pinned and how (``record``,
    ``receipt`` or ``checkpoint``)."""

    source: str
    seq: int
    by: str


@dataclass(frozen=True)
class Verdict:
    """The outcome of verification: ``status`` is ``"verified"``, ``"tampered"`` or
    ``"unverifiable"``. Only ``verified`` is true in a boolean context.

    ``kind`` (tampered) is ``content``, ``link``, ``sequence``, ``malformed``, ``metadata``,
    ``checkpoint``, ``truncated``, ``schema``, ``tree``, ``fork`` or ``seal``; ``reason``
    (unverifiable) is ``no secret``, ``wrong secret``, ``unreadable store``, ``unknown store``,
    ``wrong public key``, ``anchor not checked`` or ``witness quorum not met``.
    """

    status: str
    records_checked: int
    detail: str
    first_seq: int | None = None
    last_seq: int | None = None
    first_bad_seq: int | None = None
    kind: str | None = None
    reason: str | None = None
    caveats: tuple[Caveat, ...] = ()
    retention: tuple[Mapping[str, Any], ...] = ()
    anchors: tuple[AnchorChecked, ...] = ()

    @property
    def verified(self) -> bool:
        """Whether every record was checked and held."""
        return self.status == "verified"

    def __bool__(self) -> bool:
        return self.verified

    @classmethod
    def _from_json(cls, text: str) -> Verdict:
        return cls(**_verdict_members(json.loads(text)))


_CAVEAT_KEYS = ("code", "message")


def _verdict_members(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": doc["status"],
        "records_checked": doc["records_checked"],
        "detail": doc["detail"],
        "first_seq": doc.get("first_seq"),
        "last_seq": doc.get("last_seq"),
        "first_bad_seq": doc.get("first_bad_seq"),
        "kind": doc.get("kind"),
        "reason": doc.get("reason"),
        "caveats": tuple(
            Caveat(
                code=c["code"],
                message=c["message"],
                fields={k: v for k, v in c.items() if k not in _CAVEAT_KEYS},
            )
            for c in doc.get("caveats", ())
        ),
        "retention": tuple(doc.get("retention", ())),
        "anchors": tuple(
            AnchorChecked(source=a["source"], seq=a["seq"], by=a["by"])
            for a in doc.get("anchors", ())
        ),
    }


@dataclass(frozen=True)
class BundleVerdict(Verdict):
    """A bundle's verdict: the verdict, what was checked (``level``) and what the bundle
    holds."""

    level: str = ""
    origin: str | None = None
    entries: int = 0
    disclosed: int = 0
    withheld: int = 0

    @classmethod
    def _from_json(cls, text: str) -> BundleVerdict:
        doc = json.loads(text)
        return cls(
            **_verdict_members(doc),
            level=doc["level"],
            origin=doc.get("origin"),
            entries=doc["entries"],
            disclosed=doc["disclosed"],
            withheld=doc["withheld"],
        )


@dataclass(frozen=True)
class PruneReport:
    """What a prune did (or, ``dry_run``, would do). ``receipt`` is the authenticated retention
    receipt written."""

    dry_run: bool
    pruned: int
    first_retained_seq: int
    records_checked: int
    from_seq: int | None = None
    last_seq: int | None = None
    receipt: Mapping[str, Any] | None = None
    archive: str | None = None

    @classmethod
    def _from_json(cls, text: str) -> PruneReport:
        doc = json.loads(text)
        return cls(
            dry_run=doc["dry_run"],
            pruned=doc["pruned"],
            first_retained_seq=doc["first_retained_seq"],
            records_checked=doc["records_checked"],
            from_seq=doc.get("from_seq"),
            last_seq=doc.get("last_seq"),
            receipt=doc.get("receipt"),
            archive=doc.get("archive"),
        )


@dataclass(frozen=True)
class RetentionStatus:
    """The retention log: its receipts (checked when ``verified``) and the minimum retention
    in force."""

    receipts: tuple[Mapping[str, Any], ...]
    verified: bool
    min_retention: datetime.timedelta | None


@dataclass(frozen=True)
class Anchor:
    """A signed anchor of the chain's head (a C2SP signed note in ``note``). ``path`` and
    ``created`` are set when it was written to a file (``created`` is false when that file
    already held this anchor)."""

    origin: str
    size: int
    head_hash: str
    note: str
    path: str | None = None
    created: bool | None = None


@dataclass(frozen=True)
class BundleReport:
    """What a bundle export wrote."""

    path: str
    from_seq: int
    to_seq: int
    entries: int
    disclosed: int
    withheld: int


@dataclass(frozen=True)
class Checkpoint:
    """A signed C2SP checkpoint of the store's Merkle tree (the note in ``note``, with the
    witnesses' cosignatures when they were asked): its ``size`` leaves are the records
    ``first_seq`` to ``last_seq``. ``path`` and ``written`` (``created``, ``unchanged``,
    ``rewritten``, ``replaced``: then ``replaced_size`` is the size it extends) are set when
    it was written to a file. ``not_in_tree`` is ``(count, first seq)`` of records of the
    verified store the tree does not cover (the checkpoint does not vouch for them).
    ``witnesses`` has one report per witness asked; ``cosignatures`` how many cosigned."""

    origin: str
    size: int
    root: str
    first_seq: int
    last_seq: int
    note: str
    path: str | None = None
    written: str | None = None
    replaced_size: int | None = None
    not_in_tree: tuple[int, int] | None = None
    witnesses: tuple[str, ...] = ()
    cosignatures: int | None = None

    def __str__(self) -> str:
        return self.note


@dataclass(frozen=True)
class Proof:
    """A ``c2sp.org/tlog-proof@v1`` file (its text in ``text``) proving that record ``seq``
    (leaf ``index``) is in the tree of ``size`` leaves a checkpoint of ``origin`` describes;
    ``with_trace``: it discloses the trace and its salt. ``path`` and ``created`` are set when
    it was written to a file (``created`` is false when that file already held it)."""

    text: str
    seq: int
    index: int
    origin: str
    size: int
    with_trace: bool
    path: str | None = None
    created: bool | None = None

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ProofVerdict:
    """A proof file's verdict, as ``trailseal verify-proof --json`` prints it: ``status`` is
    ``"verified"``, ``"tampered"`` (``kind``: ``malformed``, ``proof`` or ``trace``) or
    ``"unverifiable"`` (``reason``). Verified, it names what was proven. Only ``verified`` is
    true in a boolean context."""

    status: str
    detail: str
    kind: str | None = None
    reason: str | None = None
    origin: str | None = None
    size: int | None = None
    root: str | None = None
    index: int | None = None
    seq: int | None = None
    trace_checked: bool = False
    cosignatures: int | None = None

    @property
    def verified(self) -> bool:
        return self.status == "verified"

    def __bool__(self) -> bool:
        return self.verified

    @classmethod
    def _from_json(cls, text: str) -> ProofVerdict:
        doc = json.loads(text)
        return cls(
            status=doc["status"],
            detail=doc["detail"],
            kind=doc.get("kind"),
            reason=doc.get("reason"),
            origin=doc.get("origin"),
            size=doc.get("size"),
            root=doc.get("root"),
            index=doc.get("index"),
            seq=doc.get("seq"),
            trace_checked=doc.get("trace_checked", False),
            cosignatures=doc.get("cosignatures"),
        )


@dataclass(frozen=True)
class TilesReport:
    """What publishing the tree as C2SP tlog-tiles into ``path`` did: the checkpoint's origin,
    size and root, the size the directory held before (``previous``), how many hash tiles and
    entry bundles were written and how many were ``kept`` (already there), entry bundles not
    written because their records were pruned, the records not in the tree yet
    (``uncovered``: ``(count, first seq)``), and whether the checkpoint was (re)written
    (``False``: the directory was up to date)."""

    path: str
    origin: str
    size: int
    root: str
    previous: int | None
    hash_tiles: int
    entry_bundles: int
    kept: int
    pruned_bundles: int
    uncovered: tuple[int, int] | None
    checkpoint_written: bool
