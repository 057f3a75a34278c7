"""Session fixtures for the real parts: a Kafka-protocol broker and PostgreSQL.

`ONESTOP_KAFKA` / `ONESTOP_DATABASE_URL` point the tests at real ones; otherwise the
embedded ones (workers/embedded.py) are started once per session in a temporary
directory and stopped at its end. A part that cannot start fails the tests that
need it, with the reason: these tests are never skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from workers.pipeline import Workers, initialise_sync
from workers.settings import Endpoints
from workers.store import Store
from workers.embedded import (
    KAFKA_ENV,
    EmbeddedBroker,
    EmbeddedPostgres,
    database_from_env,
    kafka_answers,
    kafka_from_env,
)


def _start_or_fail(part: EmbeddedBroker | EmbeddedPostgres, name: str) -> None:
    """Start *part*, or fail (never skip) the tests that need it, saying why."""
    try:
        part.start()
    except Exception as exc:  # noqa: BLE001 - any reason is reported, loudly
        reason = f"{name} could not start: {type(exc).__name__}: {exc}"
    else:
        return
    pytest.fail(reason, pytrace=False)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers ("host:port") of a running broker."""
    external = kafka_from_env()
    if external is not None:
        if not kafka_answers(external, timeout=5.0):
            pytest.fail(f"{KAFKA_ENV}={external!r} does not answer Kafka requests", pytrace=False)
        yield external
        return
    embedded = EmbeddedBroker(tmp_path_factory.mktemp("broker"))
    _start_or_fail(embedded, "the embedded broker")
    try:
        yield embedded.bootstrap
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A postgresql:// URL of a running PostgreSQL."""
    external = database_from_env()
    if external is not None:
        yield external
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("postgres") / "pgdata")
    _start_or_fail(embedded, "the embedded PostgreSQL")
    try:
        yield embedded.dsn
    finally:
        embedded.stop()


@dataclass
class Pipeline:
    kafka: str
    database: str
    workers: Workers


@pytest.fixture(scope="session")
def pipeline(broker: str, database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Topics, schema and every worker as its own process, as `onestop up` runs them."""
    found = Endpoints(broker, database)
    initialise_sync(found)
    workers = Workers(found, tmp_path_factory.mktemp("worker-logs"), extra_env={"ONESTOP_HOME": str(tmp_path_factory.mktemp("home"))})
    workers.start()
    try:
        yield Pipeline(broker, database, workers)
    finally:
        workers.stop()
        crashed_logs = {p.name: p.read_text()[-2000:] for p in workers.log_dir.glob("*.log") if "Traceback" in p.read_text()}
        assert not crashed_logs, f"workers logged tracebacks: {crashed_logs}"


@pytest.fixture(scope="session")
async def store(database: str) -> AsyncIterator[Store]:
    opened = await Store.open(database, migrate=True)
    try:
        yield opened
    finally:
        await opened.close()
