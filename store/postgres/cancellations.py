"""Cancellations (结算撤销): archived, applied to their claim in its person's order, or kept waiting
for a claim not yet received — never dropped."""
from __future__ import annotations

import asyncpg

from schemas.events import ClaimCancellation

from ..records import Arrival, InputReceipt
from .archive import archive, set_outcome
from .connection import persons_locked

_INSERT = """
INSERT INTO cancellations (event_id, fixmedins_code, input_seq, claim_id, psn_no, reason, cancelled_at, event, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)"""


class Cancellations:
    _pool: asyncpg.Pool

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
        async with persons_locked(self._pool, (a.event.psn_no for a in arrivals)) as conn:
            return [await _receive(conn, arrival) for arrival in arrivals]

    async def waiting_cancellations(self) -> list[ClaimCancellation]:
        """Cancellations still waiting for their claim, oldest first."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT event FROM cancellations WHERE status = 'waiting' ORDER BY received_at, event_id")
        return [ClaimCancellation.model_validate(row["event"]) for row in rows]


async def _receive(conn: asyncpg.Connection, arrival: Arrival[ClaimCancellation]) -> InputReceipt:
    cancellation = arrival.event
    seq, new_position = await archive(conn, arrival, "cancellation", cancellation.psn_no)
    receipt = await _decide(conn, cancellation, seq)
    if new_position and receipt.status in ("repeat", "refused"):
        await set_outcome(conn, seq, "repeat" if receipt.status == "repeat" else "rejected", receipt.reason)
    return receipt


async def _decide(conn: asyncpg.Connection, cancellation: ClaimCancellation, seq: int) -> InputReceipt:
    known = await conn.fetchrow("SELECT input_seq, status FROM cancellations WHERE fixmedins_code = $1 AND event_id = $2",
                                cancellation.fixmedins_code or "", cancellation.event_id)
    if known is not None:
        return InputReceipt("repeat", known["input_seq"], f"cancellation {cancellation.event_id} was received before")
    claim = cancellation.claim_id + (f" of hospital {cancellation.fixmedins_code}" if cancellation.fixmedins_code else "")
    owner = await conn.fetchval("SELECT psn_no FROM claims_received WHERE claim_key = $1 ORDER BY revision LIMIT 1",
                                cancellation.claim_key)
    if owner is not None and owner != cancellation.psn_no:
        return InputReceipt("refused", seq, f"claim {claim} belongs to another person; nothing was cancelled")
    status = "applied" if owner is not None else "waiting"
    earlier = await conn.fetchrow("SELECT event_id, cancelled_at FROM cancellations WHERE claim_key = $1 AND psn_no = $2 AND status = $3",
                                  cancellation.claim_key, cancellation.psn_no, status)
    if earlier is not None and status == "applied":
        return InputReceipt("refused", seq, (f"claim {claim} was already cancelled by {earlier['event_id']} "
                                             f"({earlier['cancelled_at']:%Y-%m-%d %H:%M}); this cancellation changes nothing"))
    if earlier is not None:
        return InputReceipt("refused", seq, (f"cancellation {earlier['event_id']} of claim {claim} is already waiting "
                                             "for the claim; this one changes nothing"))
    await conn.execute(_INSERT, cancellation.event_id, cancellation.fixmedins_code or "", seq, cancellation.claim_id,
                       cancellation.psn_no, cancellation.reason, cancellation.cancelled_at,
                       cancellation.model_dump(mode="json", by_alias=True), status)
    if status == "applied":
        await conn.execute("INSERT INTO person_queue (psn_no, seq, sub, kind, ref, ready) VALUES ($1, $2, 0, 'cancellation', $3, true)",
                           cancellation.psn_no, seq, cancellation.key)
    return InputReceipt(status, seq)
