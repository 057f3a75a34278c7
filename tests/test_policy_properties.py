"""Properties of settlement over random sequences of claims, for every region's real policy.

For random people (insurance type, categories with validity periods) and random claims (medical
type, hospital level, place of treatment, referral, emergency flag, diagnosis, amounts exact to the
fen whose parts add up), dated within the policy's in-force period and settled one after another
with policies.replay.settle_in_order:

- no payment is below zero, and every payment is exact to the fen;
- no payer pays more than the in-scope amount left after the payers before it (the poverty-relief
  fund, which holds the personal share to a ceiling, is the exception: it pays at most the personal
  share left, out-of-scope parts included);
- the payments and the personal share add up to medfee_sumamt, and the personal share is >= 0;
- no account pays more in a year than its annual cap, read from the policy (tier cap, rule cap,
  the major-disease cap when the diagnosis is a listed major disease; none when uncapped), and no
  claim more than a per-claim limit;
- 就高不重复: in a year, an annual account pays at most what the best single schedule open to the
  person pays on the year's whole base (each part of the base is paid once);
- Taizhou outpatient assistance: at most 100 a day, 5 paid visits a month, 5,000 a year;
- settling the same claims again gives identical lines.

The last test pins a bug these properties found (a qualifying schedule paying base again that
another schedule had already paid); it is fixed in policies/payer.py.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from policies.conditions import open_to
from policies.diseases import major_disease_of
from policies.identity import counting
from policies.loader import load_policies
from policies.replay import settle_in_order
from policies.schedule import covered, over, spans
from schemas.codes import Category, HospitalLevel, InsuType, MedType, Payer, categories_named
from schemas.events import CategoryHeld, DischargeClaim
from schemas.money import ZERO
from schemas.policy import Policy, Rule, Tier

POLICIES: tuple[Policy, ...] = load_policies()
BY_REGION = {p.region: p for p in POLICIES}
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Diagnoses: listed major diseases (lung cancer, children's leukaemia with an age limit, acute
# myocardial infarction, end-stage renal disease) and ordinary ones (appendicitis, pneumonia).
DIAGNOSES = ("C34.9", "C92.0", "I21.9", "N18.5", "K35.8", "J18.9", "E11.9")
FEN = Decimal("0.01")


# ---------------------------------------------------------------------------------------------
# strategies


def _period(policy: Policy) -> tuple[date, date]:
    """Dates to draw from: the in-force period, or its first three years when open-ended."""
    start = policy.in_force_from
    end = policy.in_force_to or date(start.year + 3, 12, 31)
    return start, end


def _yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


@cache
def amounts_fen(large: int) -> st.SearchStrategy[int]:
    """Amounts in fen, spread over every order of magnitude up to ``large`` (hypothesis would
    otherwise favour tiny ones), plus round values that sit on deductibles and segment starts.

    Built once per ``large``, as are the other strategies drawn from for every claim: Hypothesis
    checks a strategy it has not seen before, which took most of these tests' time."""
    digits = len(str(large))
    spread = st.integers(1, digits).flatmap(lambda d: st.integers(10 ** (d - 1), min(large, 10**d)))
    return st.one_of(spread, st.sampled_from([0, 1, 5, 99_99, 100_00, 1000_00, 3000_00, 10_000_00, 50_000_00]))


@cache
def sampled(elements: Sequence) -> st.SearchStrategy:
    """``st.sampled_from(elements)``, built once per tuple of elements (see amounts_fen)."""
    return st.sampled_from(elements)


INPATIENT_LIKELY = sampled((MedType.inpatient, MedType.inpatient, *MedType))
EVERYWHERE = ("county", "county", "county", "pooled_city", "province", "anywhere")
HOSPITAL_LEVELS = sampled(tuple(HospitalLevel))
AGES = st.none() | st.integers(0, 90)
ALL_CATEGORIES = sampled(tuple(Category))


@cache
def likely_or_any(likely: tuple[Category, ...]) -> st.SearchStrategy[Category]:
    return sampled(likely) | ALL_CATEGORIES


def insured_in(code: str, county: str) -> str:
    """An insured place a policy listing ``code`` (a division-code prefix) is for: the county itself, or
    one of the city's (4 digits) or the province's (2 digits)."""
    return code if len(code) == 6 else (code + "01" + county)[:6] if len(code) == 2 else code + county


