"""What only the PostgreSQL store has: its schema, brought up to date by versioned migrations, and its
transactions run side by side (two receipts at once never miss each other)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone

import asyncpg

from schemas.events import CategoryHeld, EligibilityChange, EnrollmentChange, PremiumRoll
from store.columns import digest
from store.postgres import PostgresStore, migrations
from store.records import Arrival
from streams.topics import ENROLLMENT, PREMIUM_ROLLS

from .support import arrival, attach, close, stay


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


async def _waiting_on_locks(conn: asyncpg.Connection, how_many: int) -> None:
    """Until ``how_many`` sessions of the database wait for a lock (or fail after 20 s)."""
    deadline = asyncio.get_running_loop().time() + 20
    while asyncio.get_running_loop().time() < deadline:
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        if waiting >= how_many:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {how_many} session(s) waited for a lock within 20 s")


async def _while_held(store: PostgresStore, holder: asyncpg.Connection, held: Arrival, kind: str, first, then) -> None:
    """``first`` runs until it waits to archive ``held`` (``holder`` holds that place in the archive,
    uncommitted): it has read what it reads before it writes. Then ``then`` runs, given 2 s (without
    the share it finishes in them), and the place is let go: both finish."""
    await holder.execute("BEGIN")
    await holder.execute(
        'INSERT INTO inputs (psn_no, seq, life, topic, "partition", "offset", digest, raw, kind, outcome) '
        "VALUES ($1, -1, $2, $3, $4, $5, $6, $7, $8, 'accepted')",
        held.event.psn_no,
        store.life,
        held.topic,
        held.partition,
        held.offset,
        digest(held.raw),
        held.raw,
        kind,
    )
    starting = asyncio.create_task(first())
    await _waiting_on_locks(holder, 1)
    following = asyncio.create_task(then())
    await asyncio.wait({following}, timeout=2)
    await holder.execute("ROLLBACK")
    await asyncio.gather(starting, following)


AT = datetime(2018, 1, 2, 10, tzinfo=timezone.utc)


async def test_a_grant_and_a_roll_received_at_once_are_never_missed_by_both(fresh_database: str) -> None:
    """A grant reads the rolls to put one its person lacks before it; a roll, once recorded, looks for the
    persons it may subsidise. A grant that read before the roll was recorded and committed after the roll
    had looked would be missed by both, and the person never subsidised that year. Held inside its
    transaction while the roll is received, the grant makes the roll wait (store/postgres/connection.py,
    behind_region_wide), and the person takes the roll. Without the share: no roll (seen failing)."""
    store = await PostgresStore.open(fresh_database)
    holder = await asyncpg.connect(fresh_database)
    try:
        enrolled = EnrollmentChange(
            event_id="enr-race",
            psn_no="RACE-1",
            insutype="390",
            insuplc_admdvs="410102",
            valid_from=date(2018, 1, 1),
            valid_to=date(2018, 12, 31),
            recorded_at=AT,
        )
        await store.record_enrollments([arrival(enrolled, topic=ENROLLMENT)])
        dibao = CategoryHeld(code="dibao", valid_from=date(2017, 1, 1), valid_to=None)
        grant = arrival(EligibilityChange.grant_of("RACE-1", dibao, "g-race", AT))
        roll = PremiumRoll(event_id="roll-race", region="zhengzhou", year=2018, recorded_at=AT)

        await _while_held(
            store,
            holder,
            grant,
            "eligibility",
            lambda: store.record_changes([grant]),
            lambda: store.receive_roll(arrival(roll, topic=PREMIUM_ROLLS)),
        )
        taken = await holder.fetch("SELECT region, year FROM person_rolls WHERE psn_no = 'RACE-1'")
        assert [(r["region"], r["year"]) for r in taken] == [("zhengzhou", 2018)]
    finally:
        await holder.close()
        await store.close()


async def test_a_claim_and_a_year_end_close_received_at_once_are_never_missed_by_both(fresh_database: str) -> None:
    """The same for a claim of a year its region closes as the claim comes in: held inside its
    transaction, the claim makes the close wait, and the person takes the close (their year-end
    payment). Without the share: no close for them (seen failing)."""
    store = await PostgresStore.open(fresh_database)
    holder = await asyncpg.connect(fresh_database)
    try:
        claim = arrival(stay("C-race", "RACE-2", "410102", "2018-03-01", "1000.00"))
        await _while_held(
            store,
            holder,
            claim,
            "claim",
            lambda: store.receive_claims([claim], attach),
            lambda: store.receive_close(arrival(close("zhengzhou", 2018))),
        )
        taken = await holder.fetch("SELECT region, year FROM person_closes WHERE psn_no = 'RACE-2'")
        assert [(r["region"], r["year"]) for r in taken] == [("zhengzhou", 2018)]
    finally:
        await holder.close()
        await store.close()
