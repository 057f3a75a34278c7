"""Intake's writes: every claim recorded once, as first received, with the identity snapshot."""
from __future__ import annotations

import asyncpg

from ..records import Received, ReceivedClaim
from .connection import first_of_each, json_text

_INSERT_CLAIMS = """
INSERT INTO claims_received (claim_id, psn_no, digest, payload, snapshot, topic, "partition", "offset")
SELECT c, p, d, pl::jsonb, sn::jsonb, t, pa, o
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::integer[], $8::bigint[])
    AS r(c, p, d, pl, sn, t, pa, o)
ON CONFLICT (claim_id) DO NOTHING
RETURNING claim_id"""



class Claims:
    _pool: asyncpg.Pool

    async def receive_claims(self, items: list[ReceivedClaim]) -> list[Received]:
        """Record claims at first receipt; say for each whether it is new, the same, or a conflict.

        "same": received before with the same digest; "conflict": the id was used by a claim
        with another digest. Either way the snapshot returned is the one stored first.
        """
        if not items:
            return []
        first = first_of_each(items, lambda c: c.claim_id)
        async with self._pool.acquire() as conn:
            inserted = {row["claim_id"] for row in await conn.fetch(_INSERT_CLAIMS, *_claim_columns(first))}
            rows = await conn.fetch(
                "SELECT claim_id, digest, snapshot FROM claims_received WHERE claim_id = ANY($1::text[])",
                [c.claim_id for c in first],
            )
        stored = {row["claim_id"]: row for row in rows}
        return _receipts(items, inserted, stored)



def _claim_columns(claims: list[ReceivedClaim]) -> list[list]:
    return [
        [c.claim_id for c in claims], [c.psn_no for c in claims], [c.digest for c in claims],
        [json_text(c.payload) for c in claims], [json_text(c.snapshot) for c in claims],
        [c.topic for c in claims], [c.partition for c in claims], [c.offset for c in claims],
    ]


def _receipts(items: list[ReceivedClaim], inserted: set[str], stored: dict[str, asyncpg.Record]) -> list[Received]:
    """new for the first of each inserted claim; else same or conflict by the stored digest."""
    out, seen = [], set()
    for item in items:
        row = stored[item.claim_id]
        if item.claim_id in inserted and item.claim_id not in seen:
            status = "new"
        else:
            status = "same" if item.digest == row["digest"] else "conflict"
        seen.add(item.claim_id)
        out.append(Received(status, row["snapshot"]))
    return out
