"""A claim received but not at the ledger, on every backend: what intake sends again when a message
between two workers was lost (workers/intake.py, Resender) — and intake's sweep itself, on the
same stores: what it sends, to which topic, and how often."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from schemas.codes import Payer
from store import Store
from streams.flight import Flight
from streams.topics import pay_topic
from workers.harness import Context
from workers.intake import Resender

from .support import Workers, case, grants

ZZ = "zhengzhou-dibao-deferred-then-paid"


def soon() -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=5)


async def test_a_claim_received_and_not_at_the_ledger_is_stalled_until_it_arrives(store: Store) -> None:
    worked = case(ZZ)
    workers = Workers(store)
    await workers.changes(*grants(worked))
    first, second = worked.claims[:2]
    receipts, _ = await workers.receive(first, second)
    await workers.pay(first.claim_id)
    await workers.arrive(first.claim_id)
    [stalled] = await store.stalled_claims(soon())
    assert (stalled.claim, stalled.seq, stalled.snapshot) == (second, receipts[1].seq, receipts[1].snapshot)
    assert await store.stalled_claims(datetime.now(timezone.utc) - timedelta(hours=1)) == []
    await workers.pay(second.claim_id)
    await workers.arrive(second.claim_id)
    assert await store.stalled_claims(soon()) == []


async def test_the_claims_of_a_person_with_a_message_parked_wait_for_it_instead(store: Store) -> None:
    worked = case(ZZ)
    workers = Workers(store)
    await workers.changes(*grants(worked))
    [claim] = worked.claims[:1]
    await workers.receive(claim)
    await store.park("basic", pay_topic(Payer.basic), 0, 7,
                     claim.psn_no.encode(), b"{}", "KeyError: 'x'", behind=False)
    assert await store.stalled_claims(soon()) == []


async def test_intake_sends_a_stalled_claim_again_to_its_first_payer_at_most_once_per_period(
        store: Store, backend, monkeypatch: pytest.MonkeyPatch) -> None:
    worked = case(ZZ)
    workers = Workers(store)
    await workers.changes(*grants(worked))
    claim = worked.claims[0]
    [receipt], _ = await workers.receive(claim)
    context = Context(backend.url if backend.name == "postgres" else backend.urls[-1], "intake")
    resender = Resender()
    monkeypatch.setenv("ONESTOP_RESEND_AFTER", "0.3")
    assert await resender.sweep(context) == []  # received just now: still on its way
    await asyncio.sleep(0.35)
    [again] = await resender.sweep(context)
    sent = Flight.read(again.value)
    first_payer = Payer(Flight.read(workers.flights[claim.claim_id]).data["route"][0])
    assert (again.topic, again.key, sent.claim_id, sent.seq) == (pay_topic(first_payer), claim.psn_no.encode(),
                                                                claim.claim_id, receipt.seq)
    assert sent.data["route"] == Flight.read(workers.flights[claim.claim_id]).data["route"]
    assert await resender.sweep(context) == []  # sent again just now: not again within the period
    await asyncio.sleep(0.35)
    assert len(await resender.sweep(context)) == 1
    monkeypatch.setenv("ONESTOP_RESEND_AFTER", "0")
    assert await resender.sweep(context) == []  # 0: never
    await context.close()