def place(insured: str, area: str) -> str:
    """A place of treatment at the given distance from the insured place (6-digit codes)."""
    if area == "county":
        return insured
    if area == "pooled_city":
        return insured[:4] + ("99" if insured[4:] != "99" else "98")
    if area == "province":
        return insured[:2] + ("99" if insured[2:4] != "99" else "98") + "01"
    return "110101" if insured[:2] != "11" else "120101"


def named_in(policy: Policy) -> list[Category]:
    """The categories some tier of the policy is open to (drawn more often than the others)."""
    named = {
        c
        for p in policy.payers
        for r in p.rules
        for t in r.tiers
        for pattern in (t.categories or [])
        for c in categories_named(pattern)
    }
    return sorted(named)


@st.composite
def categories(
    draw, start: date, end: date, likely: list[Category] | None = None, surely: bool = False
) -> list[CategoryHeld]:
    """Up to three categories, each held for a period: often all along, sometimes from or to mid-way."""
    codes = likely_or_any(tuple(likely)) if likely else ALL_CATEGORIES
    held = []
    if likely and (surely or draw(st.booleans())):  # one the policy names, held all along
        held.append(CategoryHeld(code=draw(sampled(tuple(likely))), valid_from=start - timedelta(days=365)))
    for code in draw(st.lists(codes, max_size=2)):
        valid_from = draw(st.just(start - timedelta(days=365)) | st.dates(start - timedelta(days=400), end))
        valid_to = draw(st.none() | st.dates(valid_from, end + timedelta(days=400)))
        held.append(CategoryHeld(code=code, valid_from=valid_from, valid_to=valid_to))
    return held


@st.composite
def one_claim(
    draw,
    index: int,
    person: dict,
    start: date,
    end: date,
    med_types: list[MedType] | None = None,
    large: int = 600_000_00,
    areas: tuple[str, ...] = EVERYWHERE,
) -> DischargeClaim:
    begin = draw(st.dates(start, end))
    stay = draw(st.integers(0, 40))
    finish = min(end, begin + timedelta(days=stay))
    med_type = draw(sampled(tuple(med_types)) if med_types else INPATIENT_LIKELY)
    area = draw(sampled(areas))
    inscp, fulamt, overlmt, presel = (draw(amounts_fen(large)) for _ in range(4))
    parts = [_yuan(v) for v in (inscp, fulamt // 4, overlmt // 8, presel // 8)]
    return DischargeClaim(
        claim_id=f"C{index}",
        psn_no=person["psn_no"],
        insutype=person["insutype"],
        insuplc_admdvs=person["insured"],
        mdtrtarea_admvs=place(person["insured"], area),
        med_type=med_type,
        hosp_lv=draw(HOSPITAL_LEVELS),
        referral=draw(st.booleans()),
        emergency_unable_to_pay=draw(st.booleans()),
        age=draw(AGES),
        begndate=begin,
        enddate=finish,
        dise_codg=draw(sampled(DIAGNOSES)),
        medfee_sumamt=sum(parts, start=ZERO),
        fulamt_ownpay_amt=parts[1],
        overlmt_selfpay=parts[2],
        preselfpay_amt=parts[3],
        inscp_scp_amt=parts[0],
    )


@st.composite
def histories(draw, policy: Policy) -> tuple[list[DischargeClaim], list[CategoryHeld]]:
    """One person's claims (arrival order, not sorted) and categories, under ``policy``."""
    start, end = _period(policy)
    person = {
        "psn_no": "P1",
        "insutype": draw(sampled((InsuType.resident, *InsuType))),
        "insured": insured_in(policy.codes[0], draw(sampled(("02", "21", "99")))),
    }
    # most histories stay within one or two years, so that yearly totals build up
    year = draw(st.integers(start.year, end.year))
    narrow = draw(st.booleans())
    lo = max(start, date(year, 1, 1)) if narrow else start
    hi = min(end, date(year, 12, 31)) if narrow else end
    count = draw(st.integers(1, 8))
    # half the histories focus on the vulnerable: a category the policy names, stays near home,
    # inpatient or chronic outpatient, larger bills (where the later payers of the chain pay)
    focus = draw(st.booleans())
    if focus:
        kinds = [MedType.inpatient, MedType.inpatient, MedType.chronic_outpatient]
        claims = [
            draw(one_claim(i, person, lo, hi, kinds, 400_000_00, ("county", "pooled_city"))) for i in range(count)
        ]
    else:
        claims = [draw(one_claim(i, person, lo, hi)) for i in range(count)]
    held = draw(categories(start, end, named_in(policy), surely=focus))
    return claims, held


@st.composite
def taizhou_outpatient(draw) -> tuple[list[DischargeClaim], list[CategoryHeld]]:
    """Many outpatient visits in one year, bunched into a few days of each month."""
    policy = BY_REGION["taizhou"]
    person = {"psn_no": "P2", "insutype": draw(sampled(tuple(InsuType))), "insured": "321202"}
    year = draw(st.integers(2018, 2020))
    claims: list[DischargeClaim] = []
    months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=12, unique=True))
    for month in sorted(months):
        days = draw(st.lists(st.integers(1, 4), min_size=0, max_size=9))
        for day in days:
            visit = date(year, month, day)
            claims.append(
                draw(
                    one_claim(
                        len(claims),
                        person,
                        visit,
                        visit,
                        [MedType.general_outpatient, MedType.chronic_outpatient],
                        1500_00,
                    )
                )
            )
    outpatient_groups = (
        Category.dibao,
        Category.dibao_urban_full,
        Category.tekun,
        Category.retired_1960s,
        Category.entitled_group,
        Category.orphan,
        Category.low_income_severe_mental,
        Category.worker_in_difficulty,
    )
    code = draw(sampled(outpatient_groups))
    held = [CategoryHeld(code=code, valid_from=policy.in_force_from)] + draw(
        categories(date(year, 1, 1), date(year, 12, 31))
    )
    return claims, held


