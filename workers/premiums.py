"""The year's premium roll (参保资助) of a region: recorded once, then put in the order of every person
it may subsidise, each woken: the ledger makes one premium record per subsidised person (PARAMETERS.md,
"Premium subsidies"). A roll moves money, so it is signed by a key of the authority medical_insurance
(workers/trust.py); one for a region or year no policy subsidises is refused with the reason."""

from __future__ import annotations

from policies.premiums import roll_refusal
from schemas.events import PremiumRoll
from streams.topics import LEDGER, PREMIUM_ROLLS, REJECTED

from .harness import Context, Incoming, Outgoing, Worker
from .trust import decode_trusted
from .wakeups import wake


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    decoded, out = await decode_trusted(context, PremiumRoll, batch, REJECTED, "roll", "not a premium roll: ")
    store = await context.store()
    for incoming, roll in decoded:
        why_not = roll_refusal(roll.region, roll.year)
        if why_not is not None:
            out.append(await context.reject(REJECTED, incoming, why_not, "roll"))
            continue
        receipt = await store.receive_roll(incoming.arrival(roll))
        # also when rolled before: a roll interrupted before it woke everyone finishes now
        out += wake(receipt.persons, f"premium roll {roll.event_id}")
    return out


WORKER = Worker("premiums", PREMIUM_ROLLS, handle, sinks=(LEDGER, REJECTED), background=True)
