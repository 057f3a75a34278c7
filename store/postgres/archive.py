"""The archive: every input as received — raw bytes, topic, partition, offset, time — accepted or
not, once per place it came from. Its ``seq`` is the order inputs take effect in (store/life.py)."""
from __future__ import annotations

import hashlib

import asyncpg

from ..records import Arrival

_ARCHIVE = """
INSERT INTO inputs (topic, "partition", "offset", digest, raw, psn_no, kind, outcome, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (topic, "partition", "offset", digest) WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL DO NOTHING
RETURNING seq"""

_ARCHIVED = """
SELECT seq, outcome, reason FROM inputs
WHERE topic = $1 AND "partition" = $2 AND "offset" = $3 AND digest = $4"""


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


async def archive(conn: asyncpg.Connection, arrival: Arrival, kind: str, psn_no: str | None,
                  outcome: str = "accepted", reason: str | None = None) -> tuple[int, bool]:
    """(seq, new): the input's place in the archive; an input delivered again keeps its first place."""
    fingerprint = digest(arrival.raw)
    seq = await conn.fetchval(_ARCHIVE, arrival.topic, arrival.partition, arrival.offset, fingerprint, arrival.raw,
                              psn_no, kind, outcome, reason)
    if seq is not None:
        return seq, True
    row = await conn.fetchrow(_ARCHIVED, arrival.topic, arrival.partition, arrival.offset, fingerprint)
    return row["seq"], False


async def set_outcome(conn: asyncpg.Connection, seq: int, outcome: str, reason: str | None = None) -> None:
    await conn.execute("UPDATE inputs SET outcome = $2, reason = $3 WHERE seq = $1", seq, outcome, reason)
