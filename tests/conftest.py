"""What every test session shares: the `live` marker, and the real parts, started once.

A test is marked `live` here, never by hand, when it needs a real broker or PostgreSQL: every test
under tests/live, every test that uses the `broker` or `database` fixture, and the store contract
tests on the PostgreSQL backend (tests/store: the same tests on the memory backend are not live);
and the one test that builds the rules as the production image does, with mypyc and the C compiler
(half a minute: tests/test_compiled_rules.py; the fast loop still compares the compiled rules
with their source).
`pytest -m "not live"` runs the rest (about 40 s on 2 cores, as the README says); `pytest` runs
everything (.ci/run).

`ONESTOP_KAFKA` / `ONESTOP_DATABASE_URL` point the tests at real ones; otherwise the embedded ones
(runtime/embedded.py) are started once per session in a temporary directory, when the first test
that needs them runs, and stopped at its end. A part that cannot start fails the tests that need
it, with the reason: these tests are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.embedded import EmbeddedBroker, EmbeddedPostgres, kafka_answers
from schemas.settings import settings

from .parts import start_or_fail

LIVE_FOLDER = Path(__file__).parent / "live"
#: fixtures that start a real part
REAL_PARTS = {"broker", "database"}
#: tests that run a real build (mypyc, the C compiler) rather than a broker or a database
REAL_BUILDS = {"test_the_rules_compile_where_they_are_installed_beside_other_modules"}


def is_live(item: pytest.Item) -> bool:
    """Whether the test needs a real broker or PostgreSQL (or runs a real build)."""
    if LIVE_FOLDER in item.path.parents or REAL_PARTS & set(getattr(item, "fixturenames", ())):
        return True
    if item.name in REAL_BUILDS:
        return True
    callspec = getattr(item, "callspec", None)  # the store tests take their backend as a parameter
    return callspec is not None and callspec.params.get("backend") == "postgres"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if is_live(item):
            item.add_marker(pytest.mark.live)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers ("host:port") of a running broker."""
    external = settings.kafka
    if external is not None:
        if not kafka_answers(external, timeout=5.0):
            pytest.fail(f"ONESTOP_KAFKA={external!r} does not answer Kafka requests", pytrace=False)
        yield external
        return
    embedded = EmbeddedBroker(tmp_path_factory.mktemp("broker"))
    start_or_fail(embedded, "the embedded broker")
    try:
        yield embedded.bootstrap
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A postgresql:// URL of a running PostgreSQL server: the one of the whole session (the live
    system's, and the server on which the store tests and others make databases of their own)."""
    external = settings.database_url
    if external is not None:
        yield external
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("postgres") / "pgdata")
    start_or_fail(embedded, "the embedded PostgreSQL")
    try:
        yield embedded.dsn
    finally:
        embedded.stop()
