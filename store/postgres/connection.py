"""What every part of the PostgreSQL store shares: JSON through orjson, per-person locks, batch helpers."""
from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

#: namespace of the per-person transaction locks: intake, payers, eligibility, the ledger take turns per person
PERSON_LOCKS = 0x6F730001


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"  # exact, as a string: never a float
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS)


def json_text(value: Any) -> str:
    """JSON as text, for ``text[]`` parameters cast to jsonb in SQL."""
    return _dumps(value).decode()


def _encode_jsonb(value: Any) -> bytes:
    return b"\x01" + _dumps(value)  # binary jsonb: a version byte, then the text


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


def person_lock_key(psn_no: str) -> int:
    """A person's lock within PERSON_LOCKS: the CRC-32 of the psn_no as a signed 32-bit integer,
    worked out here so that the locks can be asked for in the same round trip as BEGIN."""
    key = zlib.crc32(psn_no.encode())
    return key - (1 << 32) if key >= 1 << 31 else key


@asynccontextmanager
async def persons_locked(pool: asyncpg.Pool, persons: Iterable[str]) -> AsyncIterator[asyncpg.Connection]:
    """A transaction holding the persons' locks, always taken in one order so that holders never
    deadlock; committed when the block ends, rolled back if it raises. BEGIN and the locks go in
    one round trip (the simple protocol takes both; the keys are integers worked out here, so
    nothing of the caller's reaches the SQL text): each round trip is a wait for PostgreSQL's
    process to be scheduled, and that wait, not the statement, is most of a small batch's time."""
    keys = ",".join(str(k) for k in sorted({person_lock_key(p) for p in persons}))
    async with pool.acquire() as conn:
        try:
            await conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({PERSON_LOCKS}, k) "
                               f"FROM unnest('{{{keys}}}'::integer[]) AS k ORDER BY k")
            yield conn
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


def first_of_each(items: Iterable[Any], key: Callable[[Any], str]) -> list[Any]:
    """The items whose key has not been seen before, in order."""
    seen: set[str] = set()
    out = []
    for item in items:
        if key(item) not in seen:
            seen.add(key(item))
            out.append(item)
    return out


def dumps(value: Any) -> bytes:
    """JSON bytes (orjson; Decimal as exact strings)."""
    return _dumps(value)


def first_and_in(items: list[Any], keys: set[str], key: Callable[[Any], str]) -> list[bool]:
    """For each item: its key is in ``keys`` and no earlier item had that key."""
    out, seen = [], set()
    for item in items:
        out.append(key(item) in keys and key(item) not in seen)
        seen.add(key(item))
    return out
