"""Year-end closes: once per region and year. A close takes its place in the order of each person
it settles — each person with claims of that region's year when it is received, and any person
whose first claim of that year comes after it (intake puts the close before that claim): archived
in the person's order (the archive is by person), remembered (``person_closes``) and queued."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from schemas.events import YearEndClose

from ..records import Arrival, InputReceipt
from .archive import archive, archive_all, set_outcome
from .connection import Persons, persons_locked


@dataclass(frozen=True)
class Close:
    """A close as it was received (its archive row), to be put in persons' orders."""

    event_id: str
    region: str
    year: int
    arrival: Arrival


_CLOSE = """
SELECT y.event_id, y.region, y.year, i.topic, i."partition", i."offset", i.raw
FROM year_closes AS y JOIN inputs AS i ON i.psn_no = '' AND i.seq = y.input_seq"""

# the persons with claims of a region's year that have not taken its close
_WITHOUT_IT = """
SELECT DISTINCT c.psn_no FROM claims_received AS c
WHERE c.region = $1 AND c.year = $2
  AND NOT EXISTS (SELECT 1 FROM person_closes AS p WHERE p.psn_no = c.psn_no AND p.region = $1 AND p.year = $2)"""

_TAKE = """
WITH taken AS (
    INSERT INTO person_closes (psn_no, region, year, seq, event_id)
    SELECT n, $2, $3, q, $1 FROM unnest($4::text[], $5::bigint[]) AS x(n, q)
    ON CONFLICT DO NOTHING
    RETURNING psn_no, seq
)
INSERT INTO person_queue (psn_no, seq, sub, kind, ref, ready)
SELECT psn_no, seq, 0, 'close', $1, true FROM taken"""


async def closes_of(pool_or_conn) -> dict[tuple[str, int], Close]:
    """Every close received, by (region, year), with its archive row."""
    rows = await pool_or_conn.fetch(_CLOSE)
    return {
        (r["region"], r["year"]): Close(
            r["event_id"],
            r["region"],
            r["year"],
            Arrival(r["topic"], r["partition"], r["offset"], bytes(r["raw"]), None),
        )
        for r in rows
    }


async def take_close(locked: Persons, life: int, close: Close, persons: Iterable[str]) -> list[str]:
    """Put ``close`` in each of ``persons``' order, at their next place (they must be locked): archived
    there, remembered and queued. The persons who had not taken it before."""
    persons = sorted(set(persons))
    if not persons:
        return []
    places = await archive_all(locked, life, [close.arrival] * len(persons), "close", list(persons))
    await locked.conn.execute(_TAKE, close.event_id, close.region, close.year, persons, [seq for seq, _ in places])
    return persons


class Closes:
    _pool: asyncpg.Pool
    life: int

    async def receive_close(self, arrival: Arrival[YearEndClose]) -> InputReceipt:
        """Record a close once (closing again changes nothing, and says when it was closed) and put it
        in the order of every person it settles; those persons are returned, each to be woken (their
        queues apply it in order). A close received again finishes putting it where a crash stopped."""
        close = arrival.event
        async with persons_locked(self._pool, [""]) as locked:
            seq, new_position = await archive(locked, self.life, arrival, "close", None)
            earlier = await locked.conn.fetchrow(
                "SELECT event_id, input_seq, closed_at FROM year_closes WHERE region = $1 AND year = $2",
                close.region,
                close.year,
            )
            if earlier is None:
                await locked.conn.execute(
                    "INSERT INTO year_closes (region, year, event_id, input_seq, closed_at)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    close.region,
                    close.year,
                    close.event_id,
                    seq,
                    close.closed_at,
                )
            elif new_position and earlier["input_seq"] != seq:
                reason = (
                    f"{close.region} {close.year} was closed by {earlier['event_id']} on "
                    f"{earlier['closed_at']:%Y-%m-%d}; closing again changes nothing"
                )
                await set_outcome(locked, "", seq, "repeat", reason)
        taken = (await closes_of(self._pool))[(close.region, close.year)]
        await self._close_for_everyone(taken)
        async with self._pool.acquire() as conn:
            waiting = [
                r["psn_no"]
                for r in await conn.fetch(
                    "SELECT DISTINCT psn_no FROM person_queue WHERE kind = 'close' AND ref = $1 ORDER BY psn_no",
                    taken.event_id,
                )
            ]
        if earlier is None:
            return InputReceipt("applied", seq, persons=tuple(waiting))
        reason = (
            f"{close.region} {close.year} was closed by {earlier['event_id']} on "
            f"{earlier['closed_at']:%Y-%m-%d}; closing again changes nothing"
        )
        return InputReceipt("repeat", earlier["input_seq"], reason, tuple(waiting))

    async def _close_for_everyone(self, close: Close) -> list[str]:
        """Put the close in the order of every person with claims of its region's year, until none is left
        without it (a claim that came in while it was being put is of a person found on the next round)."""
        settled: list[str] = []
        while True:
            async with self._pool.acquire() as conn:
                waiting = [r["psn_no"] for r in await conn.fetch(_WITHOUT_IT, close.region, close.year)]
            if not waiting:
                return sorted(settled)
            async with persons_locked(self._pool, waiting) as locked:
                still = {r["psn_no"] for r in await locked.conn.fetch(_WITHOUT_IT, close.region, close.year)}
                settled += await take_close(locked, self.life, close, [p for p in waiting if p in still])

    async def closes(self) -> list[YearEndClose]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT event_id, region, year, closed_at FROM year_closes ORDER BY closed_at, event_id"
            )
        return [YearEndClose(**dict(row)) for row in rows]
