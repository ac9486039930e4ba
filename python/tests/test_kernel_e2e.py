"""A real weaver-kernel 0.12.0 ``Kernel`` end to end with trailseal's drop-in trace stores.

One kernel per backend (SQLite, JSONL, PostgreSQL with a server), its ``trace_store`` one of
``trailseal.weaver``'s stores, driven through the four paths that write traces: a successful
invoke, a grant the policy denies (``deny`` trace; weaver-kernel swallows a failing ``record()``
there, so only the stored records show it worked), a handle expansion (``expand`` trace) and a
driver whose handler raises (failure trace). Then:

- the stored traces are the four events, in order, with the kernel's action ids;
- ``query()`` equals weaver-kernel's ``query_traces`` over ``list_all()`` for several filters;
- the kernel kept our store (it silently replaces a falsy one by its in-memory default): a store
  opened afresh on the same location holds what the kernel recorded;
- SQLite and JSONL: weaver-kernel's own store class verifies the file and reads the same traces,
  and ``weaver-kernel audit verify`` exits 0 with ``OK`` (and 1 with another secret).
"""

from __future__ import annotations

import asyncio
import datetime
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import weaver_kernel.stores as upstream
from weaver_kernel import (
    Capability,
    CapabilityRegistry,
    DriverError,
    HMACTokenProvider,
    InMemoryDriver,
    Kernel,
    PolicyDenied,
    Principal,
    SafetyClass,
    StaticRouter,
)
from weaver_kernel.drivers.base import ExecutionContext
from weaver_kernel.models import ActionTrace, CapabilityRequest, ImplementationRef
from weaver_kernel.trace_query import TraceQuery, query_traces

from trailseal.weaver import JsonlTraceStore, PostgresTraceStore, SQLiteTraceStore

LIST = "billing.list_invoices"
UPDATE = "billing.update_invoice"
BROKEN = "billing.broken"

TraceStore = SQLiteTraceStore | JsonlTraceStore | PostgresTraceStore


def _open(location: str, secret: str) -> TraceStore:
    if location.startswith("postgres"):
        return PostgresTraceStore(location, secret=secret)
    if location.endswith(".jsonl"):
        return JsonlTraceStore(location, secret=secret)
    return SQLiteTraceStore(location, secret=secret)


def _registry() -> CapabilityRegistry:
    registry = CapabilityRegistry()
    registry.register_many(
        [
            Capability(
                capability_id=LIST,
                name="List Invoices",
                description="List all invoices for a customer",
                safety_class=SafetyClass.READ,
                allowed_fields=["id", "amount", "currency", "status"],
                tags=["billing", "invoices", "list"],
                impl=ImplementationRef(driver_id="memory", operation=LIST),
            ),
            Capability(
                capability_id=UPDATE,
                name="Update Invoice",
                description="Update an existing invoice",
                safety_class=SafetyClass.WRITE,
                tags=["billing", "invoice", "update", "write"],
                impl=ImplementationRef(driver_id="memory", operation=UPDATE),
            ),
            Capability(
                capability_id=BROKEN,
                name="Broken",
                description="A capability whose driver handler always raises",
                safety_class=SafetyClass.READ,
                impl=ImplementationRef(driver_id="memory", operation=BROKEN),
            ),
        ]
    )
    return registry


def _driver() -> InMemoryDriver:
    driver = InMemoryDriver(driver_id="memory")

    def list_invoices(ctx: ExecutionContext) -> list[dict[str, Any]]:
        return [
            {"id": f"inv-{i}", "amount": 100 * i, "currency": "EUR", "status": "paid"}
            for i in range(5)
        ]

    def broken(ctx: ExecutionContext) -> Any:
        raise RuntimeError("the invoice backend is down")

    driver.register_handler(LIST, list_invoices)
    driver.register_handler(UPDATE, lambda ctx: {"updated": True})
    driver.register_handler(BROKEN, broken)
    return driver


