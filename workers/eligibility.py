"""The eligibility worker: authorities' grants and revocations into the identity tables."""
from __future__ import annotations

from functools import cache

from policies.loader import load_policies
from schemas.codes import Category, categories_named
from schemas.events import EligibilityChange
from streams.codecs import encode
from streams.topics import ELIGIBILITY, ELIGIBILITY_REJECTED, RESETTLE

from .harness import Context, Incoming, Outgoing, Worker


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    changes, out = await context.decode_all(EligibilityChange, batch, ELIGIBILITY_REJECTED)
    if changes:
        await (await context.store()).record_changes(changes)
    # every grant that reaches back goes on to be settled again, also when seen before: the
    # re-settlement is idempotent per grant, and a crash between the two steps loses nothing
    out += [Outgoing(RESETTLE, c.psn_no.encode(), encode(c)) for c in changes
            if c.action == "grant" and c.category in reaching_back()]
    return out


@cache
def reaching_back() -> frozenset[Category]:
    """The categories some policy lets cover costs before their valid_from."""
    return frozenset(c for policy in load_policies() for retro in policy.retroactive
                     for pattern in retro.categories for c in categories_named(pattern))


WORKER = Worker("eligibility", ELIGIBILITY, handle)
