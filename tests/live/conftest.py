"""Session fixtures for the real parts: a Kafka-protocol broker and PostgreSQL.

`ONESTOP_KAFKA` / `ONESTOP_DATABASE_URL` point the tests at real ones; otherwise the
embedded ones (workers/embedded.py) are started once per session in a temporary
directory and stopped at its end. A part that cannot start fails the tests that
need it, with the reason: these tests are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
