"""Premium subsidies (参保资助, issue 29) through the workers' own handlers on every backend, signed as
the bureau and the authorities sign them: each worked case of tests/cases_premiums in the order
received makes exactly its expected records, which an auditor's replay of the archive makes too;
rolling again changes nothing; a grant before its year is rolled waits for the roll; a claim of a
person in the middle of it all settles as usual; bad input is refused with its reason, and a roll
no policy subsidises changes nothing."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cli.keys import register_key
from schemas.events import EligibilityChange, EnrollmentChange, PremiumRoll
from store import Store
from streams.signing import new_key
from streams.topics import DISCHARGED, ELIGIBILITY, ELIGIBILITY_REJECTED, ENROLLMENT, PREMIUM_ROLLS, REJECTED

from ..premium_cases import premium_cases
from .conftest import Backend
from .handlers import HOSPITAL, KEYS, KEYS_FROM, Pipeline, register_keys, url_of
from .support import as_replayed, case, grants

CASES = premium_cases()
TOPIC = {"enrollment": ENROLLMENT, "eligibility": ELIGIBILITY, "roll": PREMIUM_ROLLS}
#: the authorities of the worked cases that tests/store/handlers.py has no key of
MORE_KEYS = {
    name: new_key(f"{name}-1", "authority", name)
    for name in ("poverty_alleviation", "disabled_federation", "trade_union")
}
SIGNERS = {**KEYS, **MORE_KEYS}
ZZ = "zhengzhou-dibao-deferred-then-paid"  # P009, dibao; three claims of 2018 in Zhengzhou


@pytest.fixture
async def pipeline(store: Store, backend: Backend):
    await register_keys(store)
    for key in MORE_KEYS.values():
        await register_key(store, key, valid_from=KEYS_FROM)
    opened = Pipeline(url_of(backend))
    try:
        yield opened
    finally:
        await opened.close()


async def send(pipeline: Pipeline, kind: str, event) -> None:
    """One event as its sender signs it, taken by the workers before the next is sent (the order received)."""
    signer = SIGNERS["medical_insurance" if kind != "eligibility" else event.authority.value]
    await pipeline.publish(TOPIC[kind], event, event.region if kind == "roll" else event.psn_no, signer)
    await pipeline.drain()


async def premium_records(store: Store) -> dict[str, object]:
    return {r.claim_id: r for _, r in await store.settlements(limit=100_000) if r.claim_id.startswith("premium/")}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_a_worked_case_in_the_order_received(store: Store, pipeline: Pipeline, case) -> None:
    for kind, event in case.events:
        await send(pipeline, kind, event)
    got = await premium_records(store)
    assert sorted(got) == sorted(e["claim_id"] for e in case.expect)
    for want in case.expect:
        record = got[want["claim_id"]]
        assert (
            record.kind,
            {line.payer.value: str(line.amount) for line in record.payments},
            str(record.psn_part_amt),
            record.category.value,
            str(record.due_date),
            record.reason,
        ) == ("premium", want["payments"], want["personal"], want["category"], want["due_date"], want["reason"])
    for psn_no in case.persons():
        assert await as_replayed(store, psn_no) == []
    assert await store.check_ledger() == [] and await store.queued() == [] and await store.parked() == []
    region, year = next((e.region, e.year) for kind, e in case.events if kind == "roll")
    listed = await store.premium_records(region, year)
    assert [r.claim_id for r in listed] == sorted(e["claim_id"] for e in case.expect)


async def test_rolling_again_changes_nothing_and_a_grant_before_the_roll_waits_for_it(store: Store, pipeline: Pipeline):
    at = datetime(2018, 1, 2, 10, tzinfo=timezone.utc)
    await send(
        pipeline,
        "enrollment",
        EnrollmentChange(
            event_id="e-w1",
            psn_no="W1",
            insutype="390",
            insuplc_admdvs="410102",
            valid_from="2018-01-01",
            valid_to="2018-12-31",
            recorded_at=at,
        ),
    )
    await send(
        pipeline,
        "eligibility",
        EligibilityChange(
            event_id="g-w1",
            psn_no="W1",
            category="tekun",
            action="grant",
            valid_from="2017-05-01",
            authority="civil_affairs",
            recorded_at=at,
        ),
    )
    assert await premium_records(store) == {}  # granted and insured, but the year is not rolled: it waits
    roll = PremiumRoll(event_id="roll-w", region="zhengzhou", year=2018, recorded_at=at)
    await send(pipeline, "roll", roll)
    [record] = (await premium_records(store)).values()
    assert (record.due_date.isoformat(), record.fund_pay_sumamt, record.reason) == (
        "2018-01-01",
        record.medfee_sumamt,
        "premium roll roll-w of zhengzhou 2018",
    )
    await send(pipeline, "roll", roll.model_copy(update={"event_id": "roll-w-again"}))
    await send(pipeline, "roll", roll)  # the same roll sent again
    assert list(await premium_records(store)) == [record.claim_id] and await store.rolls() == [roll]
    again = [i for i in await store.inputs(limit=1000) if i.kind == "roll" and not i.psn_no and i.outcome == "repeat"]
    assert [i.reason for i in again] == [
        "zhengzhou 2018 was rolled by roll-w on 2018-01-02; rolling again changes nothing"
    ] * 2
    assert await as_replayed(store, "W1") == []


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"insutype": "320"}, "insutype: Input should be '390' or '310'"),
        ({"insuplc_admdvs": "41010"}, "insuplc_admdvs: String should match pattern '^\\d{6}$'"),
        ({"valid_to": "2017-12-31"}, "valid_to 2017-12-31 is before valid_from 2018-01-01"),
        ({"psn_no": "P 1"}, "psn_no: holds a space at position 2"),
    ],
)
async def test_a_bad_enrollment_change_is_refused_with_its_reason(store: Store, pipeline: Pipeline, fields, why):
    good = {
        "event_id": "e-bad",
        "psn_no": "B1",
        "insutype": "390",
        "insuplc_admdvs": "410102",
        "valid_from": "2018-01-01",
        "valid_to": None,
        "recorded_at": "2018-01-02T09:00:00+08:00",
    }
    sent = await pipeline.publish(ENROLLMENT, {**good, **fields}, "B1", KEYS["medical_insurance"])
    await pipeline.drain()
    assert why in pipeline.refusal_of(sent, ELIGIBILITY_REJECTED)
    assert (await store.enrollment_history("B1"))[1] == []


async def test_only_the_medical_insurance_bureau_signs_enrollment_and_rolls(store: Store, pipeline: Pipeline):
    change = EnrollmentChange(
        event_id="e-s1",
        psn_no="S1",
        insutype="390",
        insuplc_admdvs="410102",
        valid_from="2018-01-01",
        recorded_at="2018-01-02T09:00:00+08:00",
    )
    by_civil = await pipeline.publish(ENROLLMENT, change, "S1", KEYS["civil_affairs"])
    roll = PremiumRoll(event_id="roll-s", region="zhengzhou", year=2018, recorded_at="2018-01-02T09:00:00+08:00")
    by_hospital = await pipeline.publish(PREMIUM_ROLLS, roll, "zhengzhou", KEYS["hospital"])
    await pipeline.drain()
    assert "only a key of the authority medical_insurance signs enrollment changes" in pipeline.refusal_of(
        by_civil, ELIGIBILITY_REJECTED
    )
    assert "only a key of the authority medical_insurance signs premium rolls" in pipeline.refusal_of(
        by_hospital, REJECTED
    )
    assert await store.rolls() == [] and (await store.enrollment_history("S1"))[1] == []


@pytest.mark.parametrize(
    ("region", "year", "why"),
    [
        ("shanghai", 2018, "no policy of a region named 'shanghai'"),
        ("jining", 2019, "jining subsidises no premiums of 2019"),
    ],
)
async def test_a_roll_no_policy_subsidises_changes_nothing(store: Store, pipeline: Pipeline, region, year, why):
    roll = PremiumRoll(event_id="roll-x", region=region, year=year, recorded_at="2020-01-02T09:00:00+08:00")
    sent = await pipeline.publish(PREMIUM_ROLLS, roll, region, KEYS["medical_insurance"])
    await pipeline.drain()
    assert why in pipeline.refusal_of(sent, REJECTED)
    assert await store.rolls() == []


async def test_a_persons_claims_and_premium_in_one_order(store: Store, pipeline: Pipeline):
    """P009 (dibao, Zhengzhou; ../shared/cases/zhengzhou-dibao-deferred-then-paid.json) is insured, a
    claim settles, the year is rolled (220.00, the city and county halves), the next claims settle as
    usual, and dibao revoked from 1 January recovers what assistance paid on its grounds — but not the
    premium subsidy, never recovered (seed 002 三(一)4, PARAMETERS.md)."""
    worked = case(ZZ)
    psn = worked.person.psn_no
    for change in grants(worked):
        await send(pipeline, "eligibility", change)
    await send(
        pipeline,
        "enrollment",
        EnrollmentChange(
            event_id="e-p009",
            psn_no=psn,
            insutype="390",
            insuplc_admdvs="410102",
            valid_from="2018-01-01",
            recorded_at="2017-12-01T09:00:00+08:00",
        ),
    )
    a, b, c = [claim.model_copy(update={"fixmedins_code": HOSPITAL}) for claim in worked.claims]
    await pipeline.publish(DISCHARGED, a, psn, KEYS["hospital"])
    await pipeline.drain()
    await send(
        pipeline,
        "roll",
        PremiumRoll(event_id="roll-p009", region="zhengzhou", year=2018, recorded_at="2018-01-02T10:00:00+08:00"),
    )
    for claim in (b, c):
        await pipeline.publish(DISCHARGED, claim, psn, KEYS["hospital"])
    await pipeline.drain()
    await send(
        pipeline,
        "eligibility",
        EligibilityChange(
            event_id="r-p009",
            psn_no=psn,
            category="dibao",
            action="revoke",
            valid_from="2018-01-01",
            authority="civil_affairs",
            recorded_at="2018-07-01T09:00:00+08:00",
        ),
    )
    records = [r for _, r in await store.settlements(psn_no=psn)]
    premium = [r for r in records if r.claim_id.startswith("premium/")]
    assert [(r.kind, {line.payer.value: str(line.amount) for line in r.payments}) for r in premium] == [
        ("premium", {"finance_city": "110.00", "finance_county": "110.00"})
    ]
    recovered = [r for r in records if r.reason and "r-p009" in r.reason]
    assert recovered and all(
        r.claim_id.startswith("ZZ-1") for r in recovered
    )  # the claims' assistance, not the premium
    assert sum(line.amount for r in recovered for line in r.payments if line.payer.value == "assistance") == -6580
    assert [r.kind for r in records if r.claim_id.startswith("ZZ-1")][:3] == ["settlement"] * 3
    assert await as_replayed(store, psn) == [] and await store.check_ledger() == [] and await store.queued() == []
