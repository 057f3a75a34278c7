"""Re-settlement: a person's queued inputs (a year-end close, for now) applied in their order."""
from __future__ import annotations

from datetime import datetime, timezone

from schemas.events import WakeUp
from streams.topics import REJECTED, RESETTLE

from .harness import Context, Incoming, Outgoing, Worker
from .outbox import OUTBOX_TOPICS, after_sent, messages


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    decoded, out = await context.decode_all(WakeUp, batch, REJECTED, "not a wake-up: ")
    persons = sorted({wake.psn_no for _, wake in decoded})
    if persons:
        out += messages(await (await context.store()).apply(persons, datetime.now(timezone.utc)))
    return out


WORKER = Worker("resettlement", RESETTLE, handle, after_sent, sinks=(REJECTED, *OUTBOX_TOPICS), background=True)
