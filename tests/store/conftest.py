"""Fixtures of the store contract suite: every test runs once per backend, PostgreSQL and memory,
the way the ``eventsourcing`` library runs one recorder test case per backend.

PostgreSQL is a real one: the session's server (``database``, tests/conftest.py: ``ONESTOP_DATABASE_URL``
when set, otherwise the embedded server, the same the live tests use). One database of this
suite's own is created and migrated once; each test gets it emptied (every table truncated, the
sequences restarted), so ``inputs()``, ``counts()`` and ``check_ledger()`` see only that test's
work. A PostgreSQL that cannot start fails the tests that need it, with the reason: they are
never skipped. The memory backend is a new ``memory://<uuid>`` store per test.

``backend.damage`` changes a store behind its back (the way an operator with SQL could), so the
checks have something to find.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal

import asyncpg
import pytest
import pytest_asyncio

from schemas.events import Settlement
from store import Store
from store.memory import MemoryStore
from store.memory.access import write_records
from store.postgres import PostgresStore

from ..parts import created_database, drop_database

BACKENDS = ("postgres", "memory")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def contract_database(database: str) -> AsyncIterator[str]:
    """A database of this suite's own, migrated once; dropped at the end of the session."""
    try:
        url = await created_database(database)
        migrated = await PostgresStore.open(url, migrate=True)
    except Exception as exc:  # noqa: BLE001 - any reason is reported, loudly
        pytest.fail(
            f"PostgreSQL (ONESTOP_DATABASE_URL, or the embedded one) could not give the store tests a database: "
            f"{type(exc).__name__}: {exc}",
            pytrace=False,
        )
    await migrated.close()
    yield url
    await drop_database(database, url)


async def emptied(url: str) -> None:
    """Every table of the store's database emptied and its sequences restarted (the schema kept)."""
    conn = await asyncpg.connect(url)
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
            )
        ]
        names = ", ".join('"' + table + '"' for table in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY")
    finally:
        await conn.close()


class Backend:
    """One backend as the tests see it: a fresh store, a second handle on the same data, and damage."""

    name: str

    async def fresh(self) -> Store:
        """An empty store."""
        raise NotImplementedError

    async def another(self) -> Store:
        """A second handle on the fresh store's data (another worker's pool / the same memory store)."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url
        self.opened: list[PostgresStore] = []
        self.damage = PostgresDamage(url)

    async def fresh(self) -> Store:
        await emptied(self.url)
        return await self.another()

    async def another(self) -> Store:
        store = await PostgresStore.open(self.url, migrate=False)
        self.opened.append(store)
        return store

    async def close(self) -> None:
        for store in self.opened:
            await store.close()


class MemoryBackend(Backend):
    name = "memory"

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.damage = MemoryDamage(self)

    async def fresh(self) -> Store:
        self.urls.append(f"memory://{uuid.uuid4()}")
        return await self.another()

    async def another(self) -> Store:
        return MemoryStore.named(self.urls[-1])

    async def close(self) -> None:
        for url in self.urls:
            MemoryStore.forget(url)


# --- damage: what an operator with SQL could do, so check_ledger has something to find -----------


class PostgresDamage:
    def __init__(self, url: str) -> None:
        self.url = url

    async def _execute(self, sql: str, *args) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(sql, *args)
        finally:
            await conn.close()

    async def add_to_paid(self, psn_no: str, year: int, account: str, amount: Decimal) -> None:
        await self._execute(
            "UPDATE year_totals SET paid = paid + $4 WHERE psn_no = $1 AND year = $2 AND account = $3",
            psn_no,
            year,
            account,
            amount,
        )

    async def set_psn_part_amt(self, settlement_id: str, amount: Decimal) -> None:
        await self._execute("UPDATE settlements SET psn_part_amt = $2 WHERE settlement_id = $1", settlement_id, amount)

    async def insert_record(self, record: Settlement) -> None:
        await self._execute(
            "INSERT INTO settlements (settlement_id, claim_id, kind, psn_no, record, medfee_sumamt, fund_pay_sumamt,"
            " psn_part_amt, year, "
            "seq) VALUES ($1, $2, $3, $4, convert_from($5, 'UTF8')::jsonb, $6, $7, $8, $9, "
            "(SELECT coalesce(max(seq), 0) + 1000 FROM settlements WHERE psn_no = $4))",
            record.settlement_id,
            record.claim_id,
            record.kind,
            record.psn_no,
            record.model_dump_json(by_alias=True).encode(),
            record.medfee_sumamt,
            record.fund_pay_sumamt,
            record.psn_part_amt,
            record.year,
        )


class MemoryDamage:
    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend

    def _store(self) -> MemoryStore:
        return MemoryStore.named(self.backend.urls[-1])

    async def add_to_paid(self, psn_no: str, year: int, account: str, amount: Decimal) -> None:
        tables = self._store()._m.t
        row = tables.totals[(psn_no, year, account)]
        tables.totals[(psn_no, year, account)] = replace(row, paid=row.paid + amount)

    async def set_psn_part_amt(self, settlement_id: str, amount: Decimal) -> None:
        tables = self._store()._m.t
        for key in [key for key in tables.records if key[1] == settlement_id]:
            tables.records[key] = replace(tables.records[key], psn_part_amt=amount)

    async def insert_record(self, record: Settlement) -> None:
        async with self._store()._m.transaction() as m:
            write_records(m, [record])


# --- the fixtures every contract test uses ------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_database(database: str) -> AsyncIterator[str]:
    """A new, empty database, dropped afterwards."""
    url = await created_database(database)
    yield url
    await drop_database(database, url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn (PostgreSQL is started only when a test of that backend runs)."""
    if request.param == "postgres":
        return PostgresBackend(request.getfixturevalue("contract_database"))
    return MemoryBackend()


@pytest_asyncio.fixture(loop_scope="session")
async def store(backend: Backend) -> AsyncIterator[Store]:
    """An empty store of the backend under test; every handle the test opened is closed afterwards."""
    try:
        yield await backend.fresh()
    finally:
        await backend.close()
