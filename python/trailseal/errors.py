"""The exceptions trailseal raises.

Every error is a :class:`TrailsealError`. Messages start with what they concern (a store, a
seq, a file) and never contain a secret or a key. Where an error concerns one record, ``seq``
names it; a record that cannot be read also has ``problem`` (what is wrong, without the
location) and, where the store can tell, ``position`` (``"line 40"`` in a JSONL store).
"""

from __future__ import annotations

__all__ = [
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


class TrailsealError(Exception):
    """The base of every trailseal error."""

    seq: int | None
    action_id: str | None
    position: str | None
    problem: str | None

    def __init__(
        self,
        message: str,
        *,
        seq: int | None = None,
        action_id: str | None = None,
        position: str | None = None,
        problem: str | None = None,
    ) -> None:
        super().__init__(message)
        self.seq = seq
        self.action_id = action_id
        self.position = position
        self.problem = problem


class StoreError(TrailsealError):
    """The store cannot be opened, read or written (I/O, a lock, not a store, its schema)."""


class CorruptRecordError(StoreError):
    """A stored record cannot be read (not JSON, not an object, a damaged line)."""


class DuplicateActionIdError(StoreError):
    """An appended trace repeats an ``action_id`` the store already holds; nothing was written."""


class InvalidTraceError(TrailsealError, ValueError):
    """A trace, a time or an argument given is invalid; nothing was written."""


class SecretError(TrailsealError):
    """No secret, a secret too weak for a new store, or not the secret the store was written with."""


class PolicyError(TrailsealError):
    """The store's minimum-retention policy forbids the change; nothing was changed."""


class NotVerifiedError(TrailsealError):
    """An operation that needs a verified chain (prune, anchor, export) found one that does not verify."""


class AnchorError(TrailsealError):
    """A signing or public key cannot be used, or an anchor conflicts with the store or a file."""


class ForkError(AnchorError):
    """A signed checkpoint (a file, a tile directory's, a witness's) that the store's tree does
    not extend: the store was rolled back or forked (a split view). Nothing was written; keep
    the checkpoint as evidence and verify the store."""


class WitnessError(AnchorError):
    """Witnesses could not be asked, or fewer than the quorum cosigned the checkpoint (a file
    given as ``out`` then holds the checkpoint with the cosignatures obtained, if any)."""


class BundleError(TrailsealError):
    """A bundle cannot be made or read."""
