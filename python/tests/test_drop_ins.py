"""trailseal.weaver's drop-in stores: behaviour beyond weaver-kernel's own store tests."""

from __future__ import annotations

import datetime
from pathlib import Path

import weaver_kernel.stores as upstream
from weaver_kernel.models import ActionTrace

from trailseal.weaver import JsonlTraceStore


def _trace(action_id: str) -> ActionTrace:
    """weaver-kernel's tests/test_stores_jsonl.py `_trace`."""
    return ActionTrace(
        action_id=action_id,
        capability_id="billing.list",
        principal_id="u1",
        token_id="tok-1",
        invoked_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
        args={"a": 1},
        response_mode="summary",
        driver_id="memory",
    )


def test_the_upstream_line_tamper_in_canonical_spelling_is_detected(
    tmp_path: Path, secret: str
) -> None:
    """weaver-kernel's test_tampered_line_detected edits `"a": 1` (json.dumps spelling) in line
    0; trailseal writes lines in canonical form, so the same edit reads `"a":1` → `"a":999`.
    Both trailseal's drop-in and weaver-kernel's own store name seq 0."""
    path = tmp_path / "a.jsonl"
    store = JsonlTraceStore(path, secret=secret)
    store.record(_trace("act-0"))
    store.record(_trace("act-1"))
    store.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert '"a":1' in lines[0] and '"a": 1' not in lines[0]
    lines[0] = lines[0].replace('"a":1', '"a":999')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    ours = JsonlTraceStore(path, secret=secret).verify_chain()
    theirs = upstream.JsonlTraceStore(path, secret=secret).verify_chain()
    assert (ours.ok, ours.first_bad_seq) == (False, 0), ours
    assert (theirs.ok, theirs.first_bad_seq) == (False, 0), theirs