# ---------------------------------------------------------------------------------------------
# reading caps from the policy


def _rule_and_tier(policy: Policy, payer: Payer, rule_id: str) -> tuple[Rule, Tier]:
    # "<region>/<period>/v<version>#<payer>.<rule>[<tier label>]"
    prefix = f"{policy.ref}#{payer.value}."
    assert rule_id.startswith(prefix), rule_id
    rule_name, _, label = rule_id[len(prefix) :].partition("[")
    label = label[:-1]
    payer_policy = next(p for p in policy.payers if p.payer == payer)
    rule = next(r for r in payer_policy.rules if r.name == rule_name)
    tier = next(t for t in rule.tiers if t.label == label)
    return rule, tier


def annual_cap(rule: Rule, tier: Tier, claim: DischargeClaim) -> Decimal | None:
    if tier.uncapped:
        return None
    if tier.annual_cap is not None:
        return tier.annual_cap
    if rule.limits.major_disease_annual_cap is not None and major_disease_of(claim.dise_codg, claim.age):
        return rule.limits.major_disease_annual_cap
    return rule.limits.annual_cap


def _qualified(tier: Tier, base: Decimal) -> Decimal:
    """What a tier's schedule pays on a whole yearly base: F(B), or 0 below its qualifying line."""
    if tier.qualifies_at is not None and base < tier.qualifies_at:
        return ZERO
    return covered(tier.segments or [], base)


def check_not_above_best_schedule(settled: list, held: list[CategoryHeld], *, with_qualifying: bool) -> None:
    """就高不重复: in a year, an annual account pays at most what the best single schedule open to the
    person's categories of that year pays on the year's whole base, F_t(B) (plus half a fen of rounding
    per claim). Tiers may change claim by claim as categories come and go (in every real policy the
    tiers of a rule are ordered: one pays at least as much as another on every part of the base), but
    each part of the base is paid once only."""
    last_of_year: dict[int, object] = {}
    claims_in_year: dict[int, int] = defaultdict(int)
    held_in_year: dict[int, set[Category]] = defaultdict(set)
    for result in settled:
        last_of_year[result.claim.year] = result
        claims_in_year[result.claim.year] += 1
        held_in_year[result.claim.year] |= {c.code for c in counting(held, result.claim, result.policy)}
    for year, result in last_of_year.items():
        policy = result.policy
        for payer in policy.payers:
            for rule in payer.rules:
                if rule.scope != "annual" or rule.base_of is not None:
                    continue
                if any(t.qualifies_at is not None for t in rule.tiers) and not with_qualifying:
                    continue  # see test_taizhou_qualifying_tier_pays_each_part_of_the_base_once
                totals = result.totals.get(payer.account_of(rule))
                if totals is None:
                    continue
                tiers = [t for t in rule.tiers if open_to(t.categories, held_in_year[year])]
                best = max((_qualified(t, totals.base) for t in tiers), default=ZERO)
                slack = Decimal("0.005") * claims_in_year[year]
                assert totals.paid <= best + slack, (
                    f"{payer.account_of(rule)} paid {totals.paid} in {year} on a yearly base of {totals.base}; "
                    f"the best single schedule pays {best}"
                )


# ---------------------------------------------------------------------------------------------
# explanations: Chinese lines in Chinese, and every printed equation true

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?%?")
_ARITHMETIC = re.compile(r"^[\d.%×()+−\- ]+$")


