"""The same system on the plain aiokafka driver (ONESTOP_DRIVER=aiokafka), its workers sharing three
processes (ONESTOP_PROCESSES=3, each worker still its own consumer group): every shared case to the fen.

Runs on a broker and a database of its own, so its consumer groups never share partitions with
the Faust-driven pipeline of the other tests.
"""
from __future__ import annotations

import pytest_asyncio

from cli.files import events_of
from cli.demo import agreement
from store.waiting import identities_recorded, settled_claims
from runtime.embedded import EmbeddedBroker
from schemas.settings import settings
from runtime.parts import initialise
from runtime.supervisor import WorkerProcesses
from streams.publisher import publish
from runtime.endpoints import Endpoints, worker_url
from store.postgres import PostgresStore
from schemas.events import DischargeClaim, EligibilityChange
from streams.topics import DISCHARGED, ELIGIBILITY

from ..shared_cases import case_files, load_case
from .databases import _created_database, _drop_database


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def plain_pipeline(broker, database, tmp_path_factory):
    own_broker = None if settings.kafka else EmbeddedBroker(tmp_path_factory.mktemp("plain-broker")).start()
    url = await _created_database(database)
    found = Endpoints(own_broker.bootstrap if own_broker else broker, url, worker_url(url))
    await initialise(found)
    workers = WorkerProcesses(found, tmp_path_factory.mktemp("plain-logs"),
                      extra_env={"ONESTOP_DRIVER": "aiokafka", "ONESTOP_HOME": str(tmp_path_factory.mktemp("plain-home")),
                                 "ONESTOP_ACCEPT_UNSIGNED": "1", "ONESTOP_PROCESSES": "3"})
    workers.start()
    assert len(workers.processes) == 3 and all("+" in name for name in workers.processes)
    try:
        yield found
    finally:
        workers.stop()
        await _drop_database(database, url)
        if own_broker:
            own_broker.stop()


async def test_every_shared_case_settles_to_the_fen_on_the_aiokafka_driver(plain_pipeline):
    cases = [load_case(p) for p in case_files()]
    grants, claims = events_of(cases)
    store = await PostgresStore.open(plain_pipeline.database, migrate=False)
    try:
        await publish(plain_pipeline.kafka, ELIGIBILITY, grants, EligibilityChange)
        await identities_recorded(store, len(grants), 120)
        await publish(plain_pipeline.kafka, DISCHARGED, claims, DischargeClaim)
        settled = await settled_claims(store, {c.claim_id for case in cases for c in case.claims}, 120)
        for case in cases:
            assert agreement(case, settled) == [], case.name
        assert await store.check_ledger() == []
    finally:
        await store.close()
