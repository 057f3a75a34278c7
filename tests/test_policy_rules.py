"""Each kind of rule, on small inline policies (YAML text through policies.loader.parse_policy),
driven through policies.settle.settle and policies.payer.pay.

Every expected amount is worked out by hand in the comments next to it (PARAMETERS.md, "How a
payer computes"); none is copied from the engine's output. Then: policy-file validation (errors
name file:line and the problem), overlapping periods, and policy_for.
"""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from policies.conditions import area_of
from policies.loader import (
    REGIONS_DIR,
    YAML_LOADER,
    NoPolicy,
    PolicyFileError,
    _line_map,
    load_policies,
    parse_policy,
    policy_for,
)
from policies.payer import pay
from policies.replay import settle_in_order
from policies.settle import Settled, route, settle
from policies.year import ClaimOfYear, settle_year
from schemas.codes import Category, Payer
from schemas.events import CategoryHeld, DischargeClaim, PaymentLine
from schemas.policy import Policy
from schemas.totals import AccountTotals

D = Decimal

# ---------------------------------------------------------------------------------------------
# helpers

HEAD = """\
region: testland
name: Testland
name_zh: 测试市
document: test document
seed: none
pooled_city: "5116"
period: "2024"
version: 1
in_force_from: 2024-01-01
"""


def make_policy(payers: str, head: str = HEAD, name: str = "test.yaml") -> Policy:
    """A policy of ``head`` and the payers given as YAML list items (any common indentation)."""
    return parse_policy(policy_text(payers, head), name)


def policy_text(payers: str, head: str = HEAD) -> str:
    return head + "payers:\n" + textwrap.indent(textwrap.dedent(payers).strip("\n") + "\n", "  ")


def payer_yaml(payer: str, rule: str, fund: str = '"610100"') -> str:
    """One payer with one rule (the rule's YAML mapping, any indentation)."""
    body = textwrap.indent(textwrap.dedent(rule).strip("\n"), "      ")
    body = "    - " + body.lstrip()
    return f"- payer: {payer}\n  name_zh: 测试\n  fund_pay_type: {fund}\n  rules:\n{body}\n"


def claim(
    inscp: str = "1000.00",
    *,
    out: str = "0.00",
    claim_id: str = "C1",
    med_type: str = "21",
    hosp_lv: str = "2",
    insutype: str = "390",
    insured: str = "511602",
    treated: str | None = None,
    referral: bool = False,
    emergency: bool = False,
    dise: str = "K35.8",
    age: int | None = None,
    day: str = "2024-03-10",
    begin: str | None = None,
) -> DischargeClaim:
    """A claim whose out-of-catalogue part is ``out`` and in-scope part ``inscp`` (total: their sum)."""
    return DischargeClaim(
        claim_id=claim_id,
        psn_no="P1",
        insutype=insutype,
        insuplc_admdvs=insured,
        mdtrtarea_admvs=treated or insured,
        med_type=med_type,
        hosp_lv=hosp_lv,
        referral=referral,
        emergency_unable_to_pay=emergency,
        age=age,
        begndate=begin or day,
        enddate=day,
        dise_codg=dise,
        medfee_sumamt=D(inscp) + D(out),
        fulamt_ownpay_amt=out,
        overlmt_selfpay="0",
        preselfpay_amt="0",
        inscp_scp_amt=inscp,
    )


def run(policy: Policy, claims: list[DischargeClaim], held=()) -> list[Settled]:
    """Settle in order, carrying the person's totals per year. ``held``: categories, or one list per claim."""
    by_year: dict[int, dict] = {}
    results = []
    for i, c in enumerate(claims):
        categories = held[i] if held and isinstance(held[0], (list, tuple, set)) else held
        result = settle(c, set(categories), by_year.get(c.year, {}), policy)
        by_year[c.year] = result.totals
        results.append(result)
    return results


def paid(result: Settled) -> dict[str, Decimal]:
    """Every line's amount by payer (zero lines included)."""
    return {line.payer.value: line.amount for line in result.lines}


def line(result: Settled, payer: str) -> PaymentLine:
    (found,) = [line for line in result.lines if line.payer.value == payer]
    return found


def amount(result: Settled, payer: str) -> Decimal:
    return line(result, payer).amount


# ---------------------------------------------------------------------------------------------
# per-claim schedule with a deductible

BASIC = payer_yaml(
    "basic",
    """
    name: inpatient
    source: test
    when: {med_types: ["21"]}
    scope: per_claim
    tiers:
      - {label: level 1, when: {hosp_lv: ["1"]}, segments: [{from: 200, rate: "90%"}]}
      - {label: level 2, when: {hosp_lv: ["2"]}, segments: [{from: 500, rate: "80%"}]}
      - {label: level 3, when: {hosp_lv: ["3"]}, segments: [{from: 0, rate: "50%"}, {from: 10000, rate: "60%"}]}
    """,
    fund='{"390": "390100", "310": "310100"}',
)


def test_per_claim_deductible_and_rate():
    policy = make_policy(BASIC)
    (r,) = run(policy, [claim("10000.00", out="500.00", hosp_lv="2")])
    # 80% × (10,000 − 500) = 7,600.00
    assert paid(r) == {"basic": D("7600.00")}
    assert r.fund_pay_sumamt == D("7600.00")
    # personal: 10,500 − 7,600 = 2,900.00
    assert r.psn_part_amt == D("2900.00")
    basic = line(r, "basic")
    assert basic.fund_pay_type == "390100"
    assert basic.base == D("10000.00")
    assert basic.cumulative_before is None  # per claim: no yearly base
    assert "deductible 500.00" in basic.explanation
    assert "80% × (10000.00 − 500.00)" in basic.explanation


def test_per_claim_deductible_applies_again_on_every_claim():
    policy = make_policy(BASIC)
    results = run(policy, [claim("10000.00", claim_id="A"), claim("10000.00", claim_id="B", day="2024-05-01")])
    # each stay: 80% × (10,000 − 500) = 7,600.00 — the deductible is per stay
    assert [amount(r, "basic") for r in results] == [D("7600.00"), D("7600.00")]


def test_per_claim_below_deductible_pays_zero_with_a_line():
    policy = make_policy(BASIC)
    (r,) = run(policy, [claim("400.00", hosp_lv="2")])
    # 400 < 500: nothing
    assert paid(r) == {"basic": D("0.00")}
    assert r.payments == []
    assert r.psn_part_amt == D("400.00")


def test_per_claim_segments_do_not_accumulate():
    policy = make_policy(BASIC)
    results = run(policy, [claim("15000.00", hosp_lv="3", claim_id="A"), claim("15000.00", hosp_lv="3", claim_id="B")])
    # each: 50% × 10,000 + 60% × 5,000 = 5,000 + 3,000 = 8,000.00
    assert [amount(r, "basic") for r in results] == [D("8000.00"), D("8000.00")]


@pytest.mark.parametrize(
    "inscp, level, expected",
    [
        ("1234.57", "1", "931.11"),  # 90% × 1,034.57 = 931.113 → 931.11
        ("1000.01", "3", "500.01"),  # 50% × 1,000.01 = 500.005 → 500.01 (half up)
        ("0.03", "3", "0.02"),  # 50% × 0.03 = 0.015 → 0.02 (half up, not to even)
        ("0.01", "3", "0.01"),  # 50% × 0.01 = 0.005 → 0.01
        ("10000.03", "3", "5000.02"),  # 50% × 10,000 + 60% × 0.03 = 5,000.018 → 5,000.02
    ],
)
def test_payment_rounded_to_the_fen_half_up(inscp, level, expected):
    (r,) = run(make_policy(BASIC), [claim(inscp, hosp_lv=level)])
    assert amount(r, "basic") == D(expected)
    assert r.psn_part_amt == D(inscp) - D(expected)


def test_tier_conditions_choose_employee_or_resident_schedule():
    policy = make_policy(
        payer_yaml(
            "basic",
            """
            name: outpatient
            source: test
            scope: per_claim
            tiers:
              - {label: resident, when: {insutype: ["390"]}, segments: [{from: 0, rate: "50%"}]}
              - {label: employee, when: {insutype: ["310"]}, segments: [{from: 0, rate: "60%"}]}
            """,
            fund='{"390": "390100", "310": "310100"}',
        )
    )
    resident, employee = run(policy, [claim("100.00", insutype="390")]), run(policy, [claim("100.00", insutype="310")])
    # 50% × 100 = 50.00 (fund 390100);  60% × 100 = 60.00 (fund 310100)
    assert amount(resident[0], "basic") == D("50.00")
    assert line(resident[0], "basic").fund_pay_type == "390100"
    assert line(resident[0], "basic").applied == "resident"
    assert amount(employee[0], "basic") == D("60.00")
    assert line(employee[0], "basic").fund_pay_type == "310100"
    assert line(employee[0], "basic").applied == "employee"


# ---------------------------------------------------------------------------------------------
# annual cumulative segments: F(after) − F(before)

CRITICAL = payer_yaml(
    "critical",
    """
    name: critical
    source: test
    scope: annual
    tiers:
      - label: everyone
        segments: [{from: 1000, rate: "50%"}, {from: 5000, rate: "60%"}, {from: 10000, rate: "70%"}]
    """,
    fund='"390200"',
)


