"""The ledger step: each fully paid claim takes effect in its person's order — settled with its
payers' lines, or by the rules when something changed its year on the way — and is published."""
from __future__ import annotations

from datetime import datetime, timezone

from streams.flight import read_paid
from streams.topics import LEDGER, REJECTED

from . import metrics
from .harness import Context, Incoming, Outgoing, Worker
from .outbox import OUTBOX_TOPICS, after_sent, messages


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    decoded, out = await context.read_all(read_paid, batch, REJECTED, "not a paid claim for the ledger: ")
    arrived = [(paid.psn_no, paid.claim_id) for _, paid in decoded]
    if arrived:
        out += messages(await (await context.store()).arrive(arrived, datetime.now(timezone.utc)))
        metrics.settled(paid.published_at.timestamp() for _, paid in decoded if paid.published_at is not None)
    return out


WORKER = Worker("ledger", LEDGER, handle, after_sent, sinks=(REJECTED, *OUTBOX_TOPICS))
