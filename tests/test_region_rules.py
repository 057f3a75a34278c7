"""What a real region's notice needs a policy file to say (issue 30, items 1–8), each on a small
inline policy with a worked case computed by hand in the comments beside it — none is copied
from the engine's output.

1. contribution tiers (一档 / 二档) on the claim   5. a base that includes 乙类先行自付
2. pools of any division-code prefix, counties     6. one annual cap shared by accounts with thresholds of their own
3. age at admission                                 7. a year-end top-up to a ceiling of the personal share
4. categories a region declares itself              8. a newer notice superseding an older one from a date
"""
from __future__ import annotations

from decimal import Decimal

from schemas.events import DischargeClaim

from .test_policy_rules import amount, line, make_policy, paid, payer_yaml, run

D = Decimal


def claim(inscp: str = "1000.00", *, out: str = "0.00", preselfpay: str = "0.00", claim_id: str = "C1", med_type: str = "21",
          hosp_lv: str = "2", insured: str = "511602", treated: str | None = None, referral: bool = False,
          age: int | None = None, tier: int | None = None, day: str = "2024-03-10") -> DischargeClaim:
    """A resident's claim: in-scope ``inscp``, class-B own share ``preselfpay``, out of the catalogue ``out``."""
    return DischargeClaim(
        claim_id=claim_id, psn_no="P1", insutype="390", insuplc_admdvs=insured, mdtrtarea_admvs=treated or insured,
        med_type=med_type, hosp_lv=hosp_lv, referral=referral, age=age, contribution_tier=tier, begndate=day,
        enddate=day, dise_codg="K35.8", medfee_sumamt=D(inscp) + D(out) + D(preselfpay), fulamt_ownpay_amt=out,
        overlmt_selfpay="0", preselfpay_amt=preselfpay, inscp_scp_amt=inscp)


# ---------------------------------------------------------------------------------------------
# 1. contribution tiers: residents insured in 一档 or 二档 get different basic-insurance rates

TIERED_BASIC = payer_yaml(
    "basic",
    """
    name: inpatient
    source: test
    when: {med_types: ["21"]}
    scope: per_claim
    tiers:
      - {label: 一档 level 2, when: {contribution_tier: [1], hosp_lv: ["2"]}, segments: [{from: 300, rate: "70%"}]}
      - {label: 二档 level 2, when: {contribution_tier: [2], hosp_lv: ["2"]}, segments: [{from: 300, rate: "75%"}]}
    """,
    fund='"390100"',
)


def test_the_contribution_tier_on_the_claim_chooses_the_basic_rate():
    policy = make_policy(TIERED_BASIC)
    first, second = run(policy, [claim("10300.00", tier=1, claim_id="A"), claim("10300.00", tier=2, claim_id="B")])
    # 一档: 70% × (10,300 − 300) = 7,000.00; 二档: 75% × (10,300 − 300) = 7,500.00
    assert paid(first) == {"basic": D("7000.00")}
    assert paid(second) == {"basic": D("7500.00")}
    assert line(second, "basic").applied == "二档 level 2"


def test_a_claim_without_its_contribution_tier_is_told_why_a_tiered_rule_pays_nothing():
    (r,) = run(make_policy(TIERED_BASIC), [claim("10300.00")])
    assert paid(r) == {"basic": D("0.00")}
    basic = line(r, "basic")
    assert "the claim does not say the contribution tier the person is insured in (contribution_tier)" in basic.explanation
    assert "本次就医未注明参保缴费档次" in basic.explanation_zh


def test_a_claim_of_another_tier_is_told_which():
    (r,) = run(make_policy(TIERED_BASIC), [claim("10300.00", tier=3)])
    assert paid(r) == {"basic": D("0.00")}
    assert "一档 level 2: contribution tier 3 is not one of [1]; 二档 level 2: contribution tier 3 is not one of [2]" in (
        line(r, "basic").explanation)


# ---------------------------------------------------------------------------------------------
# 3. age at admission: "minors +5 points"

MINORS = payer_yaml(
    "assistance",
    """
    name: assistance
    source: test
    when: {med_types: ["21"]}
    scope: annual
    tiers:
      - {label: everyone, segments: [{from: 0, rate: "70%"}]}
      - {label: minors, label_zh: 未成年人, when: {age_below: 18}, segments: [{from: 0, rate: "75%"}]}
    """,
)


def test_minors_get_five_points_more_by_their_age_at_admission():
    policy = make_policy(MINORS)
    ages = {"adult": 30, "seventeen": 17, "eighteen": 18, "unknown": None}
    results = {name: run(policy, [claim("1000.00", age=age)])[0] for name, age in ages.items()}
    # 17 at admission: 75% × 1,000 = 750.00 (the best of 700 and 750); 18, 30 or no age given: 70% × 1,000 = 700.00
    assert {name: amount(r, "assistance") for name, r in results.items()} == {
        "adult": D("700.00"), "seventeen": D("750.00"), "eighteen": D("700.00"), "unknown": D("700.00")}
    assert line(results["seventeen"], "assistance").applied == "minors"


def test_an_age_condition_says_why_it_does_not_hold():
    policy = make_policy(payer_yaml("assistance", """
        name: elderly
        source: test
        when: {age_from: 60}
        scope: per_claim
        tiers: [{label: elderly, segments: [{from: 0, rate: "10%"}]}]
        """))
    young, unknown, old = run(policy, [claim(age=59, claim_id="A"), claim(claim_id="B"), claim(age=60, claim_id="C")])
    assert "aged 59 at admission, under 60" in line(young, "assistance").explanation
    assert "入院年龄59岁，未满60岁" in line(young, "assistance").explanation_zh
    assert "the claim does not give the patient's age at admission (age)" in line(unknown, "assistance").explanation
    assert amount(old, "assistance") == D("100.00")  # 10% × 1,000
