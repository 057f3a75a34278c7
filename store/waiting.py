"""Waiting until the store holds what was sent: the settlements of given claims, a number of
eligibility events. Used by the demo, the tests and the benchmarks."""
from __future__ import annotations

import asyncio
import time

from schemas.events import Settlement

from .interface import Store


async def settled_claims(store: Store, claim_ids: set[str], timeout: float) -> dict[str, Settlement]:
    """Wait until every claim has its settlement recorded; return them by claim_id."""
    found: dict[str, Settlement] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {s.claim_id: s for _, s in await store.settlements(limit=1_000_000) if s.claim_id in claim_ids}
        if len(found) == len(claim_ids):
            return found
        await asyncio.sleep(0.25)
    missing = sorted(claim_ids - set(found))
    raise TimeoutError(f"{len(missing)} claims not settled within {timeout:.0f}s: {missing[:10]}")


async def identities_recorded(store: Store, count: int, timeout: float) -> None:
    """Wait until the store has recorded at least ``count`` eligibility events."""
    deadline = time.monotonic() + timeout
    while (await store.counts())["identity_events"] < count:
        if time.monotonic() > deadline:
            raise TimeoutError("eligibility changes were not recorded in time; see .onestop/logs/eligibility.log")
        await asyncio.sleep(0.1)
