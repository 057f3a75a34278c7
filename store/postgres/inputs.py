"""Bad input kept once per place it came from, the archive read back for audits, and parked messages."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from ..columns import without_nul
from ..reasons import required_for_a_drop
from ..records import START, ArchivedInput, Arrival, DroppedParked, Parked, Place
from .archive import archive
from .connection import persons_locked

_INSERT_REJECTION = """
INSERT INTO rejections (topic, reason, original, "partition", "offset", psn_no, life)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (psn_no, life, topic, "partition", "offset") WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL
    DO NOTHING
RETURNING id"""

_PARK = """
INSERT INTO parked (worker, topic, "partition", "offset", msg_key, msg_value, error, behind, header_names,
                    header_values, psn_no, life)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (psn_no, worker, life, topic, "partition", "offset") WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL
DO UPDATE SET error = EXCLUDED.error
RETURNING parked_id"""

_PARKED_COLUMNS = (
    'parked_id, worker, topic, "partition", "offset", msg_key, msg_value, error, parked_at, behind, header_names, '
    "header_values, psn_no, life"
)

_DROP = f"""
WITH gone AS (DELETE FROM parked WHERE psn_no = $4 AND parked_id = $1 RETURNING {_PARKED_COLUMNS})
INSERT INTO parked_dropped ({_PARKED_COLUMNS}, reason, dropped_by)
SELECT {_PARKED_COLUMNS}, $2, $3 FROM gone
RETURNING dropped_id, reason, dropped_by, dropped_at, {_PARKED_COLUMNS}"""


_INPUTS_AFTER = """
SELECT psn_no, seq, life, topic, "partition", "offset", raw, kind, outcome, reason, received_at FROM inputs
WHERE (psn_no, seq) > ($1, $2) ORDER BY psn_no, seq LIMIT $3"""


class Inputs:
    _pool: asyncpg.Pool
    life: int

    async def reject(self, arrival: Arrival, kind: str, reason: str, psn_no: str | None = None) -> bool:
        """Archive a refused input and keep it with its reason; True the first time this place is refused
        (a redelivered bad event is counted once)."""
        original = without_nul(arrival.raw.decode("utf-8", errors="backslashreplace"))
        reason = without_nul(reason)
        async with persons_locked(self._pool, [psn_no or ""]) as locked:
            await archive(locked, self.life, arrival, kind, psn_no, "rejected", reason)
            return (
                await locked.conn.fetchval(
                    _INSERT_REJECTION,
                    arrival.topic,
                    reason,
                    original,
                    arrival.partition,
                    arrival.offset,
                    psn_no or "",
                    self.life,
                )
                is not None
            )

    async def inputs(self, *, after: Place = START, limit: int = 10_000) -> list[ArchivedInput]:
        """The archive after the place ``after``: each person's inputs in the order they take effect
        (persons in order of their numbers; "", what names no one person, first)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_INPUTS_AFTER, after.psn_no, after.seq, limit)
        return [
            ArchivedInput(
                r["seq"],
                r["topic"],
                r["partition"],
                r["offset"],
                bytes(r["raw"]),
                r["kind"],
                r["outcome"],
                r["reason"],
                r["received_at"],
                r["psn_no"],
                r["life"],
            )
            for r in rows
        ]

    # --- parking

    async def park(
        self,
        worker: str,
        topic: str,
        partition: int | None,
        offset: int | None,
        key: bytes | None,
        value: bytes | None,
        error: str,
        behind: bool,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> int:
        """Keep a message a worker could not handle (or one waiting behind such a message of its person), with
        its headers."""
        names = [name.encode("utf-8", errors="surrogatepass") for name, _ in headers]
        psn_no = key.decode("utf-8", errors="backslashreplace") if key is not None else ""
        async with self._pool.acquire() as conn:
            return await conn.fetchval(
                _PARK,
                worker,
                topic,
                partition,
                offset,
                key,
                value,
                without_nul(error),
                behind,
                names,
                [bytes(value) for _, value in headers],
                without_nul(psn_no),
                self.life,
            )

    async def parked_keys(self, worker: str) -> set[bytes]:
        """The message keys (persons) that have something parked for this worker."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT DISTINCT msg_key FROM parked WHERE worker = $1 AND msg_key IS NOT NULL", worker
            )
        return {bytes(row["msg_key"]) for row in rows}

    async def parked(self, worker: str | None = None) -> list[Parked]:
        """What is parked (for one worker, or all), in the order parked."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {_PARKED_COLUMNS} FROM parked WHERE $1::text IS NULL OR worker = $1 ORDER BY parked_id", worker
            )
        return [_parked(r) for r in rows]

    async def unpark(self, parked_id: int) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute("DELETE FROM parked WHERE parked_id = $1", parked_id)

    async def drop_parked(self, parked_id: int, reason: str, by: str) -> DroppedParked:
        """Resolve a parked message without handling it: moved, whole, to ``parked_dropped`` with why and by whom."""
        reason, by = required_for_a_drop("a reason", reason), required_for_a_drop("the operator's name", by)
        async with self._pool.acquire() as conn, conn.transaction():
            # whose it is first: the drop itself is then one person's rows (routed to their shard)
            psn_no = await conn.fetchval("SELECT psn_no FROM parked WHERE parked_id = $1", parked_id)
            row = await conn.fetchrow(_DROP, parked_id, reason, by, psn_no) if psn_no is not None else None
        if row is None:
            raise LookupError(f"nothing is parked as #{parked_id} (`onestop parked` lists what is)")
        return _dropped(row)

    async def dropped(self, worker: str | None = None) -> list[DroppedParked]:
        """The parked messages operators dropped, in the order dropped."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT dropped_id, reason, dropped_by, dropped_at, {_PARKED_COLUMNS} FROM parked_dropped "
                "WHERE $1::text IS NULL OR worker = $1 ORDER BY dropped_id",
                worker,
            )
        return [_dropped(r) for r in rows]


def _optional_bytes(value) -> bytes | None:
    return bytes(value) if value is not None else None


def _parked(r) -> Parked:
    headers = tuple(
        (bytes(name).decode("utf-8", errors="surrogatepass"), bytes(value))
        for name, value in zip(r["header_names"], r["header_values"])
    )
    return Parked(
        r["parked_id"],
        r["worker"],
        r["topic"],
        r["partition"],
        r["offset"],
        _optional_bytes(r["msg_key"]),
        _optional_bytes(r["msg_value"]),
        r["error"],
        r["parked_at"],
        r["behind"],
        headers,
    )


def _dropped(r) -> DroppedParked:
    return DroppedParked(r["dropped_id"], _parked(r), r["reason"], r["dropped_by"], r["dropped_at"])
