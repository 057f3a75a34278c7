"""Waiting until the store holds what was sent: the settlements of given claims, a number of
eligibility events, persons' enrollment, premium records. Used by the demo, the tests and the
benchmarks."""

from __future__ import annotations

import asyncio
import time

from policies.ledger import summed
from schemas.events import Settlement

from .interface import Store


async def settled_claims(store: Store, claim_ids: set[str], timeout: float) -> dict[str, Settlement]:
    """Wait until every claim has its first settlement recorded; return, by claim_id, what each
    claim's records add up to so far (policies.ledger.summed)."""
    found: dict[str, list[Settlement]] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {}
        for _, record in await store.settlements(limit=1_000_000):
            if record.claim_id in claim_ids:
                found.setdefault(record.claim_id, []).append(record)
        if all(any(r.kind == "settlement" for r in found.get(c, ())) for c in claim_ids):
            return {claim_id: summed(records) for claim_id, records in found.items()}
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


async def enrollments_recorded(store: Store, persons: set[str], timeout: float) -> None:
    """Wait until every person has an enrollment change recorded."""
    deadline = time.monotonic() + timeout
    waiting = set(persons)
    while waiting:
        waiting = {psn_no for psn_no in waiting if not (await store.enrollment_history(psn_no))[1]}
        if waiting and time.monotonic() > deadline:
            raise TimeoutError(
                f"{len(waiting)} persons' enrollment not recorded in time; see .onestop/logs/enrollment.log"
            )
        await asyncio.sleep(0.1 if waiting else 0)


async def premiums_recorded(store: Store, claim_ids: set[str], timeout: float) -> dict[str, Settlement]:
    """Wait until every premium record named (``premium/<region>/<year>/<psn_no>``) is made; by claim_id."""
    deadline = time.monotonic() + timeout
    regions = {tuple(claim_id.split("/")[1:3]) for claim_id in claim_ids}
    while True:
        found = {r.claim_id: r for region, year in regions for r in await store.premium_records(region, int(year))}
        if claim_ids <= set(found):
            return {claim_id: found[claim_id] for claim_id in claim_ids}
        if time.monotonic() > deadline:
            missing = sorted(claim_ids - set(found))
            raise TimeoutError(f"{len(missing)} premium records not made within {timeout:.0f}s: {missing[:10]}")
        await asyncio.sleep(0.25)