def _value(expression: str) -> Decimal:
    """The exact value of an explanation's arithmetic: numbers, percentages, ×, +, −, parentheses."""
    python = _NUMBER.sub(
        lambda m: f"(Decimal('{m[0][:-1]}') / 100)" if m[0].endswith("%") else f"Decimal('{m[0]}')",
        expression.replace("−", "-"),
    )
    return eval(python.replace("×", "*"), {"__builtins__": {}, "Decimal": Decimal})  # noqa: S307 - our own digits only


def false_equations(text: str) -> list[str]:
    """Every "arithmetic = value" in an explanation whose two sides differ (words around it ignored)."""
    wrong = []
    for part in re.split(r"[;；:：]", text):
        for left, right in re.findall(
            r"([\d.%×()+−\- ]+?)\s=\s(-?\d+(?:\.\d+)?)",
            part.replace("already paid this year", "").replace("本年已付", ""),
        ):
            left = left.strip()
            if any(op in left for op in "×+−") and _ARITHMETIC.match(left) and _value(left) != Decimal(right):
                wrong.append(f"{left} = {right} (is {_value(left)})")
    return wrong


def check_explanations(line) -> None:
    assert not re.search(r"[A-Za-z]", line.explanation_zh), f"English in the Chinese explanation: {line.explanation_zh}"
    for text in (line.explanation, line.explanation_zh):
        assert not false_equations(text), f"{false_equations(text)} in: {text}"


def test_false_equations_are_found():
    assert false_equations("deductible 0.00; 70% × (10000.00 − 0.00) = 1900.00") == [
        "70% × (10000.00 − 0.00) = 1900.00 (is 7000.000)"
    ]
    assert not false_equations("起付线 500.00；70% × (9900.00 − 500.00) − 本年已付 0.00 = 6580.00")
    assert not false_equations("held to 10% of the bill: 1234.55 × 10% = 123.455; 617.27 − 123.455 = 493.815")
    assert false_equations("617.27 − 123.46 = 493.815")


# ---------------------------------------------------------------------------------------------
# the checks


def check_history(claims: list[DischargeClaim], held: list[CategoryHeld]) -> list:
    settled = settle_in_order(claims, held)
    assert [s.claim.claim_id for s in settled] == [c.claim_id for c in claims]
    paid_by_account: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    for result in settled:
        claim, policy = result.claim, result.policy
        assert policy.in_force_on(claim.enddate)
        paid_before = ZERO
        payers_seen = set()
        for line in result.lines:
            assert line.payer not in payers_seen, f"{line.payer} has two lines"
            payers_seen.add(line.payer)
            amount = line.amount
            assert amount >= 0, f"{line.payer.value} pays {amount} < 0 on {claim.claim_id}: {line.explanation}"
            assert amount == amount.quantize(FEN), f"{amount} is not exact to the fen"
            check_explanations(line)
            if line.payer is Payer.poverty_relief:
                personal_left = claim.medfee_sumamt - paid_before
                assert amount <= personal_left, f"poverty_relief pays {amount} > personal share {personal_left}"
            else:
                remaining = max(ZERO, claim.inscp_scp_amt - paid_before)
                assert amount <= remaining, (
                    f"{line.payer.value} pays {amount} > in-scope remaining {remaining} on {claim.claim_id}: "
                    f"{line.explanation}"
                )
            if amount > 0:
                rule, tier = _rule_and_tier(policy, line.payer, line.rule)
                assert line.account is not None
                key = (claim.year, line.account)
                paid_by_account[key] += amount
                cap = annual_cap(rule, tier, claim)
                if cap is not None:
                    assert paid_by_account[key] <= cap, (
                        f"{line.account} paid {paid_by_account[key]} in {claim.year}, cap {cap}: {line.explanation}"
                    )
                if rule.limits.per_claim is not None:
                    assert amount <= rule.limits.per_claim
            paid_before += amount
        # paid_before is the lines' sum, added up here: the claim's sums must be it and the bill's rest
        assert paid_before <= claim.medfee_sumamt, (
            f"the funds pay {paid_before} > the bill {claim.medfee_sumamt} on {claim.claim_id}"
        )
        assert result.fund_pay_sumamt == paid_before
        assert result.psn_part_amt == claim.medfee_sumamt - paid_before
    check_not_above_best_schedule(settled, held, with_qualifying=False)
    again = settle_in_order(claims, held)
    assert [s.lines for s in again] == [s.lines for s in settled], "settling twice gave different lines"
    assert [s.totals for s in again] == [s.totals for s in settled]
    return settled


