"""trailseal: a tamper-evident audit log for AI-agent actions, with a Rust core.

Every record carries an HMAC-SHA256 over its content and the previous record's hash, so any
later edit, insertion, deletion or reordering is detected and the first bad record named.
The stores are weaver-kernel 0.12.0's (SQLite and JSONL, byte for byte) plus PostgreSQL.

- :func:`open` gives an :class:`AuditLog`: append, verify, prune, policy, anchor, export,
  and the transparency log: checkpoint, prove, consistency, tiles.
- :func:`verify`, :func:`verify_bundle`, :func:`verify_proof`, :func:`keygen`,
  :func:`keygen_secret`.
- :mod:`trailseal.weaver`: drop-in trace stores for weaver-kernel.
- :mod:`trailseal.errors`: the exceptions, all :class:`TrailsealError`.
"""

from __future__ import annotations

from . import errors
from ._log import AuditLog, keygen, keygen_secret, open, verify, verify_bundle, verify_proof
from ._native import __version__, canonical_json
from ._types import (
    Anchor,
    AnchorChecked,
    Appended,
    BundleReport,
    BundleVerdict,
    Caveat,
    Checkpoint,
    Proof,
    ProofVerdict,
    PruneReport,
    Record,
    RetentionStatus,
    TilesReport,
    Verdict,
)
from .errors import (
    AnchorError,
    BundleError,
    CorruptRecordError,
    DuplicateActionIdError,
    ForkError,
    InvalidTraceError,
    NotVerifiedError,
    PolicyError,
    SecretError,
    StoreError,
    TrailsealError,
    WitnessError,
)

__all__ = [
    "__version__",
    "open",
    "verify",
    "verify_bundle",
    "verify_proof",
    "keygen",
    "keygen_secret",
    "canonical_json",
    "AuditLog",
    "Anchor",
    "AnchorChecked",
    "Appended",
    "BundleReport",
    "BundleVerdict",
    "Caveat",
    "Checkpoint",
    "Proof",
    "ProofVerdict",
    "PruneReport",
    "Record",
    "RetentionStatus",
    "TilesReport",
    "Verdict",
    "errors",
    "TrailsealError",
    "StoreError",
    "CorruptRecordError",
    "DuplicateActionIdError",
    "InvalidTraceError",
    "SecretError",
    "PolicyError",
    "NotVerifiedError",
    "AnchorError",
    "ForkError",
    "WitnessError",
    "BundleError",
]
