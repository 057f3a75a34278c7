"""The live system, end to end, on a real broker and a real PostgreSQL: every worker its own process."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import orjson

from bench.generator import year_of_claims
from cli.demo import agreement
from cli.files import events_of
from schemas.cases import Case
from schemas.events import DischargeClaim, EligibilityChange, Rejection
from store.waiting import identities_recorded, settled_claims
from streams.codecs import encode
from streams.publisher import publish
from streams.reader import read_topic
from streams.topics import DISCHARGED, ELIGIBILITY, REJECTED

from ..shared_cases import case_files, load_case
from ..test_published import PUBLISHED
from .generated import assert_settled_as_the_rules_settle, grants_of

TIMEOUT = 180.0


async def _publish_people_then_claims(live_system, store, grants: list[bytes], claims: list[bytes]) -> None:
    before = (await store.counts())["identity_events"]
    await publish(live_system.kafka, ELIGIBILITY, grants, EligibilityChange)
    await identities_recorded(store, before + len(grants), TIMEOUT)
    await publish(live_system.kafka, DISCHARGED, claims, DischargeClaim)


async def test_every_shared_case_settles_to_the_fen_through_the_topics(live_system, store):
    cases = [load_case(p) for p in case_files()]
    grants, claims = events_of(cases)
    await _publish_people_then_claims(live_system, store, grants, claims)
    settled = await settled_claims(store, {c.claim_id for case in cases for c in case.claims}, TIMEOUT)
    for case in cases:
        assert agreement(case, settled) == [], case.name
    for settlement in settled.values():
        assert settlement.fund_pay_sumamt + settlement.psn_part_amt == settlement.medfee_sumamt
    assert await store.check_ledger() == []


async def test_a_region_from_a_published_example_settles_to_its_fen_through_the_topics(live_system, store):
    # Chongqing's Yubei district (examples/published): a claim carrying its contribution tier, insured in a
    # district whose policy file lists its 6 digits, settled by the workers as the bureau published it
    cases = [Case.model_validate_json(path.read_bytes()) for path in PUBLISHED]
    grants, claims = events_of(cases)
    await _publish_people_then_claims(live_system, store, grants, claims)
    settled = await settled_claims(store, {c.claim_id for case in cases for c in case.claims}, TIMEOUT)
    for case in cases:
        assert agreement(case, settled) == [], case.name
    assert settled["CQYB-1"].fund_pay_sumamt == Decimal("46374.80")  # 34790 + 10647 + 937.8, as published
    assert await store.check_ledger() == []


def _claim(claim_id: str, psn_no: str, **changes) -> dict:
    claim = {
        "claim_id": claim_id,
        "psn_no": psn_no,
        "insutype": "390",
        "insuplc_admdvs": "620702",
        "mdtrtarea_admvs": "620702",
        "med_type": "21",
        "hosp_lv": "2",
        "referral": False,
        "begndate": "2022-09-01",
        "enddate": "2022-09-10",
        "dise_codg": "K35.8",
        "medfee_sumamt": "9000.00",
        "fulamt_ownpay_amt": "750.00",
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "250.00",
        "inscp_scp_amt": "8000.00",
    }
    claim.update(changes)
    return claim


async def test_the_same_claim_twice_is_settled_once(each_driver):
    live_system, store = each_driver
    raw = orjson.dumps(_claim("DUP-1", "PDUP1"))
    await publish(live_system.kafka, DISCHARGED, [raw, raw], DischargeClaim)
    await settled_claims(store, {"DUP-1"}, TIMEOUT)
    # once more, later, then the person's next claim (another year: it changes nothing of DUP-1's): on the
    # same partitions after it, settled only once everything the repeat did has been done
    later = orjson.dumps(_claim("DUP-2", "PDUP1", begndate="2023-09-01", enddate="2023-09-10"))
    await publish(live_system.kafka, DISCHARGED, [raw, later], DischargeClaim)
    await settled_claims(store, {"DUP-2"}, TIMEOUT)
    records = [s for _, s in await store.settlements(limit=1_000_000) if s.claim_id == "DUP-1"]
    assert len(records) == 1
    assert [line.payer.value for line in records[0].payments] == ["basic", "critical"]  # once each
    assert await store.check_ledger() == []


BAD_CLAIMS = {
    "negative amount": _claim("BAD-1", "PBAD", fulamt_ownpay_amt="-750.00", medfee_sumamt="7500.00"),
    "three decimals": _claim("BAD-2", "PBAD", inscp_scp_amt="8000.001"),
    "parts do not add up": _claim("BAD-3", "PBAD", medfee_sumamt="9999.00"),
    "enddate before begndate": _claim("BAD-4", "PBAD", enddate="2022-08-01"),
    "unknown med_type": _claim("BAD-5", "PBAD", med_type="99"),
    "unknown insutype": _claim("BAD-6", "PBAD", insutype="999"),
    "malformed division code": _claim("BAD-7", "PBAD", mdtrtarea_admvs="62070"),
    "missing field": {k: v for k, v in _claim("BAD-8", "PBAD").items() if k != "hosp_lv"},
    "no policy for the place": _claim("BAD-9", "PBAD", insuplc_admdvs="990101"),
    "no policy in force yet": _claim("BAD-10", "PBAD", begndate="2021-01-01", enddate="2021-01-02"),
}
EXPECTED_WORDS = {
    "negative amount": "negative",
    "three decimals": "two decimals",
    "parts do not add up": "do not add up",
    "enddate before begndate": "before begndate",
    "unknown med_type": "med_type",
    "unknown insutype": "insutype",
    "malformed division code": "mdtrtarea_admvs",
    "missing field": "hosp_lv",
    "no policy for the place": "no policy",
    "no policy in force yet": "in force",
}


async def test_bad_input_is_rejected_with_a_reason_while_good_claims_flow(each_driver):
    live_system, store = each_driver
    good = [orjson.dumps(_claim(f"GOOD-{i}", f"PGOOD{i}")) for i in range(3)]
    bad = [orjson.dumps(c) for c in BAD_CLAIMS.values()] + [b"{not json", b'["a list"]']
    mixed = [good[0], *bad[:6], good[1], *bad[6:], good[2]]
    await publish(live_system.kafka, DISCHARGED, mixed, DischargeClaim)
    await settled_claims(store, {f"GOOD-{i}" for i in range(3)}, TIMEOUT)
    reasons = await _rejections_of(live_system.kafka, {raw.decode() for raw in bad}, len(bad))
    for name, claim in BAD_CLAIMS.items():
        reason = reasons[orjson.dumps(claim).decode()]
        assert EXPECTED_WORDS[name] in reason, (name, reason)
    assert "not JSON" in reasons["{not json"]
    assert "JSON object" in reasons['["a list"]']


async def _rejections_of(kafka: str, originals: set[str], count: int) -> dict[str, str]:
    found: dict[str, str] = {}
    for _ in range(60):
        async for raw in read_topic(kafka, REJECTED):
            rejection = Rejection.model_validate_json(raw)
            if rejection.original in originals:
                found[rejection.original] = rejection.reason
        if len(found) >= count:
            return found
        await asyncio.sleep(1)
    raise AssertionError(f"only {len(found)} of {count} rejections arrived")


async def test_a_worker_killed_and_restarted_mid_stream_pays_nothing_twice_and_loses_nothing(each_driver):
    live_system, store = each_driver
    population, claims = year_of_claims(400, persons=80, seed=41)
    grants = grants_of(population, "kill-test")
    raw = [encode(c) for c in claims]
    await _publish_people_then_claims(live_system, store, grants, raw[:200])
    await asyncio.sleep(1.0)
    for name in ("critical", "assistance", "intake"):
        live_system.workers.kill(name)
    await publish(live_system.kafka, DISCHARGED, raw[200:], DischargeClaim)
    for name in ("critical", "assistance", "intake"):
        live_system.workers.start_one(name)
    settled = await settled_claims(store, {c.claim_id for c in claims}, TIMEOUT)
    assert await store.check_ledger() == []
    assert_settled_as_the_rules_settle(claims, population, settled)
