"""The PostgreSQL store of onestop (asyncpg): an idempotent ledger.

In the style of the recorders of the ``eventsourcing`` library, every effect is written
together with its bookkeeping in one transaction, under a unique key:

- every input is archived as received, once per place it came from (``inputs``) — archive.py;
- a claim is received once per revision (``claims_received``, key ``(claim_key, revision)``: the
  claim is its hospital's and its id, schemas/ids.py) and
  takes its place in its person's queue — claims.py; a cancellation once (``cancellations``) —
  cancellations.py; an eligibility change once (``identity_events``, key ``event_id``), the
  periods folded again from all events of that person and category — identity.py; a year-end
  close once per region and year (``year_closes``) — closes.py;
- the ledger is the one writer of money: each person's queued inputs take effect in the order
  received (store/life.py), each record once (``settlements``, key ``settlement_id``) in the same
  transaction as the person's year-to-date totals (``year_totals``), published in ``seq`` order;
  a claim in flight is checked against what intake recorded before it may take its place — ledger.py,
  totals.py;
- rejections once per place, parked messages — inputs.py.

Money columns are ``numeric(14,2)`` and come back as ``Decimal``; never float. JSONB goes
through orjson (codecs set on every pool connection). Nothing personal is logged: the messages
of :meth:`check_ledger` mask person numbers (checks.py).
"""
from __future__ import annotations

import asyncpg

from schemas.settings import WORKER_KINDS

from ..interface import Store
from ..roles import role_of
from .cancellations import Cancellations
from .checks import Checks
from .claims import Claims
from .closes import Closes
from .connection import init_connection, keep_session
from .identity import Identity
from .inputs import Inputs
from .keys import Keys
from .ledger import Ledger
from .migrate import MIGRATE_LOCK, apply_migrations, migrations
from .totals import Totals

__all__ = ["PostgresStore", "migrations"]


class PostgresStore(Claims, Cancellations, Identity, Closes, Totals, Ledger, Inputs, Keys, Checks, Store):
    """The PostgreSQL store: ``await PostgresStore.open(url)``, or ``async with store_at(url)``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 1, max_size: int = 4, migrate: bool = True) -> "PostgresStore":
        """A store on a new connection pool to ``dsn``, migrated unless ``migrate`` is False."""
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=init_connection,
                                         reset=keep_session)
        store = cls(pool)
        if migrate:
            try:
                await store.migrate()
            except BaseException:
                await pool.close()
                raise
        return store

    async def close(self) -> None:
        """Close the pool (waits for connections in use to be released)."""
        await self._pool.close()

    def terminate(self) -> None:
        """Close every connection at once, without waiting (after the server went away)."""
        self._pool.terminate()

    async def __aenter__(self) -> "PostgresStore":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def set_role_password(self, role: str, password: str) -> None:
        """Let a worker's role (migration 0009), the administrator's (0008) or the console's (0012) log in with
        ``password`` (a deployment's init does this)."""
        roles = {*(role_of(kind) for kind in WORKER_KINDS), "onestop_admin", "onestop_console"}
        if role not in roles:
            raise ValueError(f"no role {role!r} of onestop's: one of {', '.join(sorted(roles))}")
        async with self._pool.acquire() as conn:
            statement = await conn.fetchval("SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", role, password)
            await conn.execute(statement)

    async def migrate(self) -> list[int]:
        """Apply the migrations not yet applied, in order, each in its own transaction.

        Recorded in ``schema_migrations``; a session advisory lock makes concurrent runs take
        turns. Returns the versions applied by this call.
        """
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATE_LOCK)
            try:
                return await apply_migrations(conn)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATE_LOCK)
