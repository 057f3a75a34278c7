"""Two instances of the busiest workers (the ledger, basic), one consumer group each, on a broker
and a database of their own: every claim is settled exactly once, as the pure rules settle it,
while an instance of each is killed and started again mid-stream (the partitions move to the
other and back, with batches in flight)."""
from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import pytest

from bench.generator import year_of_claims
from policies.replay import settle_in_order
from runtime.embedded import EmbeddedBroker
from runtime.endpoints import Endpoints, worker_url
from runtime.parts import initialise
from runtime.supervisor import WorkerProcesses
from schemas.events import DischargeClaim, EligibilityChange
from schemas.settings import SMALL_MACHINE, settings
from store.postgres import PostgresStore
from store.waiting import identities_recorded, settled_claims
from streams.codecs import encode
from streams.publisher import publish
from streams.topics import DISCHARGED, ELIGIBILITY

from .conftest import LiveSystem, _start_or_fail
from .databases import _created_database, _drop_database

TIMEOUT = 180.0
#: the default layout with the ledger and basic each in two processes
TWO_OF_THE_BUSIEST = SMALL_MACHINE.replace("ledger", "ledger*2", 1).replace("basic", "basic*2", 1)


@pytest.fixture(scope="module")
async def scaled_out(database: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[LiveSystem, PostgresStore]]:
    own_broker = None if settings.kafka else EmbeddedBroker(tmp_path_factory.mktemp("scaled-broker"))
    if own_broker is not None:
        _start_or_fail(own_broker, "a broker of its own for two instances")
    url = await _created_database(database)
    found = Endpoints(own_broker.bootstrap if own_broker else settings.kafka, url, worker_url(url))
    await initialise(found)
    workers = WorkerProcesses(found, tmp_path_factory.mktemp("scaled-logs"), extra_env={
        "ONESTOP_DRIVER": "aiokafka", "ONESTOP_PROCESSES": TWO_OF_THE_BUSIEST, "ONESTOP_ACCEPT_UNSIGNED": "1",
        "ONESTOP_HOME": str(tmp_path_factory.mktemp("scaled-home"))})
    workers.start()
    opened = await PostgresStore.open(url, migrate=False)
    try:
        yield LiveSystem(found.kafka, url, workers), opened
    finally:
        await opened.close()
        workers.stop()
        await _drop_database(database, url)
        if own_broker is not None:
            own_broker.stop()


async def test_two_instances_of_the_ledger_and_of_basic_settle_every_claim_once(scaled_out):
    system, store = scaled_out
    assert {"ledger", "ledger#2", "basic", "basic#2"} <= set(system.workers.processes)
    population, claims = year_of_claims(400, persons=80, seed=43)
    grants = [encode(EligibilityChange.grant_of(p.psn_no, held, f"scale-test/{p.psn_no}/{held.code.value}",
                                                datetime(2017, 1, 1, tzinfo=timezone.utc)))
              for p in population for held in p.categories]
    await publish(system.kafka, ELIGIBILITY, grants, EligibilityChange)
    await identities_recorded(store, len(grants), TIMEOUT)
    raw = [encode(c) for c in claims]
    await publish(system.kafka, DISCHARGED, raw[:200], DischargeClaim)
    await asyncio.sleep(1.0)
    for name in ("ledger#2", "basic#2"):
        system.workers.kill(name)  # no clean leave: the other instance takes its partitions after the session timeout
    await publish(system.kafka, DISCHARGED, raw[200:300], DischargeClaim)
    await asyncio.sleep(3.0)
    for name in ("ledger#2", "basic#2"):
        system.workers.start_one(name)  # and a rebalance back, with batches in flight
    await publish(system.kafka, DISCHARGED, raw[300:], DischargeClaim)

    settled = await settled_claims(store, {c.claim_id for c in claims}, TIMEOUT)

    assert await store.check_ledger() == []
    assert (await store.counts())["queued"] == 0
    first_records = Counter(s.claim_id for _, s in await store.settlements(limit=1_000_000) if s.kind == "settlement")
    assert {claim_id: n for claim_id, n in first_records.items() if n != 1} == {}  # nothing settled twice
    by_person = {p.psn_no: p for p in population}
    for psn_no, person in by_person.items():
        own = [c for c in claims if c.psn_no == psn_no]
        for expected in settle_in_order(own, person.categories):
            got = settled[expected.claim.claim_id]  # the claim's records summed: what is owed on it now
            assert {l.payer: l.amount for l in got.payments if l.amount} == \
                {l.payer: l.amount for l in expected.lines if l.amount}
            assert got.psn_part_amt == expected.psn_part_amt
    assert system.workers.crashed() == []
