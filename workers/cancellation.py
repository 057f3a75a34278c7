"""Cancellations (结算撤销): a hospital cancels a settlement of its own claim; the cancellation is
queued in the person's order and the ledger, woken, reverses the claim and settles the later
claims of its year again. One for a claim not yet received waits for it."""

from __future__ import annotations

from schemas.events import ClaimCancellation
from streams.topics import CANCELLED, LEDGER, REJECTED

from .harness import Context, Incoming, Outgoing, Worker
from .trust import decode_trusted
from .wakeups import wake


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    decoded, out = await decode_trusted(
        context, ClaimCancellation, batch, REJECTED, "cancellation", "not a cancellation: "
    )
    if not decoded:
        return out
    receipts = await (await context.store()).receive_cancellations([incoming.arrival(c) for incoming, c in decoded])
    for (incoming, cancellation), receipt in zip(decoded, receipts):
        if receipt.status == "refused":
            out.append(await context.reject(REJECTED, incoming, receipt.reason, "cancellation", cancellation.psn_no))
    queued = [c.psn_no for (_, c), receipt in zip(decoded, receipts) if receipt.status == "applied"]
    return out + wake(queued, "cancellation")


WORKER = Worker("cancellation", CANCELLED, handle, sinks=(REJECTED, LEDGER), background=True)
