"""The eligibility worker: authorities' grants and revocations into the identity tables."""
from __future__ import annotations

from schemas.events import EligibilityChange
from streams.codecs import BadInput, decode
from streams.topics import ELIGIBILITY, ELIGIBILITY_REJECTED

from .stage import Context, Incoming, Outgoing, Stage


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    out: list[Outgoing] = []
    changes: list[EligibilityChange] = []
    for incoming in batch:
        try:
            changes.append(decode(EligibilityChange, incoming.value))
        except BadInput as problem:
            out.append(await context.reject(ELIGIBILITY_REJECTED, incoming, str(problem)))
    if changes:
        await (await context.store()).record_changes(changes)
    return out


STAGE = Stage("eligibility", ELIGIBILITY, handle)
