"""Year-end closes: once per region and year; each person with claims of that region's year gets
the close in their queue, to take effect in their order."""
from __future__ import annotations

import asyncpg

from schemas.events import YearEndClose

from ..records import Arrival, InputReceipt
from .archive import archive, set_outcome

_QUEUE_PERSONS = """
INSERT INTO person_queue (psn_no, seq, sub, kind, ref, ready)
SELECT DISTINCT psn_no, $1::bigint, 0, 'close', $2, true FROM claims_received WHERE region = $3 AND year = $4
ON CONFLICT DO NOTHING
RETURNING psn_no"""


class Closes:
    _pool: asyncpg.Pool

    async def receive_close(self, arrival: Arrival[YearEndClose]) -> InputReceipt:
        """Record a close once (closing again changes nothing, and says when it was closed); the
        persons it settles are returned, each to be woken (their queues apply it in order)."""
        close = arrival.event
        async with self._pool.acquire() as conn, conn.transaction():
            seq, new_position = await archive(conn, arrival, "close", None)
            earlier = await conn.fetchrow("SELECT event_id, input_seq, closed_at FROM year_closes WHERE region = $1 AND year = $2",
                                          close.region, close.year)
            if earlier is not None:
                reason = (f"{close.region} {close.year} was closed by {earlier['event_id']} on "
                          f"{earlier['closed_at']:%Y-%m-%d}; closing again changes nothing")
                if new_position and earlier["input_seq"] != seq:
                    await set_outcome(conn, seq, "repeat", reason)
                persons = await conn.fetch("SELECT DISTINCT psn_no FROM person_queue WHERE kind = 'close' AND ref = $1",
                                           earlier["event_id"])
                return InputReceipt("repeat", earlier["input_seq"], reason, tuple(r["psn_no"] for r in persons))
            await conn.execute("INSERT INTO year_closes (region, year, event_id, input_seq, closed_at) VALUES ($1, $2, $3, $4, $5)",
                               close.region, close.year, close.event_id, seq, close.closed_at)
            rows = await conn.fetch(_QUEUE_PERSONS, seq, close.event_id, close.region, close.year)
        return InputReceipt("applied", seq, persons=tuple(sorted(r["psn_no"] for r in rows)))

    async def closes(self) -> list[YearEndClose]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT event_id, region, year, closed_at FROM year_closes ORDER BY input_seq")
        return [YearEndClose(**dict(row)) for row in rows]
