"""Session fixtures of the live tests: the whole system, every worker its own process, on the
session's broker and PostgreSQL (tests/conftest.py), and systems of their own for the tests that
need one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from runtime.embedded import EmbeddedBroker
from runtime.endpoints import Endpoints, worker_url
from runtime.parts import initialise, initialise_sync
from runtime.supervisor import WorkerProcesses
from schemas.settings import settings
from store.postgres import PostgresStore

from ..parts import created_database, drop_database, start_or_fail


@dataclass
class LiveSystem:
    kafka: str
    database: str
    workers: WorkerProcesses


@pytest.fixture(scope="session")
def live_system(broker: str, database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    """Topics, schema and every worker as its own process, as `onestop up` runs them."""
    found = Endpoints(broker, database, worker_url(database))
    initialise_sync(found)
    # development mode: these tests publish unsigned events (tests/live/test_trust.py runs a system that verifies)
    workers = WorkerProcesses(
        found,
        tmp_path_factory.mktemp("worker-logs"),
        extra_env={"ONESTOP_HOME": str(tmp_path_factory.mktemp("home")), "ONESTOP_ACCEPT_UNSIGNED": "1"},
    )
    workers.start()
    try:
        yield LiveSystem(broker, database, workers)
    finally:
        workers.stop()
        crashed_logs = {
            p.name: p.read_text()[-2000:] for p in workers.log_dir.glob("*.log") if "Traceback" in p.read_text()
        }
        assert not crashed_logs, f"workers logged tracebacks: {crashed_logs}"


#: the driver the shared live system does not run on (it runs on ONESTOP_DRIVER, the default unless set)
OTHER_DRIVER = {"aiokafka": "faust", "faust": "aiokafka"}


@asynccontextmanager
async def system_of_its_own(
    database: str, tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str]
) -> AsyncIterator[tuple[LiveSystem, PostgresStore]]:
    """Every worker on a broker and a database of their own (so their consumer groups never share
    partitions with the shared system's), with ``env`` added to the workers' settings; unsigned
    events accepted, as the shared system does."""
    own_broker = None if settings.kafka else EmbeddedBroker(tmp_path_factory.mktemp(f"{name}-broker"))
    if own_broker is not None:
        start_or_fail(own_broker, f"a broker of its own for the {name} system")
    url = await created_database(database)
    found = Endpoints(own_broker.bootstrap if own_broker else settings.kafka, url, worker_url(url))
    await initialise(found)
    workers = WorkerProcesses(
        found,
        tmp_path_factory.mktemp(f"{name}-logs"),
        extra_env={"ONESTOP_ACCEPT_UNSIGNED": "1", "ONESTOP_HOME": str(tmp_path_factory.mktemp(f"{name}-home")), **env},
    )
    workers.start()
    opened = await PostgresStore.open(url, migrate=False)
    try:
        yield LiveSystem(found.kafka, url, workers), opened
    finally:
        await opened.close()
        workers.stop()
        await drop_database(database, url)
        if own_broker is not None:
            own_broker.stop()


@pytest.fixture(scope="session")
async def other_system(
    broker: str, database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[LiveSystem, PostgresStore]]:
    """The same system on the other driver, on a broker and a database of its own; on the aiokafka
    driver its workers run three to a process."""
    driver = OTHER_DRIVER[settings.driver]
    async with system_of_its_own(
        database,
        tmp_path_factory,
        "other",
        {"ONESTOP_DRIVER": driver, "ONESTOP_PROCESSES": "3" if driver == "aiokafka" else "0"},
    ) as system:
        yield system


@pytest.fixture(params=["default driver", "other driver"])
def each_driver(request: pytest.FixtureRequest) -> tuple[LiveSystem, PostgresStore]:
    """The live system and its store, once per driver: the shared one, then the other driver's."""
    if request.param == "default driver":
        return request.getfixturevalue("live_system"), request.getfixturevalue("store")
    return request.getfixturevalue("other_system")


@pytest.fixture(scope="session")
async def store(database: str) -> AsyncIterator[PostgresStore]:
    opened = await PostgresStore.open(database, migrate=True)
    try:
        yield opened
    finally:
        await opened.close()
