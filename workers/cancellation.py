"""Cancellations (结算撤销): a hospital cancels a settlement; the claim is reversed in its person's
order and the later claims of its year settled again. One for a claim not yet received waits for it."""
from __future__ import annotations

from datetime import datetime, timezone

from schemas.events import ClaimCancellation
from streams.topics import CANCELLED, REJECTED

from .harness import Context, Incoming, Outgoing, Worker
from .outbox import OUTBOX_TOPICS, after_sent, messages
from .trust import decode_trusted


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    decoded, out = await decode_trusted(context, ClaimCancellation, batch, REJECTED, "cancellation", "not a cancellation: ")
    if not decoded:
        return out
    receipts, outbox = await (await context.store()).receive_cancellations(
        [incoming.arrival(c) for incoming, c in decoded], datetime.now(timezone.utc))
    for (incoming, cancellation), receipt in zip(decoded, receipts):
        if receipt.status == "refused":
            out.append(await context.reject(REJECTED, incoming, receipt.reason, "cancellation", cancellation.psn_no))
    return out + messages(outbox)


WORKER = Worker("cancellation", CANCELLED, handle, after_sent, sinks=(REJECTED, *OUTBOX_TOPICS), background=True)
