"""What every part of the PostgreSQL store shares: JSON through orjson, per-person locks, batch helpers."""
from __future__ import annotations

from collections.abc import Callable, Iterable
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


_LOCK_PERSONS = """
SELECT pg_advisory_xact_lock($1::integer, h)
FROM (SELECT DISTINCT hashtext(p) AS h FROM unnest($2::text[]) AS p) AS s
ORDER BY h"""  # volatile output expressions are evaluated after the sort: locks in hash order


async def lock_persons(conn: asyncpg.Connection, persons: Iterable[str]) -> None:
    """Transaction locks on each person, always taken in one order, so holders never deadlock."""
    await conn.fetch(_LOCK_PERSONS, PERSON_LOCKS, sorted(set(persons)))


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
