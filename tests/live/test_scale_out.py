"""Two instances of the busiest workers (the ledger, basic), one consumer group each, on a broker
and a database of their own: every claim is settled exactly once, as the pure rules settle it,
while an instance of each is killed and started again mid-stream (the partitions move to the
other and back, with batches in flight)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from bench.generator import year_of_claims
from schemas.events import DischargeClaim, EligibilityChange
from schemas.settings import SMALL_MACHINE
from store.postgres import PostgresStore
from store.waiting import identities_recorded, settled_claims
from streams.codecs import encode
from streams.publisher import publish
from streams.topics import DISCHARGED, ELIGIBILITY

from .conftest import LiveSystem, system_of_its_own
from .generated import assert_settled_as_the_rules_settle, grants_of

TIMEOUT = 180.0
#: the default layout with the ledger and basic each in two processes
TWO_OF_THE_BUSIEST = SMALL_MACHINE.replace("ledger", "ledger*2", 1).replace("basic", "basic*2", 1)


@pytest.fixture(scope="module")
async def scaled_out(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[LiveSystem, PostgresStore]]:
    async with system_of_its_own(
        database,
        tmp_path_factory,
        "scaled-out",
        {"ONESTOP_DRIVER": "aiokafka", "ONESTOP_PROCESSES": TWO_OF_THE_BUSIEST},
    ) as system:
        yield system


async def test_two_instances_of_the_ledger_and_of_basic_settle_every_claim_once(scaled_out):
    system, store = scaled_out
    assert {"ledger", "ledger#2", "basic", "basic#2"} <= set(system.workers.processes)
    population, claims = year_of_claims(400, persons=80, seed=43)
    grants = grants_of(population, "scale-test")
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
    assert_settled_as_the_rules_settle(claims, population, settled)
    assert system.workers.crashed() == []
