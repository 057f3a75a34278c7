"""Premium subsidies (参保资助), pure (policies/premiums.py, policies/ledger.py): the worked cases of each
region by hand from PARAMETERS.md, the refusals, and properties over any categories, insurance and
order of inputs."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from policies.enrollment import enrollment_from
from policies.ledger import replay
from policies.loader import load_contributions, load_policies
from policies.premiums import (
    NoPremiums,
    amount_of,
    contribution_of,
    premium_policy,
    roll_refusal,
    subsidised_categories,
    subsidy_of,
)
from policies.received import ChangeReceived, EnrollmentReceived, RollReceived
from schemas.codes import Category, InsuType
from schemas.events import EligibilityChange, EnrollmentChange, PremiumRoll

from .premium_cases import premium_cases

D = Decimal
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
CASES = premium_cases()
PLACES = {"zhengzhou": "410102", "guangan": "511602", "zhangye": "620702", "taizhou": "321202", "jining": "370811"}


def premium_records(records):
    return [r for r in records if r.claim_id.startswith("premium/")]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_worked_case_by_hand(case):
    made = [r for inputs in case.inputs_of().values() for r in replay(inputs, NOW)]
    assert [r for r in made if not r.claim_id.startswith("premium/")] == []
    got = {r.claim_id: r for r in made}
    assert sorted(got) == sorted(e["claim_id"] for e in case.expect), "one record per subsidised person, none else"
    for want in case.expect:
        record = got[want["claim_id"]]
        assert record.kind == "premium" and record.settlement_id == want["claim_id"] + "/premium"
        assert {line.payer.value: str(line.amount) for line in record.payments} == want["payments"]
        assert (str(record.psn_part_amt), record.category.value, str(record.due_date)) == (
            want["personal"],
            want["category"],
            want["due_date"],
        )
        assert record.reason == want["reason"]
        assert record.medfee_sumamt == contribution_of(record.year) == record.fund_pay_sumamt + record.psn_part_amt
        # every line names the seed's clause, in English and Chinese
        seed = record.policy.region and premium_policy(record.policy.region, record.year).seed[:3]
        assert all(
            f"seed {seed}" in line.explanation and f"seed {seed}" in line.explanation_zh for line in record.payments
        )


def test_the_zhengzhou_line_says_how_the_halves_are_made():
    case = next(c for c in CASES if c.name.startswith("zhengzhou"))
    [record] = premium_records(replay(case.inputs_of()["ZZ-1"], NOW))
    city, county = record.payments
    assert "finance_city pays 50% of 220.00, rounded half up → pays 110.00" in city.explanation
    assert "县（市、区）级财政承担其余 → 支付 110.00" in county.explanation_zh
    assert "由市、县（市、区）两级财政各承担50%" in city.explanation_zh
    assert (city.fund_pay_type, county.fund_pay_type, city.rule) == (
        "FIN-CITY",
        "FIN-CNTY",
        "zhengzhou/2018/v1#premiums[dibao, tekun, disabled unable to work, low-income elderly and "
        "minors, entitled groups]",
    )


# --- which policy, which contribution --------------------------------------------------------------


def test_the_policy_of_a_regions_year():
    assert premium_policy("zhangye", 2022).ref == "zhangye/2022-07/v1"  # in force from July: its 2022 sums
    assert premium_policy("taizhou", 2018).ref == "taizhou/2017-07/v1"
    assert contribution_of(2018) == D("220.00") and contribution_of(2024) == D("400.00")
    assert load_contributions().assumed and "national minimum" in load_contributions().source


@pytest.mark.parametrize(
    ("region", "year", "why"),
    [
        (
            "shanghai",
            2018,
            "no policy of a region named 'shanghai';"
            " known regions: chongqing_yubei, guangan, jining, taizhou, zhangye, zhengzhou",
        ),
        ("taizhou", 2017, "taizhou subsidises no premiums of 2017 (premium subsidies: taizhou/2017-07/v1 from 2018)"),
        ("jining", 2020, "jining subsidises no premiums of 2020 (premium subsidies: jining/2021/v1 from 2021)"),
        (
            "zhengzhou",
            2031,
            "no individual contribution is known for 2031 (policies/data/contributions.yaml has 2017, "
            "2018, 2019, 2020, 2021, 2022, 2023, 2024)",
        ),
    ],
)
def test_a_roll_no_policy_subsidises_is_refused_with_the_reason(region, year, why):
    assert roll_refusal(region, year) == why
    with pytest.raises(NoPremiums):
        premium_policy(region, year) and contribution_of(year)


def test_a_fixed_sum_is_never_more_than_the_contribution():
    policy = premium_policy("zhangye", 2022)
    row = next(r for r in policy.premiums.rows if "dibao_rural_1" in r.categories)
    assert amount_of(row, D("350.00")) == D("220.00") and amount_of(row, D("180.00")) == D("180.00")
    subsidy = subsidy_of(policy, 2022, D("180.00"), {Category.dibao_rural_1})
    assert (subsidy.amount, [line.amount for line in subsidy.lines]) == (D("180.00"), [D("180.00")])


def test_enrollment_the_latest_recorded_change_of_a_day_decides():
    def change(event_id, place, start, end, at, insutype="390"):
        return EnrollmentChange(
            event_id=event_id,
            psn_no="P",
            insutype=insutype,
            insuplc_admdvs=place,
            valid_from=start,
            valid_to=end,
            recorded_at=at,
        )

    moved = change("b", "511602", "2018-07-01", None, "2018-06-20T00:00:00+08:00")
    first = change("a", "410102", "2018-01-01", None, "2017-12-01T00:00:00+08:00")
    employed = change("c", "410102", "2018-03-01", "2018-04-30", "2018-02-20T00:00:00+08:00", insutype="310")
    periods = [
        (p.start.isoformat(), p.end and p.end.isoformat(), p.insutype.value, p.insuplc_admdvs)
        for p in enrollment_from([moved, employed, first])
    ]  # the order received does not matter
    assert periods == [
        ("2018-01-01", "2018-02-28", "390", "410102"),
        ("2018-03-01", "2018-04-30", "310", "410102"),
        ("2018-05-01", "2018-06-30", "390", "410102"),
        ("2018-07-01", None, "390", "511602"),
    ]


# --- properties ------------------------------------------------------------------------------------

REGIONS = sorted({p.region for p in load_policies() if p.premiums})  # the regions whose files subsidise premiums
CATEGORIES = st.sets(st.sampled_from(list(Category)), max_size=4)


@st.composite
def region_years(draw, region=None):
    region = region or draw(st.sampled_from(REGIONS))
    first = premium_policy_first_year(region)
    year = draw(st.sampled_from([y for y in load_contributions().years if y >= first]))
    return region, year


def premium_policy_first_year(region: str) -> int:
    return min(p.premiums.first_year for p in load_policies() if p.region == region and p.premiums)


@given(region_years(), CATEGORIES)
@settings(max_examples=300, deadline=None)
def test_a_subsidy_never_exceeds_the_contribution(region_year, held):
    region, year = region_year
    policy, contribution = premium_policy(region, year), contribution_of(year)
    subsidy = subsidy_of(policy, year, contribution, held)
    if subsidy is None:
        assert not held & subsidised_categories(policy)
        return
    assert D(0) <= subsidy.amount <= contribution
    assert sum(line.amount for line in subsidy.lines) == subsidy.amount
    assert all(line.amount >= 0 and line.base == contribution for line in subsidy.lines)
    assert subsidy.category in held
    # the largest of the rows the person's categories open
    assert subsidy.amount == max(
        amount_of(row, contribution) for row in policy.premiums.rows if any(c in held for c in _named(row))
    )


def _named(row):
    from schemas.codes import categories_named

    return {c for pattern in row.categories for c in categories_named(pattern)}


def _at(day: date) -> str:
    return datetime.combine(day, datetime.min.time(), tzinfo=timezone(timedelta(hours=8))).isoformat()


#: mostly resident insurance, the only one subsidised
MOSTLY_RESIDENT = st.sampled_from([InsuType.resident] * 3 + [InsuType.employee])


@st.composite
def lives(draw, insutypes=MOSTLY_RESIDENT, categories=None, region=None, moving=False):
    """One person's year of a region: grants, revocations, enrollments and rolls (some repeated), in
    any order; events recorded on random days of the year before and the year. Categories: mostly
    those the region subsidises, unless ``categories`` says which. ``moving``: insured in any region
    that subsidises the year, each of them rolled."""
    region, year = draw(region_years(region))
    place = PLACES[region]
    regions = [region]
    if moving:
        regions = [r for r in REGIONS if roll_refusal(r, year) is None]
    if categories is None:
        listed = sorted(subsidised_categories(premium_policy(region, year)))
        categories = st.one_of(st.sampled_from(listed), st.sampled_from(listed), st.sampled_from(list(Category)))
    day = st.dates(date(year - 1, 1, 1), date(year, 12, 31))
    events = []
    for n in range(draw(st.integers(0, 4))):
        start = draw(day)
        action = draw(st.sampled_from(["grant", "grant", "revoke"]))
        events.append(
            ChangeReceived(
                0,
                EligibilityChange(
                    event_id=f"g{n}",
                    psn_no="P",
                    category=draw(categories),
                    action=action,
                    valid_from=start,
                    authority="civil_affairs",
                    recorded_at=_at(draw(day)),
                ),
            )
        )
    for n in range(draw(st.integers(0, 3))):
        start = draw(day)
        events.append(
            EnrollmentReceived(
                0,
                EnrollmentChange(
                    event_id=f"e{n}",
                    psn_no="P",
                    insutype=draw(insutypes),
                    insuplc_admdvs=draw(st.sampled_from([place, place, "110101", *(PLACES[r] for r in regions)])),
                    valid_from=start,
                    valid_to=draw(st.one_of(st.none(), st.just(date(year, 12, 31)))),
                    recorded_at=_at(draw(day)),
                ),
            )
        )
    for n in range(draw(st.integers(1, 3))):
        for rolled in regions:
            events.append(
                RollReceived(
                    0,
                    PremiumRoll(
                        event_id=f"roll{n}-{rolled}", region=rolled, year=year, recorded_at=_at(date(year, 1, 2))
                    ),
                )
            )
    events = draw(st.permutations(events))
    return region, year, [type(e)(seq, *list(vars(e).values())[1:]) for seq, e in enumerate(events, start=1)]


@given(lives())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_one_record_per_person_and_year_however_the_inputs_interleave(life):
    region, year, inputs = life
    records = replay(inputs, NOW)
    ids = Counter(r.claim_id for r in records)
    assert set(ids) <= {f"premium/{region}/{year}/P"} and all(n == 1 for n in ids.values())
    for record in records:  # made once, never adjusted: nothing topped up, nothing recovered
        assert record.kind == "premium" and D(0) <= record.fund_pay_sumamt <= record.medfee_sumamt == contribution_of(
            year
        )
        assert record.due_date >= date(year, 1, 1) and record.category in subsidised_categories(record_policy(record))


@given(lives(moving=True))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_person_insured_in_several_regions_is_subsidised_once_a_year(life):
    _, year, inputs = life
    records = replay(inputs, NOW)
    assert len(records) <= 1 and all(r.kind == "premium" and r.year == year for r in records)


def record_policy(record):
    return premium_policy(record.policy.region, record.year)


@given(lives(insutypes=st.just(InsuType.employee)))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_no_subsidy_for_employees(life):
    _, _, inputs = life
    assert replay(inputs, NOW) == []


UNLISTED = {
    region: sorted(set(Category) - subsidised_categories(premium_policy(region, premium_policy_first_year(region))))
    for region in REGIONS
}


@given(st.data())
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_no_subsidy_for_a_category_the_region_does_not_list(data):
    region = data.draw(st.sampled_from(REGIONS))
    life = data.draw(
        lives(insutypes=st.just(InsuType.resident), categories=st.sampled_from(UNLISTED[region]), region=region)
    )
    assert replay(life[2], NOW) == []


def test_the_unlisted_categories_are_the_seeds():
    assert UNLISTED["jining"] == sorted(
        set(Category)
        - {Category.tekun, *[c for c in Category if c.value.startswith("dibao") and c != Category.dibao_edge]}
    )
    assert (
        Category.low_income_elderly in UNLISTED["guangan"] and Category.low_income_elderly not in UNLISTED["zhengzhou"]
    )


def test_a_person_who_moves_is_subsidised_once_a_year():
    """Zhengzhou and Guang'an both rolled 2018: the person, subsidised in Zhengzhou on 1 January,
    moves to Guang'an in July; the year is subsidised once, where it was first (never topped up)."""
    at = "2017-12-01T09:00:00+08:00"
    inputs = [
        ChangeReceived(
            1,
            EligibilityChange(
                event_id="g",
                psn_no="M",
                category="tekun",
                action="grant",
                valid_from="2017-01-01",
                authority="civil_affairs",
                recorded_at=at,
            ),
        ),
        EnrollmentReceived(
            2,
            EnrollmentChange(
                event_id="e1",
                psn_no="M",
                insutype="390",
                insuplc_admdvs="410102",
                valid_from="2018-01-01",
                recorded_at=at,
            ),
        ),
        RollReceived(3, PremiumRoll(event_id="r-zz", region="zhengzhou", year=2018, recorded_at=at)),
        RollReceived(4, PremiumRoll(event_id="r-ga", region="guangan", year=2018, recorded_at=at)),
        EnrollmentReceived(
            5,
            EnrollmentChange(
                event_id="e2",
                psn_no="M",
                insutype="390",
                insuplc_admdvs="511602",
                valid_from="2018-07-01",
                recorded_at="2018-06-20T09:00:00+08:00",
            ),
        ),
    ]
    assert [r.claim_id for r in replay(inputs, NOW)] == ["premium/zhengzhou/2018/M"]
    # had the move been known before Guang'an's roll only, with Zhengzhou not yet rolled, Guang'an subsidises
    moved_first = [inputs[0], inputs[1], inputs[4], inputs[3]]
    [record] = replay([type(i)(n, *list(vars(i).values())[1:]) for n, i in enumerate(moved_first, 1)], NOW)
    assert (record.claim_id, record.due_date.isoformat(), str(record.fund_pay_sumamt)) == (
        "premium/guangan/2018/M",
        "2018-08-01",
        "220.00",
    )  # the month after its insurance there begins
