"""Cancellations (结算撤销): archived, applied to their claim in its person's order, or kept waiting
for a claim not yet received — never dropped."""
from __future__ import annotations

from datetime import datetime

import asyncpg

from schemas.events import ClaimCancellation

from ..records import Arrival, InputReceipt, Outbox
from .archive import archive, set_outcome
from .connection import persons_locked
from .ledger import settle_in_order

_INSERT = """
INSERT INTO cancellations (event_id, input_seq, claim_id, psn_no, reason, cancelled_at, event, status)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)"""


class Cancellations:
    _pool: asyncpg.Pool

    async def receive_cancellations(self, arrivals: list[Arrival[ClaimCancellation]], now: datetime) -> tuple[list[InputReceipt], Outbox]:
        """Archive each cancellation and apply it in its person's order: ``applied`` (the claim is
        reversed once everything received before has taken effect), ``waiting`` (its claim has not
        been received; it is applied when it is), ``repeat`` (the same event again), or ``refused``
        (the claim is another person's, or already cancelled: nothing changes, and the reason says so)."""
        if not arrivals:
            return [], Outbox()
        async with persons_locked(self._pool, (a.event.psn_no for a in arrivals)) as conn:
            receipts = [await _receive(conn, arrival) for arrival in arrivals]
            outbox = await settle_in_order(conn, (a.event.psn_no for a in arrivals), now)
        return receipts, outbox

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
    known = await conn.fetchrow("SELECT input_seq, status FROM cancellations WHERE event_id = $1", cancellation.event_id)
    if known is not None:
        return InputReceipt("repeat", known["input_seq"], f"cancellation {cancellation.event_id} was received before")
    claim = await conn.fetchrow("SELECT psn_no, payload ->> 'fixmedins_code' AS hospital FROM claims_received "
                                "WHERE claim_id = $1 ORDER BY revision LIMIT 1", cancellation.claim_id)
    owner = claim["psn_no"] if claim else None
    if owner is not None and owner != cancellation.psn_no:
        return InputReceipt("refused", seq, f"claim {cancellation.claim_id} belongs to another person; nothing was cancelled")
    if claim is not None and cancellation.fixmedins_code and cancellation.fixmedins_code != claim["hospital"]:
        return InputReceipt("refused", seq, f"claim {cancellation.claim_id} is not hospital {cancellation.fixmedins_code}'s; "
                                            "nothing was cancelled")
    status = "applied" if owner is not None else "waiting"
    earlier = await conn.fetchrow("SELECT event_id, cancelled_at FROM cancellations WHERE claim_id = $1 AND psn_no = $2 AND status = $3",
                                  cancellation.claim_id, cancellation.psn_no, status)
    if earlier is not None and status == "applied":
        return InputReceipt("refused", seq, (f"claim {cancellation.claim_id} was already cancelled by {earlier['event_id']} "
                                             f"({earlier['cancelled_at']:%Y-%m-%d %H:%M}); this cancellation changes nothing"))
    if earlier is not None:
        return InputReceipt("refused", seq, (f"cancellation {earlier['event_id']} of claim {cancellation.claim_id} is already waiting "
                                             "for the claim; this one changes nothing"))
    await conn.execute(_INSERT, cancellation.event_id, seq, cancellation.claim_id, cancellation.psn_no, cancellation.reason,
                       cancellation.cancelled_at, cancellation.model_dump(mode="json", by_alias=True), status)
    if status == "applied":
        await conn.execute("INSERT INTO person_queue (psn_no, seq, sub, kind, ref, ready) VALUES ($1, $2, 0, 'cancellation', $3, true)",
                           cancellation.psn_no, seq, cancellation.event_id)
    return InputReceipt(status, seq)
