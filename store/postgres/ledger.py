"""The ledger's writes: settlement records once each, published in commit order; rejections kept."""
from __future__ import annotations

import asyncpg

from schemas.events import Settlement

from .connection import first_of_each

_INSERT_SETTLEMENTS = """
INSERT INTO settlements (settlement_id, claim_id, kind, psn_no, record, medfee_sumamt, fund_pay_sumamt, psn_part_amt)
SELECT s, c, k, p, r::jsonb, m, f, pp
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], $8::numeric[])
    WITH ORDINALITY AS x(s, c, k, p, r, m, f, pp, ord)
ORDER BY ord
ON CONFLICT (settlement_id) DO NOTHING"""

_INSERT_REJECTION = """
INSERT INTO rejections (topic, reason, original, "partition", "offset") VALUES ($1, $2, $3, $4, $5)"""



class Ledger:
    _pool: asyncpg.Pool

    async def record_settlements(self, settlements: list[Settlement]) -> list[bool]:
        """Record settlements; True for each that still needs publishing (new, or not yet published).

        The table is locked against other writers for the transaction (as the eventsourcing
        PostgreSQL recorder does), so ``seq`` order is commit order and a reader paging with
        ``after_seq`` never skips a record committed later under a smaller ``seq``.
        """
        if not settlements:
            return []
        first = first_of_each(settlements, lambda s: s.settlement_id)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("LOCK TABLE settlements IN EXCLUSIVE MODE")
            await conn.execute(_INSERT_SETTLEMENTS, *_settlement_columns(first))
            rows = await conn.fetch(
                "SELECT settlement_id, published FROM settlements WHERE settlement_id = ANY($1::text[])",
                [s.settlement_id for s in first],
            )
        published = {row["settlement_id"]: row["published"] for row in rows}
        return [not published[s.settlement_id] for s in settlements]

    async def mark_published(self, settlement_ids: list[str]) -> None:
        """Mark settlements as published (unknown ids are ignored)."""
        if settlement_ids:
            async with self._pool.acquire() as conn:
                await conn.execute(
                    "UPDATE settlements SET published = true WHERE settlement_id = ANY($1::text[]) AND NOT published",
                    list(settlement_ids),
                )

    async def settlements(self, *, after_seq: int = 0, limit: int = 1000) -> list[tuple[int, Settlement]]:
        """Up to ``limit`` settlements with ``seq`` greater than ``after_seq``, in seq order."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT seq, record FROM settlements WHERE seq > $1 ORDER BY seq LIMIT $2", after_seq, limit
            )
        return [(row["seq"], Settlement.model_validate(row["record"])) for row in rows]

    async def record_rejection(
        self, topic: str, reason: str, original: str, partition: int | None, offset: int | None
    ) -> None:
        """Keep a rejected input with where it came from and why (NUL characters escaped: text cannot hold them)."""
        async with self._pool.acquire() as conn:
            await conn.execute(_INSERT_REJECTION, topic, reason, original.replace("\x00", "\\u0000"), partition, offset)



def _settlement_columns(settlements: list[Settlement]) -> list[list]:
    return [
        [s.settlement_id for s in settlements], [s.claim_id for s in settlements], [s.kind for s in settlements],
        [s.psn_no for s in settlements], [s.model_dump_json(by_alias=True) for s in settlements],
        [s.medfee_sumamt for s in settlements], [s.fund_pay_sumamt for s in settlements],
        [s.psn_part_amt for s in settlements],
    ]
