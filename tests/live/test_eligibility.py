"""Eligibility through the live system: grants, revocations, duplicates, order, re-settlement, alerts."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone
from decimal import Decimal

import orjson

from schemas.events import DischargeClaim, EligibilityChange, HighCostAlert
from store.waiting import identities_recorded, settled_claims
from streams.codecs import encode
from streams.publisher import publish
from streams.reader import read_topic
from streams.topics import ALERTS, DISCHARGED, ELIGIBILITY, SETTLEMENTS

TIMEOUT = 180.0


def change(
    event_id: str,
    psn_no: str,
    category: str,
    action: str,
    valid_from: str,
    valid_to: str | None = None,
    recorded: str = "2022-01-01T09:00:00",
) -> bytes:
    return encode(
        EligibilityChange(
            event_id=event_id,
            psn_no=psn_no,
            category=category,
            action=action,
            valid_from=valid_from,
            valid_to=valid_to,
            authority="civil_affairs",
            recorded_at=datetime.fromisoformat(recorded).replace(tzinfo=timezone.utc),
        )
    )


def zhangye_claim(claim_id: str, psn_no: str, in_scope: str, level: str, day: str, **changes) -> bytes:
    out_of_scope = Decimal("1000.00")
    claim = {
        "claim_id": claim_id,
        "psn_no": psn_no,
        "insutype": "390",
        "insuplc_admdvs": "620702",
        "mdtrtarea_admvs": "620702",
        "med_type": "21",
        "hosp_lv": level,
        "referral": False,
        "begndate": day,
        "enddate": day,
        "dise_codg": "K35.8",
        "medfee_sumamt": str(Decimal(in_scope) + out_of_scope),
        "fulamt_ownpay_amt": str(out_of_scope),
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "0.00",
        "inscp_scp_amt": in_scope,
    }
    claim.update(changes)
    return orjson.dumps(claim)


async def _apply(live_system, store, events: list[bytes]) -> None:
    before = (await store.counts())["identity_events"]
    unique = len({orjson.loads(e)["event_id"] for e in events})
    await publish(live_system.kafka, ELIGIBILITY, events, EligibilityChange)
    await identities_recorded(store, before + unique, TIMEOUT)
    await asyncio.sleep(0.5)  # the batch's periods are written in the same transaction as its events


async def test_grants_revocations_duplicates_and_order_end_in_the_same_state(live_system, store):
    events = [
        change("E1", "PELIG1", "dibao", "grant", "2022-01-01", recorded="2022-01-01T09:00:00"),
        change("E2", "PELIG1", "dibao", "grant", "2022-06-01", "2022-12-31", recorded="2022-05-20T09:00:00"),
        change("E3", "PELIG1", "dibao", "revoke", "2022-09-01", recorded="2022-08-25T09:00:00"),
        change("E4", "PELIG1", "tekun", "grant", "2022-03-01", recorded="2022-02-25T09:00:00"),
    ]
    shuffled = [
        e.replace(b"PELIG1", b"PELIG2").replace(b'"E', b'"F') for e in (events[2], events[3], events[0], events[1])
    ]
    await _apply(live_system, store, events + [events[0], events[2]] + shuffled)
    first, _ = await store.identity_history("PELIG1")
    second, history = await store.identity_history("PELIG2")
    periods = lambda held: sorted((h.code.value, h.valid_from, h.valid_to) for h in held)  # noqa: E731
    assert (
        periods(first)
        == periods(second)
        == [
            ("dibao", date(2022, 1, 1), date(2022, 8, 31)),  # merged grants, ended by the revocation
            ("tekun", date(2022, 3, 1), None),
        ]
    )
    assert len(history) == 4  # the duplicates changed nothing
    dibao = next(h for h in first if h.code.value == "dibao")
    assert (dibao.authority.value, dibao.event_id) == ("civil_affairs", "E1")


async def test_a_retroactive_grant_pays_exactly_the_missing_assistance_once(live_system, store):
    # the shared case zhangye-dibao-edge-two-stays, but the person applies (and is granted
    # dibao_edge) only after both stays were settled with insurance alone
    claims = [
        zhangye_claim("RETRO-a", "PRETRO", "8000.00", "2", "2022-08-03"),
        zhangye_claim("RETRO-b", "PRETRO", "26000.00", "3", "2022-10-20"),
    ]
    await publish(live_system.kafka, DISCHARGED, claims, DischargeClaim)
    first = await settled_claims(store, {"RETRO-a", "RETRO-b"}, TIMEOUT)
    assert {p.payer.value for s in first.values() for p in s.payments if p.amount} == {"basic", "critical"}
    grant = change("RETRO-G", "PRETRO", "dibao_edge", "grant", "2023-01-15", recorded="2023-01-15T09:00:00")
    await _apply(live_system, store, [grant])
    adjustment = await _adjustment(store, "RETRO-b/adjustment/eligibility/civil_affairs/RETRO-G")
    assert [(p.payer.value, p.amount) for p in adjustment.payments] == [("assistance", Decimal("3420.00"))]
    assert adjustment.psn_part_amt == Decimal("-3420.00") and adjustment.medfee_sumamt == 0
    owed = first["RETRO-b"].fund_pay_sumamt + adjustment.fund_pay_sumamt
    assert owed == Decimal("16250.00") + Decimal("4050.00") + Decimal("3420.00")  # as the shared case expects
    assert (await store.year_totals("PRETRO", 2022))["assistance"].base == Decimal("7700.00")
    ledger_after_first = await _ledger_of(store, "PRETRO")

    # replayed twice, then the person's next change (from 2030: it changes nothing of 2022), recorded and
    # applied by the ledger after whatever the replays did
    following = change("RETRO-N", "PRETRO", "tekun", "grant", "2030-01-01", recorded="2023-02-01T09:00:00")
    await publish(live_system.kafka, ELIGIBILITY, [grant, grant, following], EligibilityChange)
    await _applied(store, "PRETRO", "RETRO-N")
    assert [e.event_id for e in (await store.identity_history("PRETRO"))[1]] == ["RETRO-G", "RETRO-N"]
    assert await _ledger_of(store, "PRETRO") == ledger_after_first
    assert await store.check_ledger() == []
    on_topic = [
        r
        for r in [orjson.loads(raw) async for raw in read_topic(live_system.kafka, SETTLEMENTS)]
        if r["psn_no"] == "PRETRO"
    ]
    assert sorted(r["settlement_id"] for r in on_topic) == [
        "RETRO-a/settlement",
        "RETRO-b/adjustment/eligibility/civil_affairs/RETRO-G",
        "RETRO-b/settlement",
    ]


async def _applied(store, psn_no: str, event_id: str) -> None:
    """Wait until the person's change is recorded and the ledger has applied everything queued for them."""
    for _ in range(int(TIMEOUT * 4)):
        recorded = any(e.event_id == event_id for e in (await store.identity_history(psn_no))[1])
        if recorded and not await store.queued(psn_no):
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{psn_no}'s change {event_id} not applied within {TIMEOUT:.0f}s")


