"""A claim received but not at the ledger, on every backend: what intake sends again when a message
between two workers was lost (workers/intake.py, Resender) — and intake's sweep itself, on the
same stores: what it sends, to which topic, and how often."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from schemas.codes import CLAIM_PAYERS, Payer
from store import Store
from store.records import LEDGER_WORKER
from streams.flight import Flight
from streams.topics import ELIGIBILITY, LEDGER, pay_topic
from workers.harness import Context
from workers.intake import Resender
from workers.registry import WORKERS

from .support import Workers, case, grants

ZZ = "zhengzhou-dibao-deferred-then-paid"
ZY = "zhangye-dibao-rural-1-one-stay"


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
    await store.park("basic", pay_topic(Payer.basic), 0, 7, claim.psn_no.encode(), b"{}", "KeyError: 'x'", behind=False)
    assert await store.stalled_claims(soon()) == []


async def test_a_claim_is_held_back_only_by_what_is_parked_where_it_passes(store: Store) -> None:
    """Issue 28, finding 2: one bad input of a person — an eligibility change, a cancellation, a
    claim at intake, a pre-settlement request, a claim at a payer not on this claim's route — no
    longer strands the person's later claims: they are sent again. Only a message of the person
    parked for a worker this claim passes through (its route's payers, the ledger) holds it back,
    since sent again it would only be parked behind it; and never anyone else's claims."""
    worked, other = case(ZZ), case(ZY)
    workers = Workers(store)
    await workers.changes(*grants(worked), *grants(other))
    claim, elsewhere = worked.claims[0], other.claims[0]
    await workers.receive(claim, elsewhere)
    route = Flight.read(workers.flights[claim.key]).data["route"]
    assert route[0] == "basic" and set(route) < {p.value for p in CLAIM_PAYERS}  # (payers off its route to park at)
    psn = claim.psn_no.encode()

    async def stalled() -> set[str]:
        return {s.claim.claim_id for s in await store.stalled_claims(soon())}

    off_route = [
        "intake",
        "eligibility",
        "cancellation",
        "year_end",
        "presettle",
        *(p.value for p in CLAIM_PAYERS if p.value not in route),
    ]
    for offset, worker in enumerate(off_route):
        await store.park(worker, "somewhere", 0, offset, psn, b"{}", "KeyError: 'x'", False)
    assert await stalled() == {claim.claim_id, elsewhere.claim_id}
    for offset, worker in enumerate([*route, LEDGER_WORKER], start=100):
        parked_id = await store.park(worker, "somewhere", 0, offset, psn, b"{}", "KeyError: 'x'", offset % 2 == 1)
        assert await stalled() == {elsewhere.claim_id}, worker
        await store.unpark(parked_id)
        assert await stalled() == {claim.claim_id, elsewhere.claim_id}, worker


def test_the_workers_a_claim_passes_through_are_named_as_the_store_names_them():
    """The store knows a claim passes through the workers named by its route's payers, then
    ``ledger`` (store/records.py LEDGER_WORKER): the registry's names and topics."""
    assert WORKERS[LEDGER_WORKER].name == LEDGER_WORKER and WORKERS[LEDGER_WORKER].source == LEDGER
    for payer in CLAIM_PAYERS:
        assert (WORKERS[payer.value].name, WORKERS[payer.value].source) == (payer.value, pay_topic(payer))


async def test_intake_sends_again_the_claim_of_a_person_whose_change_is_parked(
    store: Store, backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    worked = case(ZZ)
    workers = Workers(store)
    await workers.changes(*grants(worked))
    claim = worked.claims[0]
    await workers.receive(claim)
    await store.park("eligibility", ELIGIBILITY, 0, 3, claim.psn_no.encode(), b"{}", "KeyError: 'a bug'", False)
    context = Context(backend.url if backend.name == "postgres" else backend.urls[-1], "intake")
    monkeypatch.setenv("ONESTOP_RESEND_AFTER", "0.2")
    await asyncio.sleep(0.25)
    [again] = await Resender().sweep(context)
    assert (again.key, Flight.read(again.value).claim_id) == (claim.psn_no.encode(), claim.claim_id)
    await context.close()


async def test_intake_sends_a_stalled_claim_again_to_its_first_payer_at_most_once_per_period(
    store: Store, backend, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    assert (again.topic, again.key, sent.claim_id, sent.seq) == (
        pay_topic(first_payer),
        claim.psn_no.encode(),
        claim.claim_id,
        receipt.seq,
    )
    assert sent.data["route"] == Flight.read(workers.flights[claim.claim_id]).data["route"]
    assert await resender.sweep(context) == []  # sent again just now: not again within the period
    await asyncio.sleep(0.35)
    assert len(await resender.sweep(context)) == 1
    monkeypatch.setenv("ONESTOP_RESEND_AFTER", "0")
    assert await resender.sweep(context) == []  # 0: never
    await context.close()
