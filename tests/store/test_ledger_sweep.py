"""The ledger's sweep (workers/ledger.py), on every backend: it applies the queues whose wake-up was
lost — and a queue it cannot apply must stop neither the ledger nor anyone else. Before, the sweep
raised: the ledger's process ended, and its restart's first sweep raised again, for everyone. Now
that person's wake-up is parked with the error (listed, run again by `retry`, dropped by an
operator), and the sweep leaves a person with a message parked at the ledger to that message."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from schemas.events import WakeUp
from store import Store
from store.memory import MemoryStore
from store.records import QueueItem
from streams.codecs import decode
from streams.topics import LEDGER
from workers import ledger
from workers.harness import Context
from workers.parking import drop_parked, retry_parked
from workers.registry import WORKERS

from .conftest import Backend
from .handlers import url_of
from .support import Workers, arrival, case, grants, revoke

ZZ = "zhengzhou-dibao-deferred-then-paid"  # P009, dibao
BROKEN = "P-BROKEN"


async def queue_what_is_not_there(backend: Backend) -> None:
    """A person whose queue starts with an input their history does not hold, queued an hour ago
    (what an operator with SQL, or a bug, could leave): applying it raises LookupError."""
    an_hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    if backend.name == "postgres":
        conn = await asyncpg.connect(backend.url)
        try:
            await conn.execute(
                "INSERT INTO person_queue (psn_no, seq, sub, kind, ref, ready, flagged, queued_at) "
                "VALUES ($1, 1000000, 0, 'eligibility', 'nowhere', true, false, $2)",
                BROKEN,
                an_hour_ago,
            )
        finally:
            await conn.close()
    else:
        tables = MemoryStore.named(backend.urls[-1])._m.t
        tables.queue[BROKEN] = {(1_000_000, 0): QueueItem(BROKEN, 1_000_000, 0, "eligibility", "nowhere", True)}
        tables.queued_at[(BROKEN, 1_000_000, 0)] = an_hour_ago


async def test_a_queue_the_ledger_cannot_apply_parks_a_wake_up_and_stops_no_one(
    store: Store, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    worked = case(ZZ)
    workers = Workers(store)
    await workers.changes(*grants(worked))
    claim = worked.claims[0]
    await workers.settle(claim)
    await store.record_changes(
        [arrival(revoke(claim.psn_no, "dibao", "2018-01-01", event_id="R-lost-wake-up"))]
    )  # its wake-up lost
    await queue_what_is_not_there(backend)
    monkeypatch.setenv("ONESTOP_RESEND_AFTER", "0.2")
    await asyncio.sleep(0.3)
    context = Context(url_of(backend), "ledger")
    try:
        assert [i.ref for i in await store.queued(claim.psn_no)] == ["R-lost-wake-up"]
        await ledger.sweep(context)
        # the revocation is applied ...
        assert await store.queued(claim.psn_no) == []
        # ... and the queue that cannot be applied parks a wake-up for its person, with the error
        [parked] = await store.parked("ledger")
        assert (parked.key, parked.topic, parked.partition, parked.offset, parked.behind) == (
            BROKEN.encode(),
            LEDGER,
            None,
            None,
            False,
        )
        assert parked.error.startswith("LookupError: queued eligibility nowhere")
        assert decode(WakeUp, parked.value).psn_no == BROKEN
        # the next sweep leaves that person to the parked wake-up
        assert await ledger.sweep(context) == []
        assert len(await store.parked("ledger")) == 1

        async def send(topic, key, value):
            raise AssertionError(f"nothing is sent: {topic}")

        # run again, it fails again and stays parked, once
        assert await retry_parked(WORKERS["ledger"], context, send) == (0, 1)
        assert await store.parked("ledger") == [parked]
        # dropped, it is kept with its reason; the queue is not mended by it (README: fix, then retry),
        # so the sweep parks the person's wake-up again rather than stop
        await drop_parked(
            WORKERS, context, send, parked.parked_id, "operator test: the queue is mended by hand", "alice"
        )
        assert await ledger.sweep(context) == []
        [again] = await store.parked("ledger")
        assert again.parked_id != parked.parked_id and again.key == BROKEN.encode()
        assert [d.parked for d in await store.dropped("ledger")] == [parked]
    finally:
        await context.close()