def test_annual_segments_across_claims():
    policy = make_policy(CRITICAL)
    r1, r2, r3 = run(
        policy,
        [
            claim("3000.00", claim_id="A", day="2024-02-01"),
            claim("4000.00", claim_id="B", day="2024-05-01"),
            claim("5000.00", claim_id="C", day="2024-09-01"),
        ],
    )
    # F(B) = 50% × [1,000, 5,000) + 60% × [5,000, 10,000) + 70% × [10,000, ∞), cut at B
    # A: F(3,000) − F(0) = 50% × 2,000 = 1,000.00
    assert amount(r1, "critical") == D("1000.00")
    assert line(r1, "critical").cumulative_before == D("0.00")
    assert r1.totals["critical"].base == D("3000.00")
    # B: F(7,000) − F(3,000) = (50% × 4,000 + 60% × 2,000) − 1,000 = 3,200 − 1,000 = 2,200.00
    assert amount(r2, "critical") == D("2200.00")
    assert line(r2, "critical").cumulative_before == D("3000.00")
    assert line(r2, "critical").base == D("4000.00")
    # C: F(12,000) − F(7,000) = (2,000 + 3,000 + 70% × 2,000) − 3,200 = 6,400 − 3,200 = 3,200.00
    assert amount(r3, "critical") == D("3200.00")
    assert r3.totals["critical"].base == D("12000.00")
    assert r3.totals["critical"].paid == D("6400.00")
    assert "60% × (10000.00 − 7000.00) + 70% × (12000.00 − 10000.00)" in line(r3, "critical").explanation


def test_annual_segments_one_claim_equals_the_sum_of_parts():
    (r,) = run(make_policy(CRITICAL), [claim("12000.00")])
    # F(12,000) = 2,000 + 3,000 + 1,400 = 6,400.00, as the three claims above together
    assert amount(r, "critical") == D("6400.00")


def test_annual_totals_start_again_in_a_new_year():
    policy = make_policy(CRITICAL)
    r1, r2 = run(
        policy, [claim("3000.00", claim_id="A", day="2024-12-31"), claim("3000.00", claim_id="B", day="2025-01-01")]
    )
    # both: F(3,000) − F(0) = 1,000.00; 2025 starts from a yearly base of 0
    assert amount(r1, "critical") == amount(r2, "critical") == D("1000.00")
    assert line(r2, "critical").cumulative_before == D("0.00")


def test_year_is_the_year_of_discharge():
    policy = make_policy(CRITICAL)
    r1, r2 = run(
        policy,
        [
            claim("3000.00", claim_id="A", day="2024-06-01"),
            claim("3000.00", claim_id="B", begin="2024-12-20", day="2025-01-05"),
        ],
    )
    # B was admitted in 2024 but discharged in 2025: 2025's yearly base, from 0 → 1,000.00 again
    assert amount(r2, "critical") == D("1000.00")


# ---------------------------------------------------------------------------------------------
# caps: annual, per claim, uncapped, major disease


def test_annual_cap_of_the_rule():
    policy = make_policy(
        payer_yaml(
            "critical",
            """
            name: critical
            source: test
            scope: annual
            limits: {annual_cap: 2500}
            tiers:
              - label: everyone
                segments: [{from: 1000, rate: "50%"}, {from: 5000, rate: "60%"}, {from: 10000, rate: "70%"}]
            """,
        )
    )
    r1, r2, r3 = run(
        policy, [claim("3000.00", claim_id="A"), claim("4000.00", claim_id="B"), claim("5000.00", claim_id="C")]
    )
    # A: 1,000.00 (as above); B: 2,200.00 by the schedule, 2,500 − 1,000 = 1,500.00 left of the cap
    assert amount(r1, "critical") == D("1000.00")
    assert amount(r2, "critical") == D("1500.00")
    assert "annual cap 2500.00: 1500.00 left" in line(r2, "critical").explanation
    # C: 3,200.00 by the schedule, nothing left
    assert amount(r3, "critical") == D("0.00")
    assert "annual cap 2500.00: 0.00 left" in line(r3, "critical").explanation
    assert r3.totals["critical"].paid == D("2500.00")
    # the base still counts: 3,000 + 4,000 + 5,000
    assert r3.totals["critical"].base == D("12000.00")


def test_annual_cap_of_a_per_claim_tier_counts_across_claims():
    policy = make_policy(
        payer_yaml(
            "basic",
            """
            name: inpatient
            source: test
            scope: per_claim
            tiers:
              - {label: all, segments: [{from: 0, rate: "90%"}], annual_cap: 1000}
            """,
        )
    )
    r1, r2 = run(policy, [claim("800.00", claim_id="A"), claim("800.00", claim_id="B")])
    # A: 90% × 800 = 720.00; B: 720.00 by the schedule, 1,000 − 720 = 280.00 left
    assert amount(r1, "basic") == D("720.00")
    assert amount(r2, "basic") == D("280.00")


def test_tier_cap_replaces_the_rule_cap():
    policy = make_policy(
        payer_yaml(
            "assistance",
            """
            name: assistance
            source: test
            scope: annual
            limits: {annual_cap: 1000}
            tiers:
              - {label: tekun, categories: [tekun], segments: [{from: 0, rate: "100%"}], uncapped: true}
              - {label: orphans, categories: [orphan], segments: [{from: 0, rate: "100%"}], annual_cap: 3000}
              - {label: dibao, categories: ["dibao*"], segments: [{from: 0, rate: "100%"}]}
            """,
        )
    )
    # 100% × 5,000 = 5,000: tekun uncapped → 5,000.00; orphans' own cap 3,000.00; dibao the rule's 1,000.00
    assert amount(run(policy, [claim("5000.00")], [Category.tekun])[0], "assistance") == D("5000.00")
    assert amount(run(policy, [claim("5000.00")], [Category.orphan])[0], "assistance") == D("3000.00")
    assert amount(run(policy, [claim("5000.00")], [Category.dibao_rural_2])[0], "assistance") == D("1000.00")


def test_per_claim_cap():
    policy = make_policy(
        payer_yaml(
            "emergency_relief",
            """
            name: emergency
            source: test
            scope: per_claim
            limits: {per_claim: 800}
            tiers:
              - {label: all, segments: [{from: 0, rate: "100%"}]}
            """,
        )
    )
    r1, r2, r3 = run(
        policy, [claim("1000.00", claim_id="A"), claim("500.00", claim_id="B"), claim("1000.00", claim_id="C")]
    )
    # A: 100% × 1,000 = 1,000, at most 800.00; B: 500.00; C: 800.00 again (per claim, not per year)
    assert [amount(r, "emergency_relief") for r in (r1, r2, r3)] == [D("800.00"), D("500.00"), D("800.00")]
    assert "at most 800.00 a claim" in line(r1, "emergency_relief").explanation


MAJOR = payer_yaml(
    "assistance",
    """
    name: assistance
    source: test
    scope: annual
    limits: {annual_cap: 1000, major_disease_annual_cap: 2000}
    tiers:
      - {label: all, segments: [{from: 0, rate: "100%"}]}
    """,
)


@pytest.mark.parametrize(
    "dise, age, expected",
    [
        ("C34.9", None, "2000.00"),  # lung cancer: the major-disease cap 2,000
        ("C34", 60, "2000.00"),
        ("K35.8", None, "1000.00"),  # appendicitis: the ordinary cap 1,000
        ("C92.0", 10, "2000.00"),  # leukaemia in a child (max age 14): major
        ("C92.0", 30, "1000.00"),  # ... in an adult: not a listed major disease
        ("C92.0", None, "1000.00"),  # ... age unknown: does not count as the children's disease
        ("C18.7", None, "2000.00"),  # colorectal cancer is C18–C20 (PARAMETERS.md) ...
        ("C19", None, "2000.00"),  # ... the rectosigmoid junction included
        ("C20", None, "2000.00"),
        ("C21.0", None, "1000.00"),  # anus: not listed
        ("N18.5", None, "2000.00"),  # end-stage renal disease
        ("N18.0", None, "2000.00"),  # ... and its older code
        ("N18.4", None, "1000.00"),  # stage 4: not end-stage
    ],
)
def test_major_disease_cap(dise, age, expected):
    (r,) = run(make_policy(MAJOR), [claim("5000.00", dise=dise, age=age)])
    # 100% × 5,000 = 5,000, within the cap for the diagnosis
    assert amount(r, "assistance") == D(expected)


def test_major_disease_cap_is_named_in_the_explanation():
    (r,) = run(make_policy(MAJOR), [claim("5000.00", dise="C34.9")])
    assert "major disease lung cancer" in line(r, "assistance").explanation
    assert "重大疾病（肺癌）年度限额 2000.00" in line(r, "assistance").explanation_zh


def test_major_and_ordinary_claims_share_one_account():
    policy = make_policy(MAJOR)
    # major first: 2,000.00; then ordinary: cap 1,000 − 2,000 paid < 0 → 0.00
    r1, r2 = run(policy, [claim("5000.00", dise="C34.9", claim_id="A"), claim("5000.00", dise="K35.8", claim_id="B")])
    assert (amount(r1, "assistance"), amount(r2, "assistance")) == (D("2000.00"), D("0.00"))
    # ordinary first: 1,000.00; then major: 2,000 − 1,000 = 1,000.00 more
    r1, r2 = run(policy, [claim("5000.00", dise="K35.8", claim_id="A"), claim("5000.00", dise="C34.9", claim_id="B")])
    assert (amount(r1, "assistance"), amount(r2, "assistance")) == (D("1000.00"), D("1000.00"))


