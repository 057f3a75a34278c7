"""The same system on the driver the shared live system does not run on (faust when the default,
aiokafka, runs the others; aiokafka, three workers to a process, when ONESTOP_DRIVER=faust):
every shared case to the fen. The redelivery, bad-input and kill tests run on both drivers too
(tests/live/test_pipeline.py, ``each_driver``)."""

from __future__ import annotations

from cli.demo import agreement
from cli.files import events_of
from schemas.events import DischargeClaim, EligibilityChange
from store.waiting import identities_recorded, settled_claims
from streams.publisher import publish
from streams.topics import DISCHARGED, ELIGIBILITY

from ..shared_cases import case_files, load_case


async def test_every_shared_case_settles_to_the_fen_on_the_other_driver(other_system):
    system, store = other_system
    cases = [load_case(p) for p in case_files()]
    grants, claims = events_of(cases)
    await publish(system.kafka, ELIGIBILITY, grants, EligibilityChange)
    await identities_recorded(store, len(grants), 120)
    await publish(system.kafka, DISCHARGED, claims, DischargeClaim)
    settled = await settled_claims(store, {c.claim_id for case in cases for c in case.claims}, 120)
    for case in cases:
        assert agreement(case, settled) == [], case.name
    assert await store.check_ledger() == []
    assert system.workers.crashed() == []