async def _adjustment(store, settlement_id: str):
    for _ in range(int(TIMEOUT * 4)):
        found = [s for _, s in await store.settlements(limit=1_000_000) if s.settlement_id == settlement_id]
        if found:
            return found[0]
        await asyncio.sleep(0.25)
    raise AssertionError(f"no adjustment {settlement_id}")


async def _ledger_of(store, psn_no: str):
    settlements = sorted(
        (s.settlement_id, s.fund_pay_sumamt) for _, s in await store.settlements(limit=1_000_000) if s.psn_no == psn_no
    )
    return settlements, await store.year_totals(psn_no, 2022)


async def test_high_cost_stays_are_pushed_to_civil_affairs(live_system, store):
    await _apply(live_system, store, [change("ALERT-G", "PALERT1", "dibao_rural_3", "grant", "2022-01-01")])
    claims = [
        zhangye_claim("ALERT-1", "PALERT1", "200000.00", "3", "2022-08-01"),  # 7,286.25 left after assistance > 6,000
        zhangye_claim("ALERT-2", "PALERT2", "100000.00", "3", "2022-08-01"),  # 17,260.00 left after insurance > 10,000
        zhangye_claim("ALERT-3", "PALERT3", "20000.00", "3", "2022-08-01"),  # little left: no alert
    ]
    await publish(live_system.kafka, DISCHARGED, claims, DischargeClaim)
    await settled_claims(store, {"ALERT-1", "ALERT-2", "ALERT-3"}, TIMEOUT)
    alerts = {}
    for _ in range(30):
        alerts = {
            a.claim_id: a
            for a in [HighCostAlert.model_validate_json(raw) async for raw in read_topic(live_system.kafka, ALERTS)]
            if a.claim_id.startswith("ALERT-")
        }
        if len(alerts) >= 2:
            break
        await asyncio.sleep(1)
    assert set(alerts) == {"ALERT-1", "ALERT-2"}
    assert (alerts["ALERT-1"].psn_part_amt, alerts["ALERT-1"].threshold) == (Decimal("7286.25"), Decimal("6000.00"))
    assert [c.value for c in alerts["ALERT-1"].categories] == ["dibao_rural_3"]
    assert (alerts["ALERT-2"].psn_part_amt, alerts["ALERT-2"].threshold) == (Decimal("17260.00"), Decimal("10000.00"))