# ---------------------------------------------------------------------------------------------
# most favourable tier (就高不重复) and `applied`

FAVOURABLE = payer_yaml(
    "assistance",
    """
    name: assistance
    source: test
    scope: annual
    tiers:
      - {label: flat, categories: ["dibao*"], segments: [{from: 0, rate: "50%"}]}
      - {label: steep, categories: [illness_impoverished], segments: [{from: 4000, rate: "90%"}]}
      - {label: open, segments: [{from: 0, rate: "10%"}]}
    """,
)


def test_most_favourable_tier_for_a_small_claim():
    held = [Category.dibao_rural_3, Category.illness_impoverished]
    (r,) = run(make_policy(FAVOURABLE), [claim("5000.00")], held)
    # flat 50% × 5,000 = 2,500; steep 90% × (5,000 − 4,000) = 900; open 10% × 5,000 = 500 → 2,500.00, once
    a = line(r, "assistance")
    assert a.amount == D("2500.00")
    assert a.applied == "dibao_rural_3"
    assert a.rule.endswith("#assistance.assistance[flat]")
    assert "most favourable of dibao_rural_3 2500.00, illness_impoverished 900.00" in a.explanation
    assert r.fund_pay_sumamt == D("2500.00")  # not 2,500 + 900 + 500


def test_most_favourable_tier_for_a_large_claim():
    held = [Category.dibao_rural_3, Category.illness_impoverished]
    (r,) = run(make_policy(FAVOURABLE), [claim("20000.00")], held)
    # flat 50% × 20,000 = 10,000; steep 90% × 16,000 = 14,400; open 2,000 → 14,400.00
    a = line(r, "assistance")
    assert a.amount == D("14400.00")
    assert a.applied == "illness_impoverished"
    assert a.rule.endswith("[steep]")


def test_tier_open_to_everyone_is_applied_by_its_label():
    (r,) = run(make_policy(FAVOURABLE), [claim("5000.00")], [])
    # only the open tier: 10% × 5,000 = 500.00
    a = line(r, "assistance")
    assert (a.amount, a.applied) == (D("500.00"), "open")
    assert "most favourable" not in a.explanation  # one tier only: no comparison


def test_a_category_group_names_every_class():
    for code in (Category.dibao, Category.dibao_rural_1, Category.dibao_urban_partial):
        (r,) = run(make_policy(FAVOURABLE), [claim("1000.00")], [code])
        # 50% × 1,000 = 500.00 under "dibao*"
        assert (amount(r, "assistance"), line(r, "assistance").applied) == (D("500.00"), code.value)
    # dibao_edge is not in "dibao*": only the open tier, 10% × 1,000 = 100.00
    (r,) = run(make_policy(FAVOURABLE), [claim("1000.00")], [Category.dibao_edge])
    assert amount(r, "assistance") == D("100.00")


def test_ties_go_to_the_first_listed_tier():
    policy = make_policy(
        payer_yaml(
            "assistance",
            """
            name: assistance
            source: test
            scope: per_claim
            tiers:
              - {label: first, categories: [tekun], segments: [{from: 0, rate: "70%"}]}
              - {label: second, categories: [orphan], segments: [{from: 0, rate: "70%"}]}
            """,
        )
    )
    (r,) = run(policy, [claim("1000.00")], [Category.orphan, Category.tekun])
    # both 70% × 1,000 = 700.00: the first listed tier is named
    assert (amount(r, "assistance"), line(r, "assistance").applied) == (D("700.00"), "tekun")


# ---------------------------------------------------------------------------------------------
# conditions


def open_payer(when: str) -> Policy:
    """One payer open to everyone, 100% of the remaining, under the conditions ``when``."""
    return make_policy(
        payer_yaml(
            "assistance",
            f"""
            name: conditional
            source: test
            when: {when}
            scope: per_claim
            tiers:
              - {{label: all, segments: [{{from: 0, rate: "100%"}}]}}
            """,
        )
    )


CONDITION_CASES = [
    # (when, claim fields, pays?, reason given when it does not)
    ('{med_types: ["21", "14"]}', {"med_type": "21"}, True, None),
    ('{med_types: ["21", "14"]}', {"med_type": "14"}, True, None),
    ('{med_types: ["21", "14"]}', {"med_type": "11"}, False, "medical type 11 is not one of ['21', '14']"),
    ('{hosp_lv: ["1"]}', {"hosp_lv": "1"}, True, None),
    ('{hosp_lv: ["1"]}', {"hosp_lv": "2"}, False, "hospital level 2 is not one of ['1']"),
    ('{insutype: ["390"]}', {"insutype": "390"}, True, None),
    ('{insutype: ["390"]}', {"insutype": "310"}, False, "insurance type 310 is not one of ['390']"),
    # area, from the division codes: insured 511602 (Guang'an district)
    ("{area: county}", {"treated": "511602"}, True, None),
    ("{area: county}", {"treated": "511621"}, False, "treated pooled_city (511621), not within county of 511602"),
    ("{area: pooled_city}", {"treated": "511602"}, True, None),
    ("{area: pooled_city}", {"treated": "511621"}, True, None),
    (
        "{area: pooled_city}",
        {"treated": "510104"},
        False,
        "treated province (510104), not within pooled_city of 511602",
    ),
    (
        "{area: pooled_city}",
        {"treated": "110101"},
        False,
        "treated anywhere (110101), not within pooled_city of 511602",
    ),
    ("{area: province}", {"treated": "510104"}, True, None),
    ("{area: province}", {"treated": "500101"}, False, "treated anywhere (500101), not within province of 511602"),
    ("{area: anywhere}", {"treated": "110101"}, True, None),
    ("{referral: true}", {"referral": True}, True, None),
    ("{referral: true}", {"referral": False}, False, "the stay was not referred"),
    ("{referral: false}", {"referral": True}, False, "the stay was referred"),
    ("{emergency_unable_to_pay: true}", {"emergency": True}, True, None),
    (
        "{emergency_unable_to_pay: true}",
        {"emergency": False},
        False,
        "the claim is not flagged emergency_unable_to_pay",
    ),
    ("{discharged_from: 2024-07-01}", {"begin": "2024-06-25", "day": "2024-07-01"}, True, None),
    ("{discharged_from: 2024-07-01}", {"day": "2024-06-30"}, False, "discharged 2024-06-30, before 2024-07-01"),
    ("{discharged_to: 2024-06-30}", {"day": "2024-06-30"}, True, None),
    ("{discharged_to: 2024-06-30}", {"day": "2024-07-01"}, False, "discharged 2024-07-01, after 2024-06-30"),
    # alternatives: level-1 or referred (基层首诊、逐级转诊)
    ('{any_of: [{hosp_lv: ["1"]}, {referral: true}]}', {"hosp_lv": "1"}, True, None),
    ('{any_of: [{hosp_lv: ["1"]}, {referral: true}]}', {"hosp_lv": "3", "referral": True}, True, None),
    (
        '{any_of: [{hosp_lv: ["1"]}, {referral: true}]}',
        {"hosp_lv": "3"},
        False,
        "none of the alternatives holds: hospital level 3 is not one of ['1']; or the stay was not referred",
    ),
    # alternatives of several conditions each: in the pooled city, or referred within the province
    ("{any_of: [{area: pooled_city}, {area: province, referral: true}]}", {"treated": "511621"}, True, None),
    (
        "{any_of: [{area: pooled_city}, {area: province, referral: true}]}",
        {"treated": "510104", "referral": True},
        True,
        None,
    ),
    (
        "{any_of: [{area: pooled_city}, {area: province, referral: true}]}",
        {"treated": "510104"},
        False,
        "or the stay was not referred",
    ),
    (
        "{any_of: [{area: pooled_city}, {area: province, referral: true}]}",
        {"treated": "110101", "referral": True},
        False,
        "treated anywhere (110101), not within province of 511602",
    ),
    # conditions and alternatives together: every failure is told
    (
        '{med_types: ["21"], any_of: [{hosp_lv: ["1"]}, {referral: true}]}',
        {"med_type": "11", "hosp_lv": "2"},
        False,
        "medical type 11 is not one of ['21']; none of the alternatives holds",
    ),
]


@pytest.mark.parametrize("when, fields, pays, reason", CONDITION_CASES)
def test_conditions(when, fields, pays, reason):
    (r,) = run(open_payer(when), [claim("300.00", **fields)])
    a = line(r, "assistance")
    if pays:
        # 100% × 300 = 300.00
        assert a.amount == D("300.00"), a.explanation
        assert a.rule.endswith("#assistance.conditional[all]")
    else:
        assert a.amount == D("0.00")
        assert a.rule.endswith("#assistance.not_applicable")
        assert a.explanation.startswith("assistance pays nothing: conditional: ")
        assert reason in a.explanation, a.explanation
        assert a.explanation_zh.startswith("测试不支付")


