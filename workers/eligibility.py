"""Eligibility: record authorities' grants and revocations; a person with claims has their years
settled again in order, what was paid on revoked grounds recovered (追回)."""
from __future__ import annotations

from datetime import datetime, timezone

from schemas.events import EligibilityChange
from streams.topics import ELIGIBILITY, ELIGIBILITY_REJECTED

from .harness import Context, Incoming, Outgoing, Worker
from .outbox import OUTBOX_TOPICS, after_sent, messages
from .trust import decode_trusted


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    decoded, out = await decode_trusted(context, EligibilityChange, batch, ELIGIBILITY_REJECTED, "eligibility")
    if decoded:
        _, outbox = await (await context.store()).record_changes([i.arrival(c) for i, c in decoded], datetime.now(timezone.utc))
        out += messages(outbox)
    return out


WORKER = Worker("eligibility", ELIGIBILITY, handle, after_sent, sinks=(ELIGIBILITY_REJECTED, *OUTBOX_TOPICS), background=True)
