"""Cancellations (结算撤销): archived, applied to their claim in its person's order, or kept waiting
for a claim not yet received — never dropped."""

from __future__ import annotations

import asyncpg

from schemas.events import ClaimCancellation

from ..records import Arrival, InputReceipt
from .archive import archive, set_outcome
from .connection import Persons, persons_locked

_INSERT = """
INSERT INTO cancellations (event_id, fixmedins_code, input_seq, claim_id, psn_no, reason, cancelled_at, event, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)"""


class Cancellations:
    _pool: asyncpg.Pool
    life: int

    async def receive_cancellations(self, arrivals: list[Arrival[ClaimCancellation]]) -> list[InputReceipt]:
        """Archive each cancellation and queue it in its person's order: ``applied`` (the ledger
        reverses the claim once everything received before has taken effect), ``waiting`` (its
        claim has not been received; it is queued when it is), ``repeat`` (the same hospital's same
        event again), or ``refused`` (the claim is another person's, or already cancelled: nothing
        changes, and the reason says so). A cancellation is its hospital's and acts only on that
        hospital's own claim: another hospital's cancellation of the same claim_id waits for a
        claim of its own, and stands in nobody's way."""
        if not arrivals:
            return []
        async with persons_locked(self._pool, (a.event.psn_no for a in arrivals)) as locked:
            return [await _receive(locked, self.life, arrival) for arrival in arrivals]

    async def waiting_cancellations(self) -> list[ClaimCancellation]:
        """Cancellations still waiting for their claim, oldest first."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT event FROM cancellations WHERE status = 'waiting' ORDER BY received_at, event_id"
            )
        return [ClaimCancellation.model_validate(row["event"]) for row in rows]


async def _receive(locked: Persons, life: int, arrival: Arrival[ClaimCancellation]) -> InputReceipt:
    cancellation = arrival.event
    seq, new_position = await archive(locked, life, arrival, "cancellation", cancellation.psn_no)
    receipt = await _decide(locked.conn, cancellation, seq)
    if new_position and receipt.status in ("repeat", "refused"):
        await set_outcome(
            locked, cancellation.psn_no, seq, "repeat" if receipt.status == "repeat" else "rejected", receipt.reason
        )
    return receipt


async def _decide(conn: asyncpg.Connection, cancellation: ClaimCancellation, seq: int) -> InputReceipt:
    known = await conn.fetchrow(
        "SELECT input_seq, status FROM cancellations WHERE psn_no = $1 AND fixmedins_code = $2 AND event_id = $3",
        cancellation.psn_no,
        cancellation.fixmedins_code or "",
        cancellation.event_id,
    )
    if known is not None:
        return InputReceipt("repeat", known["input_seq"], f"cancellation {cancellation.event_id} was received before")
    claim = cancellation.claim_id + (
        f" of hospital {cancellation.fixmedins_code}" if cancellation.fixmedins_code else ""
    )
    owner = await conn.fetchval("SELECT psn_no FROM claim_owners WHERE claim_key = $1", cancellation.claim_key)
    if owner is not None and owner != cancellation.psn_no:
        return InputReceipt("refused", seq, f"claim {claim} belongs to another person; nothing was cancelled")
    status = "applied" if owner is not None else "waiting"
    earlier = await conn.fetchrow(
        "SELECT event_id, cancelled_at FROM cancellations WHERE psn_no = $1 AND claim_key = $2 AND status = $3",
        cancellation.psn_no,
        cancellation.claim_key,
        status,
    )
    if earlier is not None and status == "applied":
        return InputReceipt(
            "refused",
            seq,
            (
                f"claim {claim} was already cancelled by {earlier['event_id']} "
                f"({earlier['cancelled_at']:%Y-%m-%d %H:%M}); this cancellation changes nothing"
            ),
        )
    if earlier is not None:
        return InputReceipt(
            "refused",
            seq,
            (
                f"cancellation {earlier['event_id']} of claim {claim} is already waiting "
                "for the claim; this one changes nothing"
            ),
        )
    await conn.execute(
        _INSERT,
        cancellation.event_id,
        cancellation.fixmedins_code or "",
        seq,
        cancellation.claim_id,
        cancellation.psn_no,
        cancellation.reason,
        cancellation.cancelled_at,
        cancellation.model_dump(mode="json", by_alias=True),
        status,
    )
    if status == "applied":
        await conn.execute(
            "INSERT INTO person_queue (psn_no, seq, sub, kind, ref, ready)"
            " VALUES ($1, $2, 0, 'cancellation', $3, true)",
            cancellation.psn_no,
            seq,
            cancellation.key,
        )
    return InputReceipt(status, seq)
