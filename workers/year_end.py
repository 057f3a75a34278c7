"""The year-end close (年终清算) of a region's year: recorded once, then every person with claims of
that year is woken: the ledger settles it in their order. A close moves money, so it is signed by a
key of the authority medical_insurance like every input that does (workers/trust.py); any other is
refused before it can take the region's year."""

from __future__ import annotations

from policies.loader import policy_named
from schemas.events import YearEndClose
from streams.topics import LEDGER, REJECTED, YEAR_END

from .harness import Context, Incoming, Outgoing, Worker
from .trust import decode_trusted
from .wakeups import wake


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    decoded, out = await decode_trusted(context, YearEndClose, batch, REJECTED, "close", "not a year-end close: ")
    store = await context.store()
    for incoming, close in decoded:
        if not policy_named(close.region):
            out.append(
                await context.reject(REJECTED, incoming, f"no policy of a region named {close.region!r}", "close")
            )
            continue
        receipt = await store.receive_close(incoming.arrival(close))
        # also when closed before: a close interrupted before it woke everyone finishes now
        out += wake(receipt.persons, f"year-end close {close.event_id}")
    return out


WORKER = Worker("year_end", YEAR_END, handle, sinks=(LEDGER, REJECTED), background=True)