@pytest.mark.parametrize(
    "insured, treated, area",
    [
        ("511602", "511602", "county"),
        ("511602", "511603", "pooled_city"),
        ("511602", "511699", "pooled_city"),
        ("511602", "511702", "province"),  # 5117 is another city of Sichuan
        ("511602", "510104", "province"),
        ("511602", "501602", "anywhere"),  # same last four digits, other province
        ("511602", "110101", "anywhere"),
    ],
)
def test_area_of(insured, treated, area):
    assert area_of(claim(insured=insured, treated=treated)) == area


def test_tier_condition_failing_for_every_open_tier_gives_a_zero_line():
    policy = make_policy(
        payer_yaml(
            "tilt",
            """
            name: tilt
            source: test
            scope: per_claim
            tiers:
              - label: referred dibao
                categories: ["dibao*"]
                when: {referral: true}
                segments: [{from: 0, rate: "5%"}]
            """,
        )
    )
    (r,) = run(policy, [claim("1000.00", referral=False)], [Category.dibao])
    t = line(r, "tilt")
    assert t.amount == D("0.00")
    # (each schedule open to the person, with why it does not apply)
    assert "tilt: no schedule applies to this claim: referred dibao: the stay was not referred" in t.explanation
    assert "无适用于本次就医的标准：referred dibao：未办理转诊" in t.explanation_zh
    (r,) = run(policy, [claim("1000.00", referral=True)], [Category.dibao])
    # 5% × 1,000 = 50.00
    assert amount(r, "tilt") == D("50.00")


def test_first_rule_that_holds_is_used():
    policy = make_policy(
        """
        - payer: assistance
          name_zh: 救助
          fund_pay_type: "610100"
          rules:
            - name: inpatient
              source: test
              when: {med_types: ["21"]}
              scope: per_claim
              tiers: [{label: inpatient, segments: [{from: 0, rate: "70%"}]}]
            - name: outpatient
              source: test
              when: {med_types: ["11", "14"]}
              scope: per_claim
              account: assistance.outpatient
              tiers: [{label: outpatient, segments: [{from: 0, rate: "50%"}]}]
        """
    )
    inpatient, outpatient = run(
        policy, [claim("100.00", med_type="21", claim_id="A"), claim("100.00", med_type="11", claim_id="B")]
    )
    # 70% × 100 = 70.00 (account assistance); 50% × 100 = 50.00 (account assistance.outpatient)
    assert (amount(inpatient, "assistance"), line(inpatient, "assistance").account) == (D("70.00"), "assistance")
    assert (amount(outpatient, "assistance"), line(outpatient, "assistance").account) == (
        D("50.00"),
        "assistance.outpatient",
    )
    assert outpatient.totals["assistance"].paid == D("70.00")
    assert outpatient.totals["assistance.outpatient"].paid == D("50.00")


# ---------------------------------------------------------------------------------------------
# per-day and per-month-visits limits (Taizhou's outpatient assistance, in small)

OUTPATIENT = payer_yaml(
    "assistance",
    """
    name: outpatient
    source: test
    when: {med_types: ["11", "14"]}
    scope: per_claim
    account: assistance.outpatient
    limits: {annual_cap: 5000, per_day: 100, assisted_visits_per_month: 5}
    tiers:
      - {label: all, segments: [{from: 0, rate: "85%"}]}
    """,
)


def visit(day: str, n: int, inscp: str = "100.00") -> DischargeClaim:
    return claim(inscp, med_type="11", day=day, claim_id=f"V{n}-{day}")


def test_per_day_limit():
    policy = make_policy(OUTPATIENT)
    results = run(
        policy, [visit("2024-03-01", 1), visit("2024-03-01", 2), visit("2024-03-01", 3), visit("2024-03-02", 4)]
    )
    # 85% × 100 = 85.00; then 100 − 85 = 15.00 left today; then 0.00; the next day 85.00 again
    assert [amount(r, "assistance") for r in results] == [D("85.00"), D("15.00"), D("0.00"), D("85.00")]
    assert "at most 100.00 a day: 15.00 left" in line(results[1], "assistance").explanation
    assert "at most 100.00 a day: 0.00 left" in line(results[2], "assistance").explanation
    assert results[3].totals["assistance.outpatient"].paid_by_day == {
        date(2024, 3, 1): D("100.00"),
        date(2024, 3, 2): D("85.00"),
    }


def test_assisted_visits_per_month():
    policy = make_policy(OUTPATIENT)
    march = [visit(f"2024-03-{d:02d}", d) for d in range(1, 7)]
    results = run(policy, march + [visit("2024-04-01", 7)])
    # five paid visits in March at 85% × 100 = 85.00, the sixth nothing, April's first 85.00 again
    assert [amount(r, "assistance") for r in results] == [D("85.00")] * 5 + [D("0.00"), D("85.00")]
    assert "5 assisted visits in 2024-03 already" in line(results[5], "assistance").explanation
    assert results[-1].totals["assistance.outpatient"].assisted_visits_by_month == {"2024-03": 5, "2024-04": 1}


def test_unpaid_visits_do_not_count_towards_the_month():
    policy = make_policy(OUTPATIENT)
    # a visit with nothing in scope pays nothing and is not an assisted visit
    claims = [visit("2024-03-01", 0, inscp="0.00")] + [visit(f"2024-03-{d:02d}", d) for d in range(2, 7)]
    results = run(policy, claims)
    assert [amount(r, "assistance") for r in results] == [D("0.00")] + [D("85.00")] * 5
    assert results[-1].totals["assistance.outpatient"].assisted_visits_by_month == {"2024-03": 5}


def test_outpatient_annual_cap_through_sixty_visits():
    policy = make_policy(OUTPATIENT)
    claims = [visit(f"2024-{m:02d}-{d:02d}", d) for m in range(1, 13) for d in range(1, 6)]
    results = run(policy, claims)
    amounts = [amount(r, "assistance") for r in results]
    # 58 visits × 85 = 4,930.00; the 59th: 5,000 − 4,930 = 70.00; the 60th: 0.00
    assert amounts[:58] == [D("85.00")] * 58
    assert amounts[58:] == [D("70.00"), D("0.00")]
    assert sum(amounts) == D("5000.00")
    assert "annual cap 5000.00: 70.00 left" in line(results[58], "assistance").explanation


def test_outpatient_annual_cap_from_given_totals():
    policy = make_policy(OUTPATIENT)
    totals = {"assistance.outpatient": AccountTotals(paid=D("4950.00"))}
    r = settle(visit("2024-11-01", 1), set(), totals, policy)
    # 85.00 by the schedule; 5,000 − 4,950 = 50.00 left of the year
    assert amount(r, "assistance") == D("50.00")
    assert r.totals["assistance.outpatient"].paid == D("5000.00")


# ---------------------------------------------------------------------------------------------
# qualifies_at: nothing below the line, then on the whole yearly base

QUALIFYING = payer_yaml(
    "assistance",
    """
    name: inpatient
    source: test
    scope: annual
    tiers:
      - label: serious illness
        categories: [low_income_serious_illness]
        segments: [{from: 0, rate: "70%"}]
        qualifies_at: 10000
    """,
)


def year_of(policy: Policy, claims: list[DischargeClaim], held=()) -> list[Settled]:
    """One person's year as known once every claim is in (policies.year.settle_year)."""
    return settle_year([ClaimOfYear(c, frozenset(held), policy) for c in claims]).claims


def test_qualifies_at_pays_nothing_below_then_each_claim_of_the_year():
    held = [Category.low_income_serious_illness]
    claims = [claim("2000.00", claim_id="A"), claim("8000.00", claim_id="B"), claim("1000.00", claim_id="C")]
    r1, r2, r3 = run(make_policy(QUALIFYING), claims, held)
    # At each claim, with the year so far:
    # A: yearly base 0 → 2,000 < 10,000: 0.00 (the base still counts)
    assert amount(r1, "assistance") == D("0.00")
    assert "below the qualifying 10000.00: 0.00" in line(r1, "assistance").explanation
    assert r1.totals["assistance"].base == D("2000.00") and not r1.reaches_back
    # B: 2,000 → 10,000 reaches the line (含一万元): B pays on its own base, 70% × (10,000 − 2,000) = 5,600.00,
    #    and says that A is owed too (the year is settled again, not clipped onto B)
    assert amount(r2, "assistance") == D("5600.00")
    assert "70% × (10000.00 − 2000.00) = 5600.00" in line(r2, "assistance").explanation
    assert r2.reaches_back
    # C: 10,000 → 11,000: 70% × 1,000 = 700.00
    assert amount(r3, "assistance") == D("700.00")
    # The year as known now: A 70% × 2,000 = 1,400.00 as well; 7,700.00 = 70% × 11,000 in all
    y1, y2, y3 = year_of(make_policy(QUALIFYING), claims, held)
    assert [amount(r, "assistance") for r in (y1, y2, y3)] == [D("1400.00"), D("5600.00"), D("700.00")]


