"""What every part of the PostgreSQL store shares: JSON through orjson, per-person locks, batch helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson

from ..columns import dumps


def _encode_jsonb(value: Any) -> bytes:
    return b"\x01" + dumps(value)  # binary jsonb: a version byte, then the text


def _decode_jsonb(data: bytes) -> Any:
    return orjson.loads(memoryview(data)[1:])


async def init_connection(conn: asyncpg.Connection) -> None:
    """Every pool connection reads and writes jsonb with orjson."""
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=_encode_jsonb, decoder=_decode_jsonb, format="binary"
    )


async def keep_session(conn: asyncpg.Connection) -> None:
    """A connection going back to the pool keeps its session: the store sets no session state
    (its locks are transaction locks; the migrations' session lock is released when they end),
    so asyncpg's reset query (RESET ALL, UNLISTEN *, …) would be a round trip per use for nothing.
    asyncpg still ends any transaction left open before calling this."""


_LOCK_PERSONS = """
INSERT INTO persons (psn_no) SELECT p FROM unnest($1::text[]) AS p ORDER BY p
ON CONFLICT (psn_no) DO UPDATE SET last_seq = persons.last_seq
RETURNING psn_no, last_seq"""

SAVE_PERSONS = """
UPDATE persons AS p SET last_seq = x.s FROM unnest($1::text[], $2::bigint[]) AS x(n, s) WHERE p.psn_no = x.n"""


class Persons:
    """A transaction holding some persons' rows locked (``persons``): the connection, and each
    person's order — every input, record or alert of a person takes the person's next ``seq``. The
    lock is a row lock on a table distributed by the person, as every table of a person's rows is."""

    def __init__(self, conn: asyncpg.Connection, last: dict[str, int]) -> None:
        self.conn = conn
        self._last = last
        self._taken: dict[str, int] = {}

    def locks(self, psn_no: str) -> bool:
        return psn_no in self._last

    def next_seq(self, psn_no: str) -> int:
        """The person's next place in their order (the person must be locked here)."""
        if psn_no not in self._last:
            raise LookupError("a person's seq is taken only under their lock: lock the person first")
        seq = self._last[psn_no] = self._last[psn_no] + 1
        self._taken[psn_no] = seq
        return seq

    def taken(self) -> tuple[list[str], list[int]]:
        """The persons whose order moved on, and how far: for SAVE_PERSONS (then forgotten)."""
        taken, self._taken = self._taken, {}
        return list(taken), list(taken.values())

    async def save(self) -> None:
        names, seqs = self.taken()
        if names:
            await self.conn.execute(SAVE_PERSONS, names, seqs)


#: the row of the person "", whose order holds the inputs that name no one person (a year-end close, a
#: premium roll). Shared by a transaction that must see every close and roll received before it, or be
#: seen by them: one is received under this row's exclusive lock.
_SHARE_REGION_WIDE = "SELECT 1 FROM persons WHERE psn_no = '' FOR SHARE"


@asynccontextmanager
async def persons_locked(
    pool: asyncpg.Pool, persons: Iterable[str], *, behind_region_wide: bool = False
) -> AsyncIterator[Persons]:
    """A transaction holding the persons' rows, locked in one order so that holders never deadlock
    (a person named for the first time gets a row); committed when the block ends — what the block
    took of each person's order saved with it —, rolled back if it raises.

    ``behind_region_wide``: first share the row of "" (before the persons', so the order holds), so
    that no year-end close or premium roll is received while this runs. A claim, grant or enrollment
    change reads the closes and rolls to put those its person lacks before it, and a close or roll
    looks for the persons it reaches once it is recorded: without the share, one that read before a
    close or roll was recorded and committed after it had looked would be missed by both."""
    names = sorted(set(persons))
    async with pool.acquire() as conn:
        try:
            await conn.execute("BEGIN")
            if behind_region_wide:
                await conn.execute(_SHARE_REGION_WIDE)
            rows = await conn.fetch(_LOCK_PERSONS, names) if names else []
            locked = Persons(conn, {row["psn_no"]: row["last_seq"] for row in rows})
            yield locked
            await locked.save()
        except BaseException:
            await _roll_back(conn)
            raise
        await conn.execute("COMMIT")


async def _roll_back(conn: asyncpg.Connection) -> None:
    """End a failed transaction; if the connection is broken, the pool's release ends it."""
    if conn.is_closed() or not conn.is_in_transaction():
        return
    try:
        await conn.execute("ROLLBACK")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        pass


def columns(rows: Sequence[tuple], width: int = 0) -> list[list]:
    """Rows as the columns an unnest(...) statement takes (``width`` empty ones when there are none)."""
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]
