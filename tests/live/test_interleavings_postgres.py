"""The interleavings of tests/test_interleavings.py on PostgreSQL: the workers' handlers take their
turns at random on a real database (a fresh one per example), and the ledger must hold exactly
what the pure rules make from the archived inputs — the batched reads and writes of the ledger
(store/postgres/ledger.py) included."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings

from policies.audit import differences, replay_archive
from runtime.endpoints import Endpoints, worker_url
from runtime.parts import initialise_sync

from ..parts import created_database, drop_database
from ..test_interleavings import lives, run


def test_any_interleaving_records_what_the_inputs_make_on_postgres(broker, database):
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )
    @given(lives())
    def check(life):
        order, turns = life
        url = asyncio.run(created_database(database))
        try:
            initialise_sync(Endpoints(broker, url, worker_url(url)))
            records, archived, breaches, queued = asyncio.run(run(order, turns, url))
        finally:
            asyncio.run(drop_database(database, url))
        assert differences(replay_archive(archived).records, records, "ledger") == []
        assert breaches == [] and queued == []

    check()