def test_qualifies_at_the_year_pays_each_claim_on_its_own_base():
    held = [Category.low_income_serious_illness]
    claims = [claim("9000.00", claim_id="A"), claim("2000.00", claim_id="B")]
    r1, r2 = run(make_policy(QUALIFYING), claims, held)
    # A: 9,000 < 10,000: 0.00; B: 9,000 → 11,000: 70% × 2,000 = 1,400.00 (not 70% × 11,000 on B)
    assert amount(r1, "assistance") == D("0.00")
    assert amount(r2, "assistance") == D("1400.00")
    # the year: A 70% × 9,000 = 6,300.00, B 1,400.00
    y1, y2 = year_of(make_policy(QUALIFYING), claims, held)
    assert (amount(y1, "assistance"), amount(y2, "assistance")) == (D("6300.00"), D("1400.00"))


def test_qualifies_at_a_year_that_never_reaches_the_line_pays_nothing():
    held = [Category.low_income_serious_illness]
    year = year_of(make_policy(QUALIFYING), [claim("4000.00", claim_id="A"), claim("5999.99", claim_id="B")], held)
    # 9,999.99 < 10,000: nothing, even as known at the end of the year
    assert [amount(r, "assistance") for r in year] == [D("0.00"), D("0.00")]


def test_qualifies_at_just_below_the_line():
    (r,) = run(make_policy(QUALIFYING), [claim("9999.99")], [Category.low_income_serious_illness])
    assert amount(r, "assistance") == D("0.00")


# ---------------------------------------------------------------------------------------------
# personal_share_ceiling: pays what holds the personal share to a share of the whole bill

CEILING = BASIC.replace('{from: 200, rate: "90%"}', '{from: 0, rate: "100%"}').replace(
    '{from: 500, rate: "80%"}', '{from: 0, rate: "50%"}'
) + payer_yaml(
    "poverty_relief",
    """
    name: ten_percent
    source: test
    scope: per_claim
    tiers:
      - {label: registered poor, categories: [poverty_registered], personal_share_ceiling: "10%"}
    """,
    fund='"640100"',
)


def test_personal_share_ceiling_pays_out_of_scope_parts_too():
    (r,) = run(make_policy(CEILING), [claim("7000.00", out="3000.00", hosp_lv="2")], [Category.poverty_registered])
    # basic: 50% × 7,000 = 3,500.00; share left 10,000 − 3,500 = 6,500; ceiling 10% × 10,000 = 1,000
    # poverty relief: 6,500 − 1,000 = 5,500.00 — more than the 3,500 in scope left
    assert paid(r) == {"basic": D("3500.00"), "poverty_relief": D("5500.00")}
    assert r.psn_part_amt == D("1000.00")
    relief = line(r, "poverty_relief")
    assert relief.base == D("6500.00")
    assert relief.fund_pay_type == "640100"


def test_personal_share_ceiling_already_met_pays_zero():
    (r,) = run(make_policy(CEILING), [claim("1000.00", hosp_lv="1")], [Category.poverty_registered])
    # basic: 100% × 1,000 = 1,000.00; share 0 ≤ ceiling 100: 0.00
    assert paid(r) == {"basic": D("1000.00"), "poverty_relief": D("0.00")}
    assert r.psn_part_amt == D("0.00")


def test_personal_share_ceiling_rounding():
    (r,) = run(make_policy(CEILING), [claim("1234.55", hosp_lv="2")], [Category.poverty_registered])
    # basic: 50% × 1,234.55 = 617.275 → 617.28; share 1,234.55 − 617.28 = 617.27
    # ceiling 10% × 1,234.55 = 123.455 (not rounded: the payment is); relief 617.27 − 123.455 = 493.815 → 493.82
    assert paid(r) == {"basic": D("617.28"), "poverty_relief": D("493.82")}
    # the patient pays 123.45, within 10% of the bill (123.455); rounding the ceiling left 123.46, above it
    assert r.psn_part_amt == D("123.45")
    assert "1234.55 × 10% = 123.455; 617.27 − 123.455 = 493.815" in line(r, "poverty_relief").explanation


# ---------------------------------------------------------------------------------------------
# defer_while: nothing at discharge while another account's yearly base is below a line

DEFERRED = payer_yaml(
    "critical",
    """
    name: critical
    source: test
    scope: annual
    tiers:
      - {label: everyone, segments: [{from: 100000, rate: "50%"}]}
    """,
) + payer_yaml(
    "assistance",
    """
    name: assistance
    source: test
    scope: annual
    defer_while:
      account: critical
      cumulative_base_below: 3000
      explanation: "paid at year end"
      explanation_zh: "年终结算"
    tiers:
      - {label: tekun, categories: [tekun], segments: [{from: 0, rate: "70%"}]}
    """,
)


def test_defer_while_below_then_pays_as_usual():
    r1, r2 = run(
        make_policy(DEFERRED), [claim("2000.00", claim_id="A"), claim("1500.00", claim_id="B")], [Category.tekun]
    )
    # A: critical pays 0 (deductible 100,000) but counts 2,000; 2,000 < 3,000: assistance 0.00 now
    assert paid(r1) == {"critical": D("0.00"), "assistance": D("0.00")}
    a = line(r1, "assistance")
    # it says how much waits (70% × 2,000 = 1,400.00) and where it will be paid
    assert (
        "paid at year end (critical yearly base 2000.00 < 3000.00): 1400.00 deferred, paid at the year-end close"
        in a.explanation
    )
    assert "年终结算" in a.explanation_zh and "1400.00 暂缓支付" in a.explanation_zh
    # ... and assistance's own yearly base still counts the claim
    assert r1.totals["assistance"] == AccountTotals(base=D("2000.00"), paid=D("0.00"))
    # B: critical's yearly base 3,500 ≥ 3,000: assistance F(3,500) − F(2,000) = 70% × 1,500 = 1,050.00
    assert amount(r2, "assistance") == D("1050.00")
    assert r2.totals["assistance"].base == D("3500.00")


CUMULATIVE = DEFERRED.replace("  defer_while:", "  deduct_paid_this_year: true\n      defer_while:")


def test_deduct_paid_this_year_pays_the_deferred_share_when_the_line_is_crossed():
    r1, r2, r3 = run(
        make_policy(CUMULATIVE),
        [claim("2000.00", claim_id="A"), claim("1500.00", claim_id="B"), claim("500.00", claim_id="C")],
        [Category.tekun],
    )
    # A: deferred (2,000 < 3,000): 0.00, 1,400.00 owed waits, and says it waits for a later claim or the close
    assert amount(r1, "assistance") == D("0.00")
    assert (
        "paid by a later claim of this year that lifts critical's yearly base to 3000.00, or at the year-end close"
        in line(r1, "assistance").explanation
    )
    # B: 3,500 ≥ 3,000: F(3,500) − paid this year 0 = 70% × 3,500 = 2,450.00, of which 1,400 is A's share
    #    — but never more than B's remaining 1,500.00
    assert amount(r2, "assistance") == D("1500.00")
    assert "70% × (3500.00 − 0.00) − 0.00 already paid this year = 2450.00" in line(r2, "assistance").explanation
    # C: F(4,000) − 1,500 = 2,800 − 1,500 = 1,300, within C's remaining 500.00
    assert amount(r3, "assistance") == D("500.00")


def test_deduct_paid_this_year_never_recovers_within_a_claim():
    policy = make_policy(
        payer_yaml(
            "assistance",
            """
        name: assistance
        source: test
        scope: annual
        deduct_paid_this_year: true
        tiers:
          - {label: tekun, categories: [tekun], segments: [{from: 0, rate: "100%"}]}
          - {label: dibao, categories: [dibao], segments: [{from: 1000, rate: "50%"}]}
        """,
        )
    )
    r1, r2 = run(
        policy, [claim("1000.00", claim_id="A"), claim("1000.00", claim_id="B")], [[Category.tekun], [Category.dibao]]
    )
    # A (tekun): 100% × 1,000 = 1,000.00;
    # B (dibao only): 50% × (2,000 − 1,000) − 1,000 paid = −500: nothing, not negative
    assert amount(r1, "assistance") == D("1000.00")
    assert amount(r2, "assistance") == D("0.00")
    assert "= -500.00; nothing more is owed" in line(r2, "assistance").explanation


def test_base_after_counts_the_oop_after_the_named_payers_on_its_own_yearly_base():
    policy = make_policy(
        BASIC
        + payer_yaml(
            "critical",
            """
        name: critical
        source: test
        scope: annual
        tiers:
          - {label: everyone, segments: [{from: 500, rate: "50%"}]}
        """,
            fund='"390200"',
        )
        + payer_yaml(
            "supplementary",
            """
        name: supplementary
        source: test
        scope: annual
        base_after: [basic]
        tiers:
          - {label: dibao, categories: [dibao], segments: [{from: 300, rate: "40%"}]}
        """,
            fund='"390300"',
        )
    )
    r1, r2 = run(
        policy,
        [claim("1000.00", claim_id="A", hosp_lv="1"), claim("2000.00", claim_id="B", hosp_lv="1")],
        [Category.dibao],
    )
    # A: basic 90% × (1,000 − 200) = 720; OOP after basic 280; critical 0 (below 500);
    #    supplementary base 1,000 − 720 = 280 (not the remaining after critical), yearly 0 → 280 < 300: 0.00
    assert paid(r1) == {"basic": D("720.00"), "critical": D("0.00"), "supplementary": D("0.00")}
    assert line(r1, "supplementary").base == D("280.00")
    # B: basic 90% × 1,800 = 1,620; OOP after basic 380; critical: yearly 280 → 660: 50% × 160 = 80.00;
    #    supplementary: base 380 (after basic only), yearly 280 → 660: 40% × (660 − 300) = 144.00,
    #    within the remaining 2,000 − 1,620 − 80 = 300
    assert paid(r2) == {"basic": D("1620.00"), "critical": D("80.00"), "supplementary": D("144.00")}
    assert r2.totals["supplementary"].base == D("660.00")