def _kernel(store: TraceStore) -> Kernel:
    kernel = Kernel(
        registry=_registry(),
        token_provider=HMACTokenProvider(secret="kernel-token-secret-not-the-chain-secret"),
        router=StaticRouter(routes={LIST: ["memory"], UPDATE: ["memory"], BROKEN: ["memory"]}),
        trace_store=store,
    )
    kernel.register_driver(_driver())
    return kernel


READER = Principal(principal_id="user-reader-001", roles=["reader"], attributes={"tenant": "acme"})


class Driven:
    """What the kernel returned on each path."""

    def __init__(self) -> None:
        self.invoke_id = ""
        self.handle_id = ""
        self.expand_id = ""
        self.deny_reason = ""


def _drive(kernel: Kernel) -> Driven:
    out = Driven()

    async def run() -> None:
        token = kernel.get_token(CapabilityRequest(capability_id=LIST, goal="list"), READER,
                                 justification="")
        frame = await kernel.invoke(token, principal=READER, args={"operation": LIST, "page": 1})
        assert frame.handle is not None
        out.invoke_id = frame.action_id
        out.handle_id = frame.handle.handle_id

        with pytest.raises(PolicyDenied) as denied:
            kernel.get_token(CapabilityRequest(capability_id=UPDATE, goal="update"), READER,
                             justification="a reader may not write, however long this is")
        assert denied.value.reason_code
        out.deny_reason = str(denied.value.reason_code)

        expanded = kernel.expand(frame.handle, query={"offset": 1, "limit": 2}, principal=READER)
        out.expand_id = expanded.action_id

        broken = kernel.get_token(CapabilityRequest(capability_id=BROKEN, goal="fail"), READER,
                                  justification="")
        with pytest.raises(DriverError):
            await kernel.invoke(broken, principal=READER, args={"operation": BROKEN})

    asyncio.run(run())
    return out


def _check_traces(traces: list[ActionTrace], driven: Driven) -> None:
    assert [(t.event_type, t.capability_id) for t in traces] == [
        ("invoke", LIST), ("deny", UPDATE), ("expand", LIST), ("invoke", BROKEN),
    ]
    invoke, deny, expand, failure = traces
    assert len({t.action_id for t in traces}) == 4
    assert all(t.principal_id == READER.principal_id for t in traces)

    assert invoke.action_id == driven.invoke_id
    assert invoke.error is None and invoke.driver_id == "memory"
    assert invoke.handle_id == driven.handle_id
    assert invoke.args == {"operation": LIST, "page": 1}
    assert invoke.result_summary is not None and invoke.result_summary["has_handle"] is True

    assert deny.error is not None and deny.reason_code == driven.deny_reason
    assert deny.token_id == "" and deny.driver_id == ""

    assert expand.action_id == driven.expand_id and expand.handle_id == driven.handle_id
    assert expand.args == {"offset": 1, "limit": 2}
    assert expand.error is None

    assert failure.error is not None and "the invoice backend is down" in failure.error
    assert failure.driver_id == "memory" and failure.handle_id is None
    assert failure.token_id != ""

    times = [t.invoked_at for t in traces]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)


def _queries(traces: list[ActionTrace]) -> list[TraceQuery]:
    second = traces[1].invoked_at
    return [
        TraceQuery(),
        TraceQuery(event_type="deny"),
        TraceQuery(event_type="expand"),
        TraceQuery(outcome="failed"),
        TraceQuery(outcome="succeeded", capability_id=LIST),
        TraceQuery(capability_id=BROKEN),
        TraceQuery(principal_id=READER.principal_id, limit=2, offset=1),
        TraceQuery(principal_id="nobody"),
        TraceQuery(reason_code=traces[1].reason_code),
        TraceQuery(since=second),
        TraceQuery(until=second),
        TraceQuery(since=second.replace(tzinfo=None) - datetime.timedelta(microseconds=1)),
        TraceQuery(limit=0),
    ]


