"""The two backends side by side: the workers' handlers run the same random life (claims, repeats,
corrected bills, cancellations before and after their claim, grants and revocations reaching back,
year-end closes, published in any order while the workers take turns at random, some batches
delivered twice — tests/test_interleavings.py's lives) once on PostgreSQL and once in memory, and
the two stores end up holding the same thing: the same archive (person, seq, life, place, bytes,
outcome, reason), the same records under the same seqs, the same totals, records per claim, queue, waiting
cancellations, counts and checks. Only the moments (settled_at, received_at) differ.

The lives' events are unsigned, so the workers run with ONESTOP_ACCEPT_UNSIGNED=1 here (as the
live tests' workers do): otherwise they refuse every event, and there would be nothing to compare."""

from __future__ import annotations

import os
import uuid
from collections import deque
from unittest import mock

from hypothesis import HealthCheck, given, settings

from store import Store
from store.memory import MemoryStore
from workers.harness import Context
from workers.registry import WORKERS

from ..test_interleavings import Broker, _key, lives, step
from .conftest import emptied


async def run_on(url: str, order, turns) -> Store:
    """tests/test_interleavings.py's run, on the store at ``url``; the store it leaves."""
    broker = Broker()
    context = Context(url)
    pending = deque(order)
    try:
        for name, size, coin in turns:
            if pending and coin < 4:
                topic, value = pending.popleft()
                await broker.send(topic, _key(value), value)
            await step(broker, context, name, size, again=coin == 9)
        while pending:
            topic, value = pending.popleft()
            await broker.send(topic, _key(value), value)
        while any([await step(broker, context, name, 50, False) for name in sorted(WORKERS)]):
            pass
        return await held(await context.store())
    finally:
        await context.close()


async def held(store: Store) -> dict:
    """Everything a store holds that does not depend on when it was done."""
    records = await store.settlements(limit=1_000_000)
    persons = sorted({r.psn_no for _, r in records} | {item.psn_no for item in await store.queued()})
    claims = sorted({r.key for _, r in records})
    return {
        "archive": [
            (i.psn_no, i.seq, i.life, i.topic, i.partition, i.offset, i.raw, i.kind, i.outcome, i.reason)
            for i in await store.inputs(limit=1_000_000)
        ],
        "records": [(seq, _comparable(r.model_dump(mode="json", exclude={"settled_at"}))) for seq, r in records],
        "totals": {(p, y): await store.year_totals(p, y) for p in persons for y in await store.years_of(p)},
        "by_claim": {c: [r.settlement_id for r in await store.records_of(c)] for c in claims},
        "queued": sorted(await store.queued(), key=lambda i: (i.seq, i.sub, i.psn_no)),
        "waiting": await store.waiting_cancellations(),
        "history": {p: await store.person_history(p) for p in persons},
        "counts": await store.counts(),
        "checks": await store.check_ledger(),
        "parked": [
            (p.worker, p.topic, p.partition, p.offset, p.key, p.value, p.error, p.behind) for p in await store.parked()
        ],
    }


def _comparable(record: dict) -> dict:
    # the identity's order is not compared: store/postgres/claims.py takes a person's periods in table order (reported;
    # tests/store/test_contract.py::test_a_snapshot_lists_its_categories_by_code_then_start), the memory store by code
    return {**record, "identity": sorted(record["identity"], key=lambda h: (h["code"], h["valid_from"]))}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(life=lives())
async def test_the_workers_leave_the_same_ledger_on_both_backends(contract_database: str, life) -> None:
    """One life, two backends: everything either store holds is the same."""
    order, turns = life
    await emptied(contract_database)
    url = f"memory://{uuid.uuid4()}"
    with mock.patch.dict(os.environ, {"ONESTOP_ACCEPT_UNSIGNED": "1"}):
        on_postgres = await run_on(contract_database, order, turns)
        try:
            in_memory = await run_on(url, order, turns)
        finally:
            MemoryStore.forget(url)
    assert [a for a in on_postgres["archive"] if a[8] == "accepted"], "the workers accepted nothing"
    for part in on_postgres:
        assert in_memory[part] == on_postgres[part], part
    assert on_postgres["checks"] == []