def test_base_after_never_pays_more_than_the_remaining():
    policy = make_policy(
        payer_yaml(
            "critical",
            """
        name: critical
        source: test
        scope: per_claim
        tiers:
          - {label: everyone, segments: [{from: 0, rate: "90%"}]}
        """,
            fund='"390200"',
        )
        + payer_yaml(
            "supplementary",
            """
        name: supplementary
        source: test
        scope: annual
        base_after: [basic]
        tiers:
          - {label: dibao, categories: [dibao], segments: [{from: 0, rate: "50%"}]}
        """,
            fund='"390300"',
        )
    )
    (r,) = run(policy, [claim("1000.00")], [Category.dibao])
    # critical 900; supplementary base 1,000 (no basic line): 50% × 1,000 = 500, but 100 remain: 100.00
    assert paid(r) == {"critical": D("900.00"), "supplementary": D("100.00")}


def test_defer_while_ends_exactly_at_the_line():
    r1, r2 = run(make_policy(DEFERRED), [claim("2999.99", claim_id="A"), claim("0.01", claim_id="B")], [Category.tekun])
    # A: 2,999.99 < 3,000 → 0.00; B: 3,000.00 is not below → 70% × 0.01 = 0.007 → 0.01
    assert amount(r1, "assistance") == D("0.00")
    assert amount(r2, "assistance") == D("0.01")


# ---------------------------------------------------------------------------------------------
# base_of: a tilt on another account's base

TILTED = CRITICAL.replace(
    'segments: [{from: 1000, rate: "50%"}, {from: 5000, rate: "60%"}, {from: 10000, rate: "70%"}]',
    'segments: [{from: 1000, rate: "50%"}]',
) + payer_yaml(
    "tilt",
    """
    name: tilt
    source: test
    scope: annual
    base_of: critical
    tiers:
      - {label: dibao, categories: ["dibao*"], segments: [{from: 1000, rate: "5%"}], uncapped: true}
    """,
    fund='"390200"',
)


def test_base_of_uses_the_other_accounts_base_and_yearly_total():
    r1, r2 = run(
        make_policy(TILTED), [claim("5000.00", claim_id="A"), claim("3000.00", claim_id="B")], [Category.dibao]
    )
    # A: critical 50% × (5,000 − 1,000) = 2,000.00; tilt 5% × (5,000 − 1,000) = 200.00, on critical's base
    assert paid(r1) == {"critical": D("2000.00"), "tilt": D("200.00")}
    # personal: 5,000 − 2,200 = 2,800.00
    assert r1.psn_part_amt == D("2800.00")
    # B: critical yearly 5,000 → 8,000: 1,500.00; tilt 5% × 3,000 = 150.00
    assert paid(r2) == {"critical": D("1500.00"), "tilt": D("150.00")}
    tilt = line(r2, "tilt")
    assert (tilt.base, tilt.cumulative_before) == (D("3000.00"), D("5000.00"))
    assert "as counted by critical" in tilt.explanation
    # the tilt keeps no base of its own, only what it paid
    assert r2.totals["tilt"].base == D("0.00")
    assert r2.totals["tilt"].paid == D("350.00")


def test_base_of_for_a_category_gained_mid_year():
    held = [[], [Category.dibao]]  # no category at the first stay, dibao at the second
    r1, r2 = run(make_policy(TILTED), [claim("5000.00", claim_id="A"), claim("3000.00", claim_id="B")], held)
    # A: critical 2,000.00; no tilt line at all (no tier open to the person)
    assert paid(r1) == {"critical": D("2000.00")}
    # B: critical 1,500.00; tilt on critical's yearly 5,000 → 8,000: 5% × (8,000 − 5,000) = 150.00
    assert paid(r2) == {"critical": D("1500.00"), "tilt": D("150.00")}


def test_base_of_below_the_deductible():
    (r,) = run(make_policy(TILTED), [claim("600.00")], [Category.dibao])
    # critical's base 600 < 1,000: both 0.00
    assert paid(r) == {"critical": D("0.00"), "tilt": D("0.00")}


# ---------------------------------------------------------------------------------------------
# routing: no category, no line; zero lines say why

ROUTED = BASIC + payer_yaml(
    "assistance",
    """
    name: assistance
    source: test
    when: {med_types: ["21"]}
    scope: annual
    tiers:
      - {label: tekun, categories: [tekun], segments: [{from: 0, rate: "100%"}]}
    """,
)


def test_payer_without_a_category_of_the_person_gives_no_line():
    policy = make_policy(ROUTED)
    for held in ([], [Category.dibao], [Category.orphan, Category.poverty_registered]):
        (r,) = run(policy, [claim("10000.00")], held)
        # basic 80% × 9,500 = 7,600.00; no assistance line
        assert paid(r) == {"basic": D("7600.00")}
        assert [p.payer for p in route(policy, set(held))] == [Payer.basic]


def test_payer_with_a_category_pays_on_the_remaining():
    (r,) = run(make_policy(ROUTED), [claim("10000.00")], [Category.tekun])
    # basic 7,600.00; assistance 100% of the remaining 10,000 − 7,600 = 2,400.00
    assert paid(r) == {"basic": D("7600.00"), "assistance": D("2400.00")}
    assert line(r, "assistance").base == D("2400.00")
    assert r.psn_part_amt == D("0.00")


def test_zero_line_explains_why():
    (r,) = run(make_policy(ROUTED), [claim("100.00", med_type="11")], [Category.tekun])
    # basic's rule is inpatient only, assistance's too: both say so
    b, a = line(r, "basic"), line(r, "assistance")
    assert (b.amount, a.amount) == (D("0.00"), D("0.00"))
    assert a.explanation == "assistance pays nothing: assistance: medical type 11 is not one of ['21']"
    assert a.rule == "testland/2024/v1#assistance.not_applicable"
    assert a.applied is None and a.base == D("0.00")
    assert "basic pays nothing: inpatient: medical type 11 is not one of ['21']" == b.explanation
    assert r.psn_part_amt == D("100.00")


def test_pay_directly_after_prior_lines():
    policy = make_policy(ROUTED)
    payer = policy.payers[1]
    prior = [
        PaymentLine(
            payer=Payer.basic, fund_pay_type="390100", amount=D("600.00"), base=D("1000.00"), rule="x", explanation="x"
        )
    ]
    result = pay(claim("1000.00"), {Category.tekun}, prior, {}, policy, payer)
    # 100% of the remaining 1,000 − 600 = 400.00
    assert result.line.amount == D("400.00")
    assert result.accounts == {"assistance": AccountTotals(base=D("400.00"), paid=D("400.00"))}
    # a person with no category of this payer: no line and no totals
    assert pay(claim("1000.00"), {Category.dibao}, prior, {}, policy, payer).line is None


def test_never_more_than_the_remaining():
    policy = make_policy(
        payer_yaml(
            "critical",
            """
            name: generous
            source: test
            scope: per_claim
            tiers: [{label: all, segments: [{from: 0, rate: "100%"}]}]
            """,
        )
    )
    prior = [
        PaymentLine(
            payer=Payer.basic, fund_pay_type="390100", amount=D("1200.00"), base=D("0"), rule="x", explanation="x"
        )
    ]
    result = pay(claim("1000.00"), set(), prior, {}, policy, policy.payers[0])
    # remaining max(0, 1,000 − 1,200) = 0: nothing
    assert result.line.amount == D("0.00")


# ---------------------------------------------------------------------------------------------
# Regressions: engine bugs these tests found, since fixed


def test_regression_qualifying_catch_up_pays_twice_for_base_already_paid():
    policy = make_policy(
        payer_yaml(
            "assistance",
            """
            name: inpatient
            source: test
            scope: annual
            tiers:
              - {label: registered poor, categories: [poverty_registered], segments: [{from: 0, rate: "70%"}]}
              - label: serious illness
                categories: [low_income_serious_illness]
                segments: [{from: 0, rate: "70%"}]
                qualifies_at: 10000
            """,
        )
    )
    held = [Category.poverty_registered, Category.low_income_serious_illness]
    r1, r2 = run(policy, [claim("2000.00", claim_id="A"), claim("8000.00", claim_id="B")], held)
    # A: registered poor 70% × 2,000 = 1,400.00 (serious illness: below its line, 0)
    assert amount(r1, "assistance") == D("1400.00")
    # B: the year's base is 10,000; the best any one schedule pays on it is 70% × 10,000 = 7,000,
    # of which 1,400 is already paid: 5,600.00 (registered poor: 70% × 8,000 = 5,600 too; serious
    # illness, the line reached: 70% × (10,000 − 2,000) = 5,600 too).
    # The engine once paid 7,000.00 (serious illness: F(10,000) − 0), so the year totalled 8,400.00.
    assert amount(r2, "assistance") == D("5600.00")
    assert r2.totals["assistance"].paid <= D("7000.00")


