"""Bad input kept once per place it came from, the archive read back for audits, and parked messages."""
from __future__ import annotations

import asyncpg

from ..records import START, ArchivedInput, Arrival, Parked, Place
from .archive import archive
from .connection import persons_locked

_INSERT_REJECTION = """
INSERT INTO rejections (topic, reason, original, "partition", "offset", psn_no, life) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (psn_no, life, topic, "partition", "offset") WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL DO NOTHING
RETURNING id"""

_PARK = """
INSERT INTO parked (worker, topic, "partition", "offset", msg_key, msg_value, error, behind, psn_no, life)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (psn_no, worker, life, topic, "partition", "offset") WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL
DO UPDATE SET error = EXCLUDED.error
RETURNING parked_id"""


_INPUTS_AFTER = """
SELECT psn_no, seq, life, topic, "partition", "offset", raw, kind, outcome, reason, received_at FROM inputs
WHERE (psn_no, seq) > ($1, $2) ORDER BY psn_no, seq LIMIT $3"""


class Inputs:
    _pool: asyncpg.Pool
    life: int

    async def reject(self, arrival: Arrival, kind: str, reason: str, psn_no: str | None = None) -> bool:
        """Archive a refused input and keep it with its reason; True the first time this place is refused
        (a redelivered bad event is counted once)."""
        original = arrival.raw.decode("utf-8", errors="backslashreplace").replace("\x00", "\\u0000")
        async with persons_locked(self._pool, [psn_no or ""]) as locked:
            await archive(locked, self.life, arrival, kind, psn_no, "rejected", reason)
            return await locked.conn.fetchval(_INSERT_REJECTION, arrival.topic, reason, original, arrival.partition,
                                              arrival.offset, psn_no or "", self.life) is not None

    async def inputs(self, *, after: Place = START, limit: int = 10_000) -> list[ArchivedInput]:
        """The archive after the place ``after``: each person's inputs in the order they take effect
        (persons in order of their numbers; "", what names no one person, first)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_INPUTS_AFTER, after.psn_no, after.seq, limit)
        return [ArchivedInput(r["seq"], r["topic"], r["partition"], r["offset"], bytes(r["raw"]), r["kind"], r["outcome"],
                              r["reason"], r["received_at"], r["psn_no"], r["life"]) for r in rows]

    # --- parking

    async def park(self, worker: str, topic: str, partition: int | None, offset: int | None, key: bytes | None,
                   value: bytes | None, error: str, behind: bool) -> int:
        """Keep a message a worker could not handle (or one waiting behind such a message of its person)."""
        psn_no = key.decode("utf-8", errors="backslashreplace") if key is not None else ""
        async with self._pool.acquire() as conn:
            return await conn.fetchval(_PARK, worker, topic, partition, offset, key, value, error, behind, psn_no, self.life)

    async def parked_keys(self, worker: str) -> set[bytes]:
        """The message keys (persons) that have something parked for this worker."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT DISTINCT msg_key FROM parked WHERE worker = $1 AND msg_key IS NOT NULL", worker)
        return {bytes(row["msg_key"]) for row in rows}

    async def parked(self, worker: str | None = None) -> list[Parked]:
        """What is parked (for one worker, or all), in the order parked."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch('SELECT parked_id, worker, topic, "partition", "offset", msg_key, msg_value, error, parked_at, '
                                    "behind FROM parked WHERE $1::text IS NULL OR worker = $1 ORDER BY parked_id", worker)
        return [Parked(r["parked_id"], r["worker"], r["topic"], r["partition"], r["offset"],
                       bytes(r["msg_key"]) if r["msg_key"] is not None else None,
                       bytes(r["msg_value"]) if r["msg_value"] is not None else None, r["error"], r["parked_at"], r["behind"])
                for r in rows]

    async def unpark(self, parked_id: int) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute("DELETE FROM parked WHERE parked_id = $1", parked_id)
