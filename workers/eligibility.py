"""Eligibility: record authorities' grants and revocations; a person with claims gets the change in
their queue, and the ledger, woken, settles their years again in order — what was paid on revoked
grounds recovered (追回)."""

from __future__ import annotations

from schemas.events import EligibilityChange
from streams.topics import ELIGIBILITY, ELIGIBILITY_REJECTED, LEDGER

from .harness import Context, Incoming, Outgoing, Worker
from .trust import decode_trusted
from .wakeups import wake


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    decoded, out = await decode_trusted(context, EligibilityChange, batch, ELIGIBILITY_REJECTED, "eligibility")
    if decoded:
        receipts = await (await context.store()).record_changes([i.arrival(c) for i, c in decoded])
        out += wake((psn_no for receipt in receipts for psn_no in receipt.persons), "eligibility change")
    return out


WORKER = Worker("eligibility", ELIGIBILITY, handle, sinks=(ELIGIBILITY_REJECTED, LEDGER), background=True)
