"""Type stubs of the native module (Rust, PyO3). Use the `trailseal` package's API instead."""

from typing import final

__all__ = [
    "__version__",
    "MAX_PROOF_FILE_BYTES",
    "MAX_TRACE_BYTES",
    "Log",
    "canonical_json",
    "cli_main",
    "keygen",
    "keygen_secret",
    "redact_location",
    "verify_bundle",
    "verify_proof",
]

__version__: str
MAX_PROOF_FILE_BYTES: int
MAX_TRACE_BYTES: int

@final
class Log:
    def __new__(
        cls,
        location: str,
        secret: bytes | None = None,
        *,
        format: str | None = None,
        create: bool = True,
        read_only: bool = False,
        threads: int | None = None,
        max_group: int | None = None,
        secrets: list[tuple[str, bytes]] | None = None,
        active_key: str | None = None,
    ) -> Log: ...
    @property
    def location(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def append(self, trace: bytes) -> tuple[int, str]: ...
    def append_many(self, traces: list[bytes]) -> list[tuple[int, str]]: ...
    def verify(
        self,
        anchors: list[tuple[str, str]] = ...,
        public_key: str | None = None,
        checkpoints: list[tuple[str, str]] = ...,
        witness_keys: list[str] = ...,
        quorum: int = 1,
        seals: str | None = None,
        seal_public_key: str | None = None,
        now: str | None = None,
        seal_grace_micros: int = ...,
        key_transitions: str | None = None,
    ) -> str: ...
    def seal_init(
        self, seal_dir: str, seal_key: str, origin: str, epoch_records: int, epoch_seconds: int
    ) -> str: ...
    def seal(self, seal_dir: str, seal_key: str, *, force: bool = False) -> str: ...
    def records(self, from_seq: int = 0) -> list[tuple[int, str, str, str]]: ...
    def check_records(self) -> int: ...
    def find(self, action_id: str) -> tuple[int, str, str, str] | None: ...
    def head(self) -> tuple[int, str] | None: ...
    def prune(
        self,
        *,
        before: str | None = None,
        older_than_micros: int | None = None,
        keep_last: int | None = None,
        dry_run: bool = False,
        archive: str | None = None,
    ) -> str: ...
    def rotate(self, to: str, *, archive: str | None = None) -> str: ...
    def retention(self) -> tuple[str, bool, int | None]: ...
    def set_min_retention(self, min_retention_micros: int | None, *, allow_decrease: bool = False) -> str: ...
    def anchor(
        self,
        signing_key: str,
        *,
        origin: str | None = None,
        out: str | None = None,
        also_signing_keys: list[str] = ...,
    ) -> tuple[str, int, str, str, bool | None]: ...
    def export_jsonl(self, path: str) -> int: ...
    def export_bundle(
        self,
        path: str,
        signing_key: str,
        *,
        origin: str | None = None,
        from_seq: int | None = None,
        to_seq: int | None = None,
        since: str | None = None,
        until: str | None = None,
        principal: str | None = None,
        capability: str | None = None,
        redact: list[str] = ...,
        withheld_reasons: bool = False,
        checkpoint: str | None = None,
    ) -> tuple[int, int, int, int, int]: ...
    def checkpoint(
        self,
        signing_key: str,
        *,
        origin: str | None = None,
        out: str | None = None,
        witnesses: list[str] = ...,
        quorum: int | None = None,
        witness_state: str | None = None,
        witness_timeout_micros: int | None = None,
        also_signing_keys: list[str] = ...,
    ) -> tuple[
        str,
        int,
        str,
        int,
        str,
        str | None,
        int | None,
        tuple[int, int] | None,
        list[str],
        int | None,
    ]: ...
    def prove(
        self,
        seq: int,
        checkpoint: str,
        *,
        public_key: str | None = None,
        signing_key: str | None = None,
        out: str | None = None,
        with_trace: bool = False,
    ) -> tuple[str, int, int, str, int, bool, bool | None]: ...
    def consistency(self, old: int, new: int | None = None) -> tuple[int, list[str]]: ...
    def tiles(
        self, signing_key: str, out_dir: str, *, origin: str | None = None, sync_tree: bool = False
    ) -> tuple[str, int, str, int | None, int, int, int, int, tuple[int, int] | None, bool]: ...
    def group_stats(self) -> tuple[int, int]: ...
    def close(self) -> None: ...

def verify_bundle(
    path: str,
    public_key: str,
    secret: bytes | None = None,
    *,
    witness_keys: list[str] = ...,
    quorum: int | None = None,
    max_record_bytes: int = ...,
) -> str: ...
def verify_proof(
    proof: bytes,
    public_key: str,
    *,
    trace: bytes | None = None,
    witness_keys: list[str] = ...,
    quorum: int = 1,
) -> str: ...
def keygen(
    out: str,
    name: str,
    rotate_from: str | None = None,
    effective: str | None = None,
    overlap_micros: int = ...,
) -> str: ...
def keygen_secret(out: str) -> None: ...
def cli_main(argv: list[str]) -> int: ...
def canonical_json(text: bytes) -> str: ...
def redact_location(location: str) -> str: ...