def test_regression_qualifying_catch_up_taizhou_real_policy():
    categories = [
        CategoryHeld(code=Category.poverty_registered, valid_from=date(2018, 1, 1)),
        CategoryHeld(code=Category.low_income_serious_illness, valid_from=date(2018, 1, 1)),
    ]
    stays = [
        claim("10200.00", claim_id="TZ-1", insured="321202", hosp_lv="1", day="2019-03-01"),
        claim("86200.00", claim_id="TZ-2", insured="321202", hosp_lv="1", day="2019-06-01"),
    ]
    r1, r2 = settle_in_order(stays, categories)
    # TZ-1: basic 90% × (10,200 − 200) = 9,000; left 1,200; critical (tilt, from 10,000): 0;
    #       assistance 70% × 1,200 = 840.00 (registered poor)
    assert paid(r1) == {"basic": D("9000.00"), "critical": D("0.00"), "assistance": D("840.00")}
    # TZ-2: basic 90% × 86,000 = 77,400; left 8,800; critical: yearly 1,200 → 10,000, not above 10,000: 0;
    #       assistance: yearly base 10,000 at 70% = 7,000 in all, 840 already paid → 6,160.00
    #       (the engine pays 7,000.00: 840.00 of TZ-1's base is paid a second time)
    assert amount(r2, "basic") == D("77400.00")
    assert amount(r2, "critical") == D("0.00")
    assert amount(r2, "assistance") == D("6160.00")


def test_regression_serious_illness_after_dibao_takes_back_what_dibao_paid():
    categories = [
        CategoryHeld(code=Category.dibao, valid_from=date(2018, 1, 1), valid_to=date(2019, 4, 30)),
        CategoryHeld(code=Category.low_income_serious_illness, valid_from=date(2019, 5, 1)),
    ]
    stays = [
        claim("3000.00", claim_id="TZ-1", insured="321202", hosp_lv="1", day="2019-03-01"),
        claim("100000.00", claim_id="TZ-2", insured="321202", hosp_lv="3", day="2019-06-01"),
    ]
    r1, r2 = settle_in_order(stays, categories)
    # TZ-1 (dibao): basic 90% × (3,000 − 200) = 2,520; left 480; critical tilt (from 10,000): 0;
    #   assistance 85% × 480 = 408.00
    assert paid(r1) == {"basic": D("2520.00"), "critical": D("0.00"), "assistance": D("408.00")}
    # TZ-2 (serious illness): basic 65% × (100,000 − 1,000) = 64,350; left 35,650;
    #   critical tilt: yearly 480 → 36,130: 60% × (36,130 − 10,000) = 15,678.00; left 19,972;
    #   assistance: the year reaches 10,000 (480 → 20,452): 70% × 19,972 = 13,980.40 on its own base; TZ-1,
    #   held under dibao only, keeps its 408.00 (the year settled again changes nothing for it).
    #   (The engine once paid 70% × 20,452 − 408 = 13,908.40: it took back 72.00 of what dibao paid at 85%.)
    assert paid(r2) == {"basic": D("64350.00"), "critical": D("15678.00"), "assistance": D("13980.40")}


def test_regression_applied_label_depends_on_the_order_of_held_categories():
    policy = make_policy(FAVOURABLE)
    c = claim("1000.00")
    one = settle(c, [Category.dibao_rural_1, Category.dibao_urban_full], {}, policy)
    other = settle(c, [Category.dibao_urban_full, Category.dibao_rural_1], {}, policy)
    # the same person and claim: the same line, whatever order the categories come in
    assert amount(one, "assistance") == amount(other, "assistance") == D("500.00")  # 50% × 1,000
    assert line(one, "assistance").applied == line(other, "assistance").applied
    assert one.lines == other.lines


# ---------------------------------------------------------------------------------------------
# policy-file validation: errors name file:line and the problem


def line_no(text: str, marker: str) -> int:
    """The 1-based line of ``text`` holding ``marker`` (exactly one)."""
    hits = [i for i, row in enumerate(text.splitlines(), start=1) if marker in row]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


def file_error(text: str, name: str = "testland.yaml", shared_dir: Path | None = None) -> str:
    with pytest.raises(PolicyFileError) as info:
        if shared_dir is None:
            parse_policy(text, name)
        else:
            parse_policy(text, name, shared_dir)
    return str(info.value)


def simple_payer(tier_lines: str) -> str:
    return payer_yaml(
        "critical",
        f"""
        name: critical
        source: test
        scope: annual
        tiers:
{textwrap.indent(textwrap.dedent(tier_lines).strip(chr(10)), " " * 10)}
        """,
    )


def test_the_helpers_make_a_valid_policy():
    policy = make_policy(simple_payer('- {label: all, segments: [{from: 0, rate: "50%"}]}'))
    assert policy.ref == "testland/2024/v1"
    assert policy.payers[0].rules[0].tiers[0].segments[0].rate == D("0.5")


def test_rate_above_100_percent():
    text = policy_text(
        simple_payer(
            """
            - label: all
              segments:
                - {from: 0, rate: "50%"}
                - {from: 5000, rate: "150%"}
            """
        )
    )
    error = file_error(text)
    assert error.startswith(f"testland.yaml:{line_no(text, '150%')}: ")
    assert "payers.0.rules.0.tiers.0.segments.1.rate" in error
    assert "'150%' is not a rate between 0% and 100%" in error


def test_rate_as_a_bare_number():
    text = policy_text(simple_payer("- {label: all, segments: [{from: 0, rate: 0.5}]}"))
    error = file_error(text)
    assert error.startswith(f"testland.yaml:{line_no(text, 'rate: 0.5')}: ")
    assert 'write rates as strings or percentages like "75%"' in error


def test_unknown_category():
    text = policy_text(
        simple_payer(
            """
            - label: all
              categories: [tekun, paupers]
              segments: [{from: 0, rate: "50%"}]
            """
        )
    )
    error = file_error(text)
    assert error.startswith(f"testland.yaml:{line_no(text, 'paupers')}: ")
    assert "unknown category 'paupers'" in error
    assert "dibao*" in error  # the known names are listed


@pytest.mark.parametrize("starts", ["[1000, 1000]", "[5000, 1000]", "[0, 5000, 3000]"])
def test_segment_starts_not_increasing(starts):
    values = starts.strip("[]").split(", ")
    segments = "\n".join(f'    - {{from: {v}, rate: "50%"}}' for v in values)
    text = policy_text(simple_payer(f"- label: bad schedule\n  segments:\n{segments}"))
    error = file_error(text)
    assert error.startswith(f"testland.yaml:{line_no(text, 'bad schedule')}: ")
    assert "tier 'bad schedule': segment starts must increase strictly" in error


def test_empty_segment_list():
    text = policy_text(simple_payer("- {label: nothing, segments: []}"))
    error = file_error(text)
    assert error.startswith(f"testland.yaml:{line_no(text, 'nothing')}: ")
    assert "empty segment list" in error


def test_tier_needs_one_kind_of_schedule():
    text = policy_text(
        simple_payer('- {label: both, segments: [{from: 0, rate: "5%"}], personal_share_ceiling: "10%"}')
    )
    error = file_error(text)
    assert error.startswith(f"testland.yaml:{line_no(text, 'both')}: ")
    assert "needs exactly one of `segments` or `personal_share_ceiling`" in error


def test_tier_uncapped_and_capped():
    text = policy_text(
        simple_payer('- {label: muddled, segments: [{from: 0, rate: "5%"}], uncapped: true, annual_cap: 100}')
    )
    assert "cannot be both uncapped and capped" in file_error(text)


def test_negative_amount_in_a_policy():
    text = policy_text(simple_payer('- {label: all, segments: [{from: -100, rate: "5%"}]}'))
    error = file_error(text)
    assert error.startswith(f"testland.yaml:{line_no(text, '-100')}: ")
    assert "is negative" in error


def test_unknown_field_is_rejected():
    text = policy_text(
        simple_payer(
            """
            - label: all
              segments: [{from: 0, rate: "50%"}]
              anual_cap: 100
            """
        )
    )
    error = file_error(text)
    assert error.startswith(f"testland.yaml:{line_no(text, 'anual_cap')}: ")
    assert "anual_cap: Extra inputs are not permitted" in error


def test_unknown_med_type_in_conditions():
    text = policy_text(
        payer_yaml(
            "critical",
            """
            name: critical
            source: test
            when: {med_types: ["21", "99"]}
            scope: annual
            tiers: [{label: all, segments: [{from: 0, rate: "50%"}]}]
            """,
        )
    )
    error = file_error(text)
    assert error.startswith(f"testland.yaml:{line_no(text, '99')}: ")
    assert "payers.0.rules.0.when.med_types.1" in error


def test_every_problem_is_listed_with_its_line():
    text = policy_text(
        simple_payer(
            """
            - label: one
              segments: [{from: 0, rate: "150%"}]
            - label: two
              categories: [nobody]
              segments: [{from: 0, rate: "50%"}]
            """
        )
    )
    problems = file_error(text).splitlines()
    assert problems[0].startswith(f"testland.yaml:{line_no(text, '150%')}: ")
    assert problems[1].startswith(f"testland.yaml:{line_no(text, 'nobody')}: ")