SEGMENTED = [t for p in POLICIES for payer in p.payers for r in payer.rules for t in r.tiers if t.segments]


@SETTINGS
@given(st.sampled_from(SEGMENTED), amounts_fen(500_000_00), amounts_fen(500_000_00))
def test_a_schedule_over_part_of_a_year_is_the_difference_of_its_two_ends(tier, a, b):
    low, high = sorted((_yuan(a), _yuan(b)))
    gross, shown = over(spans(tier.segments), low, high)
    assert gross == covered(tier.segments, high) - covered(tier.segments, low)
    assert _value(" + ".join(shown)) == gross if shown else gross == 0


def test_every_region_has_a_policy():
    # the five seed regions, and Chongqing's Yubei district from its bureau's published worked example
    assert {p.region for p in POLICIES} == {"zhengzhou", "guangan", "zhangye", "taizhou", "jining", "chongqing_yubei"}


@pytest.mark.parametrize("region", sorted(BY_REGION))
def test_settlement_invariants(region):
    policy = BY_REGION[region]

    @SETTINGS
    @given(histories(policy))
    def run(history):
        claims, held = history
        check_history(claims, held)

    run()


@SETTINGS
@given(taizhou_outpatient())
def test_taizhou_outpatient_limits(history):
    claims, held = history
    settled = check_history(claims, held)
    by_day: dict[date, Decimal] = defaultdict(lambda: ZERO)
    visits_by_month: dict[str, int] = defaultdict(int)
    by_year: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for result in settled:
        for line in result.lines:
            if line.account != "assistance.outpatient" or line.amount == 0:
                continue
            day = result.claim.enddate
            by_day[day] += line.amount
            visits_by_month[day.strftime("%Y-%m")] += 1
            by_year[day.year] += line.amount
            assert by_day[day] <= Decimal("100"), f"{by_day[day]} paid on {day}"
            assert visits_by_month[day.strftime("%Y-%m")] <= 5, f"more than 5 paid visits in {day:%Y-%m}"
            assert by_year[day.year] <= Decimal("5000"), f"{by_year[day.year]} paid in {day.year}"


# ---------------------------------------------------------------------------------------------
# Regression (found by these properties, fixed): Taizhou's qualifying tier for low_income_serious_illness


@st.composite
def taizhou_serious_illness(draw) -> tuple[list[DischargeClaim], list[CategoryHeld]]:
    """low_income_serious_illness together with another assistance category, inpatient stays of one year."""
    person = {"psn_no": "P3", "insutype": InsuType.resident, "insured": "321202"}
    year = draw(st.integers(2018, 2020))
    other = draw(sampled((Category.poverty_registered, Category.dibao, Category.tekun, Category.orphan)))
    held = [
        CategoryHeld(code=Category.low_income_serious_illness, valid_from=date(2018, 1, 1)),
        CategoryHeld(code=other, valid_from=date(2018, 1, 1)),
    ]
    count = draw(st.integers(2, 6))
    stays = [
        draw(one_claim(i, person, date(year, 1, 1), date(year, 12, 31), [MedType.inpatient], 150_000_00, ("county",)))
        for i in range(count)
    ]
    return stays, held


def _stay(claim_id: str, day: date, inscp: str) -> DischargeClaim:
    return DischargeClaim(
        claim_id=claim_id,
        psn_no="P3",
        insutype="390",
        insuplc_admdvs="321202",
        mdtrtarea_admvs="321202",
        med_type="21",
        hosp_lv="1",
        referral=False,
        begndate=day,
        enddate=day,
        dise_codg="K35.8",
        medfee_sumamt=inscp,
        fulamt_ownpay_amt="0",
        overlmt_selfpay="0",
        preselfpay_amt="0",
        inscp_scp_amt=inscp,
    )


@SETTINGS
@given(taizhou_serious_illness())
@example(
    (
        [_stay("TZ-1", date(2019, 3, 1), "10200.00"), _stay("TZ-2", date(2019, 6, 1), "86200.00")],
        [
            CategoryHeld(code=Category.poverty_registered, valid_from=date(2018, 1, 1)),
            CategoryHeld(code=Category.low_income_serious_illness, valid_from=date(2018, 1, 1)),
        ],
    )
)
def test_taizhou_qualifying_tier_pays_each_part_of_the_base_once(history):
    claims, held = history
    settled = settle_in_order(claims, held)
    check_not_above_best_schedule(settled, held, with_qualifying=True)
