"""What only the PostgreSQL store has: its schema, brought up to date by versioned migrations."""

from __future__ import annotations

import asyncio

from store.postgres import PostgresStore, migrations


async def test_migrating_a_migrated_database_applies_nothing(contract_database: str) -> None:
    """The suite's database is migrated: migrating it again, twice, applies no version."""
    store = await PostgresStore.open(contract_database, migrate=False)
    try:
        assert await store.migrate() == []
        assert await store.migrate() == []
    finally:
        await store.close()


async def test_two_stores_migrating_at_once_apply_each_version_once(fresh_database: str) -> None:
    """Two stores migrating a new database at once take turns: every version applied once, by
    one of them, in order; the other applies nothing; the tables are empty."""
    one = await PostgresStore.open(fresh_database, migrate=False)
    two = await PostgresStore.open(fresh_database, migrate=False)
    try:
        first, second = await asyncio.gather(one.migrate(), two.migrate())
        every = [version for version, _, _ in migrations()]
        assert sorted(first + second) == every
        assert [] in (first, second)
        assert max(first, second) == every  # in order
        assert await one.migrate() == [] and await two.migrate() == []
        counts = await one.counts()
        assert set(counts) == {
            "inputs",
            "claims_received",
            "settlements",
            "rejections",
            "identity_events",
            "cancellations",
            "queued",
            "parked",
        }
        assert set(counts.values()) == {0}
    finally:
        await one.close()
        await two.close()
