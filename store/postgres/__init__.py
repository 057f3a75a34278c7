"""The PostgreSQL store of onestop (asyncpg): an idempotent ledger.

In the style of the recorders of the ``eventsourcing`` library, every effect is written
together with its bookkeeping in one transaction, under a unique key:

- every input is archived as received, once per place it came from (``inputs``), at its person's
  next place in their order (``persons.last_seq``, taken under a lock on the person's row) —
  archive.py, connection.py;
- a claim is received once per revision (``claims_received``, key ``(psn_no, claim_key, revision)``:
  the claim is its hospital's and its id, schemas/ids.py; ``claim_owners`` keeps whose it is) and
  takes its place in its person's queue — claims.py; a cancellation once (``cancellations``) —
  cancellations.py; an eligibility change once (``identity_events``, key ``(psn_no, authority,
  event_id)``), the periods folded again from all events of that person and category —
  identity.py; an enrollment change once (``enrollment_events``, key ``(psn_no, event_id)``), the
  periods of insurance folded again — enrollment.py; a year-end close once per region and year
  (``year_closes``), put in the order of each person it settles (``person_closes``) — closes.py; a
  premium roll once per region and year (``premium_rolls``), put in the order of each person it may
  subsidise (``person_rolls``), and before a later change of a person it may then subsidise — rolls.py;
- the ledger is the one writer of money: each person's queued inputs take effect in the order
  received (store/life.py), each record once (``settlements``, key ``(psn_no, settlement_id)``) in
  the same transaction as the person's year-to-date totals (``year_totals``), in the person's order;
  a claim in flight is checked against what intake recorded before it may take its place — ledger.py,
  totals.py;
- rejections once per place, parked messages — inputs.py.

Every table of a person's rows is keyed by the person first, and nothing takes a table lock: the
schema can be distributed by ``psn_no`` (docs/national-load.md).

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
from .enrollment import Enrollment
from .identity import Identity
from .inputs import Inputs
from .keys import Keys
from .ledger import Ledger
from .migrate import MIGRATE_LOCK, apply_migrations, migrations
from .rolls import Rolls
from .totals import Totals

__all__ = ["PostgresStore", "migrations"]

_CURRENT_LIFE = "SELECT coalesce(max(life), 0) FROM broker_lives"
_BEGIN_LIFE = (
    "INSERT INTO broker_lives (life, bootstrap) SELECT coalesce(max(life), 0) + 1, $1 FROM broker_lives RETURNING life"
)


class PostgresStore(
    Claims, Cancellations, Identity, Enrollment, Closes, Rolls, Totals, Ledger, Inputs, Keys, Checks, Store
):
    """The PostgreSQL store: ``await PostgresStore.open(url)``, or ``async with store_at(url)``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        #: the life of the topics this store's inputs come from (broker_lives): part of each input's place
        self.life = 0

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 1, max_size: int = 4, migrate: bool = True) -> "PostgresStore":
        """A store on a new connection pool to ``dsn``, migrated unless ``migrate`` is False."""
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=init_connection, reset=keep_session
        )
        store = cls(pool)
        try:
            if migrate:
                await store.migrate()
            store.life = await store._current_life()
        except BaseException:
            await pool.close()
            raise
        return store

    async def _current_life(self) -> int:
        async with self._pool.acquire() as conn:
            try:
                return await conn.fetchval(_CURRENT_LIFE)
            except asyncpg.UndefinedTableError:  # not migrated yet (opened with migrate=False)
                return 0
            except asyncpg.InsufficientPrivilegeError:  # a role that places no input (the console's, the keys')
                return 0

    async def begin_life(self, bootstrap: str) -> int:
        """The topics were made afresh (an embedded broker keeps none through a restart, so its offsets
        start again at 0): a new life begins, and stores opened from now on place inputs in it."""
        async with self._pool.acquire() as conn:
            self.life = await conn.fetchval(_BEGIN_LIFE, bootstrap)
        return self.life

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
            statement = await conn.fetchval(
                "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", role, password
            )
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