def test_base_of_an_unknown_account():
    text = policy_text(
        payer_yaml(
            "tilt",
            """
            name: tilt
            source: test
            scope: annual
            base_of: critcal
            tiers: [{label: all, segments: [{from: 0, rate: "5%"}]}]
            """,
        )
    )
    assert "rule tilt.tilt refers to unknown account 'critcal'" in file_error(text)


def test_base_of_needs_an_annual_rule():
    text = policy_text(
        CRITICAL
        + payer_yaml(
            "tilt",
            """
            name: tilt
            source: test
            scope: per_claim
            base_of: critical
            tiers: [{label: all, segments: [{from: 0, rate: "5%"}]}]
            """,
        )
    )
    error = file_error(text)
    assert error.startswith(f"testland.yaml:{line_no(text, 'payer: tilt') + 4}: ")  # the rule's first line
    assert "rule 'tilt': base_of needs scope annual" in error


def test_payer_twice_in_the_chain():
    text = policy_text(CRITICAL + CRITICAL)
    assert "a payer appears twice in the chain: ['critical', 'critical']" in file_error(text)


def test_use_of_a_missing_shared_file(tmp_path):
    text = policy_text("- use: no_such_payer.yaml\n" + CRITICAL)
    error = file_error(text, shared_dir=tmp_path)
    assert error.startswith(f"testland.yaml:{line_no(text, 'no_such_payer.yaml')}: ")
    assert "use: no_such_payer.yaml: no such shared payer file" in error


def test_use_of_a_shared_file(tmp_path):
    (tmp_path / "basic.yaml").write_text(textwrap.dedent(BASIC)[2:].replace("\n  ", "\n"), encoding="utf-8")
    policy = parse_policy(policy_text("- use: basic.yaml\n" + CRITICAL), "testland.yaml", tmp_path)
    assert [p.payer for p in policy.payers] == [Payer.basic, Payer.critical]
    (r,) = run(policy, [claim("10000.00")])
    # basic 80% × 9,500 = 7,600; critical on the remaining 2,400: 50% × (2,400 − 1,000) = 700.00
    assert paid(r) == {"basic": D("7600.00"), "critical": D("700.00")}


def test_error_inside_a_shared_file_points_into_that_file(tmp_path):
    shared = (
        'payer: basic\nname_zh: 基本\nfund_pay_type: "390100"\n'
        "rules:\n  - name: r\n    source: s\n    scope: per_claim\n"
        '    tiers: [{label: all, segments: [{from: 0, rate: "120%"}]}]\n'
    )
    (tmp_path / "broken.yaml").write_text(shared, encoding="utf-8")
    error = file_error(policy_text("- use: broken.yaml\n"), shared_dir=tmp_path)
    assert error.startswith(f"{tmp_path / 'broken.yaml'}:8: ")
    assert "'120%' is not a rate between 0% and 100%" in error


def test_not_yaml():
    error = file_error("region: [unclosed\n")
    assert error.startswith("testland.yaml: not valid YAML")
    assert "    region: [unclosed\n            ^" in error  # the line quoted, a caret under the place


def test_libyaml_reads_the_shipped_files_as_the_pure_python_parser_does():
    # (policies/loader.py reads with libyaml's parser when PyYAML has it, for speed)
    for path in sorted(REGIONS_DIR.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        read = [
            (_line_map(yaml.compose(text, Loader=loader)), yaml.load(text, Loader=loader))  # noqa: S506 - safe ones
            for loader in (YAML_LOADER, yaml.SafeLoader)
        ]
        assert read[0] == read[1], path


def test_not_a_mapping():
    assert file_error("- just\n- a list\n").startswith("testland.yaml:1: expected a mapping")


def test_missing_top_level_field():
    error = file_error(policy_text(CRITICAL).replace("document: test document\n", ""))
    assert "testland.yaml:1: document: Field required" in error
    error = file_error(policy_text(CRITICAL).replace('pooled_city: "5116"\n', ""))
    assert "testland.yaml:1: (top): Value error, give division_codes (the insured places this file is for" in error


def test_bad_pooled_city():
    text = policy_text(CRITICAL).replace('pooled_city: "5116"', 'pooled_city: "51160"')
    error = file_error(text)
    assert error.startswith(f"testland.yaml:{line_no(text, 'pooled_city')}: ")
    assert "pooled_city" in error and "pattern" in error


# ---------------------------------------------------------------------------------------------
# periods: overlapping ones rejected; policy_for


def head(period: str, start: str, end: str | None = None, region: str = "testland", city: str = "5116") -> str:
    text = HEAD.replace('period: "2024"', f'period: "{period}"').replace(
        "in_force_from: 2024-01-01", f"in_force_from: {start}"
    )
    text = text.replace("region: testland", f"region: {region}").replace(
        'pooled_city: "5116"', f'pooled_city: "{city}"'
    )
    return text + (f"in_force_to: {end}\n" if end else "")


def write(directory: Path, name: str, text: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")


def test_overlapping_periods_of_one_region_are_rejected(tmp_path):
    write(tmp_path, "a.yaml", policy_text(CRITICAL, head("2018", "2018-01-01", "2020-12-31")))
    write(tmp_path, "b.yaml", policy_text(CRITICAL, head("2020", "2020-07-01")))
    with pytest.raises(PolicyFileError) as info:
        load_policies(tmp_path)
    assert "policies testland/2018/v1 and testland/2020/v1 of pooled city 5116 overlap" in str(info.value)


def test_open_ended_period_followed_by_another_is_an_overlap(tmp_path):
    write(tmp_path, "a.yaml", policy_text(CRITICAL, head("2018", "2018-01-01")))
    write(tmp_path, "b.yaml", policy_text(CRITICAL, head("2021", "2021-01-01")))
    with pytest.raises(PolicyFileError, match="overlap"):
        load_policies(tmp_path)


def test_periods_touching_on_one_day_overlap(tmp_path):
    write(tmp_path, "a.yaml", policy_text(CRITICAL, head("2018", "2018-01-01", "2021-01-01")))
    write(tmp_path, "b.yaml", policy_text(CRITICAL, head("2021", "2021-01-01")))
    with pytest.raises(PolicyFileError, match="overlap"):
        load_policies(tmp_path)


def test_consecutive_periods_and_policy_for(tmp_path):
    write(tmp_path, "a.yaml", policy_text(CRITICAL, head("2018", "2018-01-01", "2020-12-31")))
    write(tmp_path, "b.yaml", policy_text(CRITICAL, head("2021", "2021-01-01")))
    write(tmp_path, "c.yaml", policy_text(CRITICAL, head("2019", "2019-01-01", region="otherland", city="3212")))
    policies = load_policies(tmp_path)
    assert len(policies) == 3
    assert policy_for("511602", date(2020, 12, 31), policies).period == "2018"
    assert policy_for("511699", date(2021, 1, 1), policies).period == "2021"
    assert policy_for("321202", date(2030, 5, 5), policies).region == "otherland"
    with pytest.raises(NoPolicy, match="no policy of pooled city 5116 in force on 2017-12-31"):
        policy_for("511602", date(2017, 12, 31), policies)
    with pytest.raises(NoPolicy, match="no policy of pooled city 3212 in force on 2018-12-31"):
        policy_for("321202", date(2018, 12, 31), policies)


def test_a_bad_file_in_the_directory_names_itself(tmp_path):
    write(tmp_path, "good.yaml", policy_text(CRITICAL, head("2018", "2018-01-01")))
    text = policy_text(
        simple_payer('- {label: all, segments: [{from: 0, rate: "150%"}]}'), head("x", "2030-01-01", city="9999")
    )
    write(tmp_path, "bad.yaml", text)
    with pytest.raises(PolicyFileError) as info:
        load_policies(tmp_path)
    assert str(info.value).startswith(f"{tmp_path / 'bad.yaml'}:{line_no(text, '150%')}: ")


@pytest.mark.parametrize(
    "insured, day, region",
    [
        ("410102", date(2018, 1, 1), "zhengzhou"),
        ("511602", date(2018, 1, 1), "guangan"),
        ("620702", date(2022, 7, 1), "zhangye"),
        ("321202", date(2017, 7, 1), "taizhou"),
        ("370811", date(2021, 1, 1), "jining"),
    ],
)
def test_policy_for_the_real_regions_on_their_first_day(insured, day, region):
    assert policy_for(insured, day).region == region


@pytest.mark.parametrize(
    "insured, day",
    [
        ("410102", date(2017, 12, 31)),
        ("511602", date(2017, 12, 31)),
        ("620702", date(2022, 6, 30)),
        ("321202", date(2017, 6, 30)),
        ("370811", date(2020, 12, 31)),
    ],
)
def test_policy_for_a_date_before_in_force_from(insured, day):
    with pytest.raises(NoPolicy) as info:
        policy_for(insured, day)
    assert f"no policy of pooled city {insured[:4]} in force on {day}" in str(info.value)


def test_policy_for_an_unknown_pooled_city():
    with pytest.raises(NoPolicy) as info:
        policy_for("110101", date(2024, 1, 1))
    message = str(info.value)
    assert "no policy for insured place 110101 (pooled city 1101)" in message
    assert "'4101'" in message and "'5116'" in message  # the known ones are listed