def test_a_kernel_records_invoke_deny_expand_and_failure_into_a_trailseal_store(
    store_location: str, secret: str
) -> None:
    store = _open(store_location, secret)
    try:
        kernel = _kernel(store)
        driven = _drive(kernel)

        traces = store.list_all()
        _check_traces(traces, driven)
        assert kernel.list_traces() == traces
        assert kernel.explain(driven.invoke_id) == traces[0]
        assert store.get(driven.expand_id) == traces[2]

        for query in _queries(traces):
            expected = query_traces(traces, query)
            assert store.query(query) == expected, query
            assert kernel.query_traces(query) == expected, query
        assert len(store.query(TraceQuery(outcome="failed"))) == 2  # the deny and the failure

        result = store.verify_chain()
        assert (result.ok, result.records_checked, result.first_bad_seq) == (True, 4, None)
        assert [r.seq for r in store.list_records()] == [0, 1, 2, 3]
    finally:
        store.close()

    # The kernel wrote into our store, not into its in-memory default: a store opened afresh
    # on the same location holds the four traces.
    again = _open(store_location, secret)
    try:
        assert again.list_all() == traces
    finally:
        again.close()


# ── weaver-kernel reads what the kernel wrote through trailseal ─────────────────


def _weaver_cli() -> list[str]:
    script = Path(sys.executable).with_name("weaver-kernel")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from weaver_kernel.cli import main; sys.exit(main())"]


def _audit_verify(path: Path, fmt: str, secret: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("WEAVER_KERNEL_SECRET", None)  # the secret comes from --secret only
    return subprocess.run(
        [*_weaver_cli(), "audit", "verify", "--store", str(path), "--format", fmt,
         "--secret", secret],
        capture_output=True, text=True, env=env, timeout=60,
    )


WEAVER_STORES: dict[str, tuple[str, Callable[..., TraceStore], Callable[..., Any]]] = {
    "sqlite": ("audit.db", SQLiteTraceStore, upstream.SQLiteTraceStore),
    "jsonl": ("audit.jsonl", JsonlTraceStore, upstream.JsonlTraceStore),
}


@pytest.mark.parametrize("fmt", sorted(WEAVER_STORES))
def test_weaver_kernel_verifies_what_a_kernel_wrote_through_trailseal(
    fmt: str, tmp_path: Path, secret: str
) -> None:
    name, ours_cls, theirs_cls = WEAVER_STORES[fmt]
    path = tmp_path / name
    store = ours_cls(path, secret=secret)
    try:
        _drive(_kernel(store))
        ours = store.list_all()
        our_records = store.list_records()
    finally:
        store.close()
    assert len(ours) == 4

    theirs = theirs_cls(path, secret=secret)
    try:
        result = theirs.verify_chain()
        assert (result.ok, result.records_checked, result.first_bad_seq) == (True, 4, None), result
        assert theirs.list_all() == ours
        assert theirs.list_records() == our_records
    finally:
        getattr(theirs, "close", lambda: None)()  # weaver-kernel's JSONL store has no close()

    ok = _audit_verify(path, fmt, secret)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("OK: ") and "Verified 4 record(s)." in ok.stdout

    # The same command fails with another secret, so the OK above was a real check.
    wrong = _audit_verify(path, fmt, secret + "-other")
    assert wrong.returncode == 1 and "TAMPER DETECTED" in wrong.stdout


def test_the_kernel_keeps_a_trailseal_store_that_holds_no_records(
    tmp_path: Path, secret: str
) -> None:
    """weaver-kernel keeps ``trace_store or TraceStore()``: an empty store must not be falsy,
    or the kernel would record into memory and the file would stay empty."""
    store = SQLiteTraceStore(tmp_path / "audit.db", secret=secret)
    try:
        assert bool(store) is True
        kernel = _kernel(store)
        assert kernel._traces is store  # noqa: SLF001 - the only way to see which store it kept
        _drive(kernel)
        assert len(store.list_all()) == 4
    finally:
        store.close()
