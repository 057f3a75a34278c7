"""What a real region's notice needs a policy file to say (issue 30, items 1–8), each on a small
inline policy with a worked case computed by hand in the comments beside it — none is copied
from the engine's output.

1. contribution tiers (一档 / 二档) on the claim   5. a base that includes 乙类先行自付
2. pools of any division-code prefix, counties     6. one annual cap shared by accounts with thresholds of their own
3. age at admission                                 7. a year-end top-up to a ceiling of the personal share
4. categories a region declares itself              8. a newer notice superseding an older one from a date
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from cli.policy import policy as policy_command
from policies.conditions import area_of
from policies.loader import PolicyFileError, load_policies, parse_policy, periods_in_force, policy_for
from policies.year import ClaimOfYear, settle_year
from schemas.codes import Authority, Category, category_name_zh, issuing_authority, regional_category
from schemas.events import DischargeClaim, EligibilityChange
from schemas.keys import SigningKey
from schemas.policy import Policy
from streams.signing import Untrusted, entitled

from .test_policy_rules import HEAD, amount, line, make_policy, paid, payer_yaml, policy_text, run

D = Decimal


def claim(
    inscp: str = "1000.00",
    *,
    out: str = "0.00",
    preselfpay: str = "0.00",
    claim_id: str = "C1",
    med_type: str = "21",
    hosp_lv: str = "2",
    insured: str = "511602",
    treated: str | None = None,
    referral: bool = False,
    age: int | None = None,
    tier: int | None = None,
    day: str = "2024-03-10",
) -> DischargeClaim:
    """A resident's claim: in-scope ``inscp``, class-B own share ``preselfpay``, out of the catalogue ``out``."""
    return DischargeClaim(
        claim_id=claim_id,
        psn_no="P1",
        insutype="390",
        insuplc_admdvs=insured,
        mdtrtarea_admvs=treated or insured,
        med_type=med_type,
        hosp_lv=hosp_lv,
        referral=referral,
        age=age,
        contribution_tier=tier,
        begndate=day,
        enddate=day,
        dise_codg="K35.8",
        medfee_sumamt=D(inscp) + D(out) + D(preselfpay),
        fulamt_ownpay_amt=out,
        overlmt_selfpay="0",
        preselfpay_amt=preselfpay,
        inscp_scp_amt=inscp,
    )


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
    assert (
        "the claim does not say the contribution tier the person is insured in (contribution_tier)" in basic.explanation
    )
    assert "本次就医未注明参保缴费档次" in basic.explanation_zh


def test_a_claim_of_another_tier_is_told_which():
    (r,) = run(make_policy(TIERED_BASIC), [claim("10300.00", tier=3)])
    assert paid(r) == {"basic": D("0.00")}
    assert (
        "一档 level 2: contribution tier 3 is not one of [1]; 二档 level 2: contribution tier 3 is not one of [2]"
        in (line(r, "basic").explanation)
    )


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
        "adult": D("700.00"),
        "seventeen": D("750.00"),
        "eighteen": D("700.00"),
        "unknown": D("700.00"),
    }
    assert line(results["seventeen"], "assistance").applied == "minors"


def test_an_age_condition_says_why_it_does_not_hold():
    policy = make_policy(
        payer_yaml(
            "assistance",
            """
        name: elderly
        source: test
        when: {age_from: 60}
        scope: per_claim
        tiers: [{label: elderly, segments: [{from: 0, rate: "10%"}]}]
        """,
        )
    )
    young, unknown, old = run(policy, [claim(age=59, claim_id="A"), claim(claim_id="B"), claim(age=60, claim_id="C")])
    assert "aged 59 at admission, under 60" in line(young, "assistance").explanation
    assert "入院年龄59岁，未满60岁" in line(young, "assistance").explanation_zh
    assert "the claim does not give the patient's age at admission (age)" in line(unknown, "assistance").explanation
    assert amount(old, "assistance") == D("100.00")  # 10% × 1,000


# ---------------------------------------------------------------------------------------------
# 2. pools and counties: a file lists the division-code prefixes it is for, of any length; the
# longest prefix of the insured place among the files in force chooses; pooled_city is the pool


def region_file(
    region: str,
    codes: str,
    payers: str,
    *,
    pool: str = "",
    period: str = "2024",
    version: int = 1,
    start: str = "2024-01-01",
    end: str = "",
    supersedes: str = "",
) -> str:
    head = (
        f"region: {region}\nname: {region}\nname_zh: 测试\ndocument: test\nseed: none\ndivision_codes: {codes}\n"
        f'period: "{period}"\nversion: {version}\nin_force_from: {start}\n'
    )
    head += (f"pool: {pool}\n" if pool else "") + (f"in_force_to: {end}\n" if end else "")
    head += f"supersedes: {supersedes}\n" if supersedes else ""
    return policy_text(payers, head)


def assistance_at(rate: str, *, when: str = "{area: pooled_city}", threshold: str = "0") -> str:
    return payer_yaml(
        "assistance",
        f"""
        name: assistance
        source: test
        when: {when}
        scope: per_claim
        tiers: [{{label: all, segments: [{{from: {threshold}, rate: "{rate}"}}]}}]
        """,
    )


def write_regions(directory: Path, files: dict[str, str], *, load: bool = True) -> tuple[Policy, ...]:
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return load_policies(directory) if load else ()


def test_a_municipality_is_one_pool_of_two_prefixes_and_a_county_in_it_has_rules_of_its_own(tmp_path):
    policies = write_regions(
        tmp_path,
        {
            "city.yaml": region_file("city", '["5001", "5002"]', assistance_at("70%")),
            # a county-level city inside the pool: its own assistance rules, from July; the city's pool
            "county.yaml": region_file(
                "county", '["500229"]', assistance_at("80%"), pool='["5001", "5002"]', start="2024-07-01"
            ),
        },
    )
    chosen = {place: policy_for(place, date(2024, 8, 1), policies).region for place in ("500112", "500230", "500229")}
    assert chosen == {"500112": "city", "500230": "city", "500229": "county"}  # the longest prefix: 500229 over 5002
    assert policy_for("500229", date(2024, 3, 10), policies).region == "city"  # before the county's file is in force
    city, county = (next(p for p in policies if p.region == r) for r in ("city", "county"))
    # insured in a district (5001), treated in a county of the other half of the pool (5002): within the pool
    (r,) = run(city, [claim("1000.00", insured="500112", treated="500230")])
    assert paid(r) == {"assistance": D("700.00")}  # 70% × 1,000
    assert area_of(claim(insured="500112", treated="500230"), city.pooled_area) == "pooled_city"
    assert (
        area_of(claim(insured="500112", treated="500230")) == "province"
    )  # (by the first 4 digits alone it would not be)
    # treated outside the pool, in Sichuan's 5101: not within the pooled city, nothing paid, and why
    (r,) = run(city, [claim("1000.00", insured="500112", treated="510104")])
    assert paid(r) == {"assistance": D("0.00")}
    assert "treated anywhere (510104), not within pooled_city of 500112" in line(r, "assistance").explanation
    # the county's own rule, on its own file's pool: treated in a district of 5001
    (r,) = run(county, [claim("1000.00", insured="500229", treated="500112", day="2024-08-01")])
    assert paid(r) == {"assistance": D("800.00")}  # 80% × 1,000


def test_two_files_listing_one_prefix_may_not_overlap(tmp_path):
    write_regions(
        tmp_path,
        {
            "a.yaml": region_file("city", '["5001", "5002"]', assistance_at("70%")),
            "b.yaml": region_file("other", '["5002"]', assistance_at("60%"), start="2024-06-01"),
        },
        load=False,
    )
    with pytest.raises(PolicyFileError) as info:
        load_policies(tmp_path)
    assert "policies city/2024/v1 and other/2024/v1 of pooled city 5002 overlap" in str(info.value)


# ---------------------------------------------------------------------------------------------
# 8. a newer notice supersedes an older one from a date

SECONDARY_2024 = assistance_at("75%", when='{med_types: ["21"]}', threshold="3000")
SECONDARY_2024_REVISED = assistance_at("70%", when='{med_types: ["21"]}', threshold="3500")


def test_a_newer_notice_supersedes_the_older_from_its_first_day(tmp_path):
    policies = write_regions(
        tmp_path,
        {
            "a.yaml": region_file("testland", '["5116"]', SECONDARY_2024, end="2024-12-31"),
            "b.yaml": region_file(
                "testland",
                '["5116"]',
                SECONDARY_2024_REVISED,
                version=2,
                start="2024-07-01",
                end="2024-12-31",
                supersedes="testland/2024/v1",
            ),
        },
    )
    older = policy_for("511602", date(2024, 6, 30), policies)
    newer = policy_for("511602", date(2024, 7, 1), policies)
    assert (older.ref, newer.ref) == ("testland/2024/v1", "testland/2024/v2")
    (before,) = run(older, [claim("10000.00", day="2024-06-30")])
    (after,) = run(newer, [claim("10000.00", day="2024-07-01")])
    # the first answer: 75% × (10,000 − 3,000) = 5,250.00; the later one: 70% × (10,000 − 3,500) = 4,550.00
    assert (amount(before, "assistance"), amount(after, "assistance")) == (D("5250.00"), D("4550.00"))
    periods = periods_in_force(policies)
    assert [(p.policy.ref, p.start, p.end) for p in sorted(periods.values(), key=lambda p: p.start)] == [
        ("testland/2024/v1", date(2024, 1, 1), date(2024, 6, 30)),
        ("testland/2024/v2", date(2024, 7, 1), date(2024, 12, 31)),
    ]


def test_without_supersedes_the_two_notices_overlap_and_the_error_says_how_to_supersede(tmp_path):
    write_regions(
        tmp_path,
        {
            "a.yaml": region_file("testland", '["5116"]', SECONDARY_2024, end="2024-12-31"),
            "b.yaml": region_file("testland", '["5116"]', SECONDARY_2024_REVISED, version=2, start="2024-07-01"),
        },
        load=False,
    )
    with pytest.raises(PolicyFileError) as info:
        load_policies(tmp_path)
    assert (
        "policies testland/2024/v1 and testland/2024/v2 of pooled city 5116 overlap (a newer notice replaces an "
        "older one with `supersedes: testland/2024/v1`)"
    ) in str(info.value)


@pytest.mark.parametrize(
    "supersedes, start, said",
    [
        ("testland/2023/v1", "2024-07-01", "testland/2024/v2 supersedes testland/2023/v1, which no policy file is"),
        ("otherland/2024/v1", "2024-07-01", "supersedes otherland/2024/v1: a policy supersedes one of its own region"),
        (
            "testland/2024/v1",
            "2024-01-01",
            "policy testland/2024/v2 supersedes testland/2024/v1 from 2024-01-01: it "
            "must begin after the policy it supersedes does (2024-01-01)",
        ),
    ],
)
def test_a_supersession_of_no_policy_of_its_region_or_not_after_it_is_an_error(tmp_path, supersedes, start, said):
    (tmp_path / "a.yaml").write_text(region_file("testland", '["5116"]', SECONDARY_2024), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        region_file("testland", '["5116"]', SECONDARY_2024_REVISED, version=2, start=start, supersedes=supersedes),
        encoding="utf-8",
    )
    with pytest.raises(PolicyFileError) as info:
        load_policies(tmp_path)
    assert said in str(info.value)


def test_policy_show_says_which_policy_is_in_force_when(tmp_path, monkeypatch):
    write_regions(
        tmp_path,
        {
            "a.yaml": region_file("testland", '["5116"]', SECONDARY_2024, end="2024-12-31"),
            "b.yaml": region_file(
                "testland",
                '["5116"]',
                SECONDARY_2024_REVISED,
                version=2,
                start="2024-07-01",
                end="2024-12-31",
                supersedes="testland/2024/v1",
            ),
        },
    )
    monkeypatch.setenv("ONESTOP_REGIONS", str(tmp_path))
    shown = CliRunner().invoke(policy_command, ["show", "testland"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(
        "in force, by date:\n"
        "  2024-01-01 – 2024-06-30  testland/2024/v1  (5116)\n"
        "  2024-07-01 – 2024-12-31  testland/2024/v2  (5116)\n"
    )
    assert (
        "policy testland/2024/v1, in force 2024-01-01 – 2024-06-30 (superseded from 2024-07-01 by testland/2024/v2; "
        "its own period 2024-01-01 – 2024-12-31)"
    ) in shown.output
    assert (
        "policy testland/2024/v2, in force 2024-07-01 – 2024-12-31; supersedes testland/2024/v1 from 2024-07-01"
        in shown.output
    )


# ---------------------------------------------------------------------------------------------
# 5. a base that includes the class-B own share (乙类先行自付) as well as the in-scope amount

BASIC_80 = payer_yaml(
    "basic",
    """
    name: inpatient
    source: test
    scope: per_claim
    tiers: [{label: level 2, segments: [{from: 500, rate: "80%"}]}]
    """,
    fund='"390100"',
)


def assistance_with_class_b(rate: str, parts: str = "[inscp_scp_amt, preselfpay_amt]") -> str:
    return payer_yaml(
        "assistance",
        f"""
        name: assistance
        source: test
        scope: per_claim
        base_parts: {parts}
        tiers: [{{label: all, segments: [{{from: 0, rate: "{rate}"}}]}}]
        """,
    )


def test_an_assistance_base_that_includes_the_class_b_own_share():
    (r,) = run(
        make_policy(BASIC_80 + assistance_with_class_b("70%")), [claim("10000.00", preselfpay="1000.00", out="500.00")]
    )
    # basic: 80% × (10,000 − 500) = 7,600.00
    # assistance: base = in-scope 10,000 + class-B own share 1,000 − 7,600 = 3,400; 70% × 3,400 = 2,380.00
    # (on the in-scope amount alone it would be 70% × 2,400 = 1,680.00)
    assert paid(r) == {"basic": D("7600.00"), "assistance": D("2380.00")}
    assert r.psn_part_amt == D("1520.00")  # 11,500 − 7,600 − 2,380
    assistance = line(r, "assistance")
    assert assistance.base == D("3400.00")
    assert (
        "base 3400.00 (in-scope 10000.00 + class-B own share 1000.00 − paid before 7600.00)" in assistance.explanation
    )
    assert "基数 3400.00（政策范围内 10000.00 + 乙类先行自付 1000.00 − 前序已付 7600.00）" in assistance.explanation_zh


def test_a_base_with_the_class_b_share_pays_at_most_what_is_left_of_both():
    (r,) = run(
        make_policy(BASIC_80 + assistance_with_class_b("100%")), [claim("10000.00", preselfpay="1000.00", out="500.00")]
    )
    # 100% × 3,400 = 3,400.00: more than the 2,400 of in-scope amount left, within the 3,400 of both left;
    # the person pays the out-of-catalogue 500 alone
    assert paid(r) == {"basic": D("7600.00"), "assistance": D("3400.00")}
    assert r.psn_part_amt == D("500.00")


@pytest.mark.parametrize(
    "parts, said",
    [
        (
            "[preselfpay_amt]",
            "base_parts lists inscp_scp_amt, and preselfpay_amt where the notice adds the class-B own share",
        ),
        ("[inscp_scp_amt, overlmt_selfpay]", "Input should be 'inscp_scp_amt' or 'preselfpay_amt'"),
    ],
)
def test_base_parts_name_what_they_may_be(parts, said):
    with pytest.raises(PolicyFileError) as info:
        make_policy(assistance_with_class_b("70%", parts))
    assert said in str(info.value)


# ---------------------------------------------------------------------------------------------
# 6. outpatient and inpatient assistance share one annual cap; each has its own threshold

SHARED_CAP = (
    payer_yaml(
        "assistance",
        """
    name: outpatient
    source: test
    when: {med_types: ["11", "14"]}
    scope: annual
    account: assistance.outpatient
    limits: {annual_cap: 3000, shared_cap: assistance_cap}
    tiers: [{label: all, segments: [{from: 1000, rate: "80%"}]}]
    """,
    )
    + """    - name: inpatient
      source: test
      when: {med_types: ["21"]}
      scope: annual
      account: assistance.inpatient
      limits: {annual_cap: 3000, shared_cap: assistance_cap}
      tiers: [{label: all, segments: [{from: 0, rate: "70%"}]}]
"""
)


def test_outpatient_and_inpatient_share_one_cap_with_thresholds_of_their_own():
    policy = make_policy(SHARED_CAP)
    stays = [
        claim("2000.00", claim_id="I1", day="2024-02-01"),
        claim("1500.00", claim_id="O1", med_type="11", day="2024-03-01"),
        claim("2000.00", claim_id="I2", day="2024-04-01"),
        claim("1000.00", claim_id="O2", med_type="11", day="2024-05-01"),
    ]
    results = run(policy, stays)
    # I1: 70% × 2,000 = 1,400.00
    # O1: the outpatient threshold counts outpatient costs only (0 before): 80% × (1,500 − 1,000) = 400.00
    #     (counted with the inpatient 2,000 it would have been 80% × 1,500 = 1,200.00)
    # I2: 70% × 2,000 = 1,400.00, but the shared cap has 3,000 − 1,400 − 400 = 1,200.00 left
    # O2: 80% × 1,000 = 800.00, and nothing is left of the cap: 0.00
    assert [amount(r, "assistance") for r in results] == [D("1400.00"), D("400.00"), D("1200.00"), D("0.00")]
    assert (
        "annual cap 3000.00 shared with assistance.outpatient: 1200.00 left, so 1200.00"
        in line(results[2], "assistance").explanation
    )
    assert "共用年度限额 3000.00：余 1200.00，按 1200.00" in line(results[2], "assistance").explanation_zh
    totals = results[-1].totals
    assert (totals["assistance.inpatient"].base, totals["assistance.outpatient"].base) == (D("4000.00"), D("2500.00"))


def test_the_rules_sharing_a_cap_must_give_the_same_cap():
    with pytest.raises(PolicyFileError) as info:
        make_policy(
            SHARED_CAP.replace("limits: {annual_cap: 3000, shared_cap", "limits: {annual_cap: 5000, shared_cap", 1)
        )
    assert "the rules sharing the cap 'assistance_cap' give different annual caps: ['3000.00', '5000.00']" in str(
        info.value
    )


# ---------------------------------------------------------------------------------------------
# 4. a category the region declares: 门特 (chronic special-disease status, kept by the
# medical-insurance bureau) — 85% instead of 70% for chronic outpatient care

DECLARES_MENTE = """\
categories:
  - {code: mente, name: chronic special-disease status, name_zh: 门特, authority: medical_insurance, source: test}
"""
MENTE_BASIC = payer_yaml(
    "basic",
    """
    name: chronic_outpatient
    source: test
    when: {med_types: ["14"]}
    scope: per_claim
    tiers:
      - {label: residents, segments: [{from: 0, rate: "70%"}]}
      - {label: 门特, categories: [mente], segments: [{from: 0, rate: "85%"}]}
    """,
    fund='"390100"',
)
MENTE = regional_category("mente")


def test_a_category_the_region_declares_sets_a_rate():
    policy = make_policy(MENTE_BASIC, head=HEAD + DECLARES_MENTE)
    (plain,) = run(policy, [claim("1000.00", med_type="14")])
    (holder,) = run(policy, [claim("1000.00", med_type="14")], [MENTE])
    # 70% × 1,000 = 700.00; holding 门特: the best of 700.00 and 85% × 1,000 = 850.00
    assert (amount(plain, "basic"), amount(holder, "basic")) == (D("700.00"), D("850.00"))
    basic = line(holder, "basic")
    assert basic.applied == "mente"  # (the category's code, as for a national one)
    assert basic.explanation_zh.startswith("测试（门特）：")  # its Chinese name, as the file declares it
    assert policy.categories[0].authority == Authority.medical_insurance


def test_a_category_neither_national_nor_declared_is_named_with_the_line_and_what_is_allowed():
    text = policy_text(MENTE_BASIC)
    with pytest.raises(PolicyFileError) as info:
        parse_policy(text, "testland.yaml")
    said = str(info.value)
    at = next(n for n, text_line in enumerate(text.splitlines(), start=1) if "categories: [mente]" in text_line)
    assert said.startswith(f"testland.yaml:{at}: payers.0.rules.0.tiers.1.categories: ")
    assert "unknown category 'mente': not a national category or group (tekun, orphan, dibao" in said
    assert "and not declared under categories (none declared)" in said


def test_a_region_may_not_declare_a_national_category_again():
    with pytest.raises(PolicyFileError) as info:
        make_policy(MENTE_BASIC, head=HEAD + DECLARES_MENTE.replace("code: mente", "code: tekun"))
    assert "'tekun' is a national category (or group) already: declare only the region's own" in str(info.value)


def test_a_declared_category_is_granted_by_its_authority_like_any_other(tmp_path, monkeypatch):
    (tmp_path / "testland.yaml").write_text(policy_text(MENTE_BASIC, HEAD + DECLARES_MENTE), encoding="utf-8")
    monkeypatch.setenv("ONESTOP_REGIONS", str(tmp_path))
    grant = EligibilityChange(
        event_id="E1",
        psn_no="P1",
        category="mente",
        action="grant",
        valid_from="2024-01-01",
        authority="medical_insurance",
        recorded_at="2024-01-01T09:00:00Z",
    )
    assert grant.category is MENTE and issuing_authority(grant.category) == Authority.medical_insurance
    assert category_name_zh(grant.category) == "门特"
    # only a key of the authority the file names may grant it
    entitled(SigningKey.model_construct(key_id="k1", signer_kind="authority", signer="medical_insurance"), grant)
    civil = grant.model_copy(update={"authority": Authority.civil_affairs})
    with pytest.raises(Untrusted, match="mente is issued by medical_insurance, not by civil_affairs"):
        entitled(SigningKey.model_construct(key_id="k2", signer_kind="authority", signer="civil_affairs"), civil)
    with pytest.raises(ValidationError):  # a code no file declares is refused at the door
        EligibilityChange(
            event_id="E2",
            psn_no="P1",
            category="mente_typo",
            action="grant",
            valid_from="2024-01-01",
            authority="medical_insurance",
            recorded_at="2024-01-01T09:00:00Z",
        )


# ---------------------------------------------------------------------------------------------
# 7. a year-end top-up to a ceiling: "the registered poor person's share of in-scope inpatient
# costs above 10% is topped up once at the year end"

TOP_UP = """\
year_end:
  - payer: assistance
    source: test
    top_up:
      label: registered poor, 10%
      categories: [poverty_registered]
      when: {med_types: ["21"]}
      personal_share_ceiling: "10%"
"""
BASIC_INPATIENT_80 = payer_yaml(
    "basic",
    """
    name: inpatient
    source: test
    when: {med_types: ["21"]}
    scope: per_claim
    tiers: [{label: level 2, segments: [{from: 500, rate: "80%"}]}]
    """,
    fund='"390100"',
)
ASSISTANCE_50 = payer_yaml(
    "assistance",
    """
    name: assistance
    source: test
    when: {med_types: ["21"]}
    scope: per_claim
    tiers: [{label: all, categories: [poverty_registered, "dibao*"], segments: [{from: 0, rate: "50%"}]}]
    """,
)


def close(policy: Policy, claims: list[DischargeClaim], held: frozenset[Category]):
    return settle_year([ClaimOfYear(c, held, policy) for c in claims], closed_regions={"testland"})


def test_the_year_end_tops_up_the_personal_share_above_ten_percent_of_the_inpatient_costs():
    policy = parse_policy(policy_text(BASIC_INPATIENT_80 + ASSISTANCE_50) + TOP_UP, "testland.yaml")
    stays = [
        claim("10000.00", out="1000.00", claim_id="A", day="2024-02-01"),
        claim("20000.00", claim_id="B", day="2024-05-01"),
        claim("1000.00", claim_id="O", med_type="11", day="2024-06-01"),
    ]
    year = close(policy, stays, frozenset({Category.poverty_registered}))
    # A: basic 80% × (10,000 − 500) = 7,600; assistance 50% × 2,400 = 1,200; share of in-scope 1,200
    # B: basic 80% × (20,000 − 500) = 15,600; assistance 50% × 4,400 = 2,200; share of in-scope 2,200
    # O: outpatient, not counted (the top-up is for inpatient costs)
    assert [paid(s) for s in year.claims[:2]] == [
        {"basic": D("7600.00"), "assistance": D("1200.00")},
        {"basic": D("15600.00"), "assistance": D("2200.00")},
    ]
    # year end: inpatient in-scope 30,000, the person's share 3,400; held to 10% × 30,000 = 3,000: 400.00
    (closed,) = year.year_end
    (top_up,) = closed.lines
    assert (top_up.payer.value, top_up.amount, top_up.base) == ("assistance", D("400.00"), D("3400.00"))
    assert top_up.account == "assistance.top_up.year_end"
    assert (
        "the year's 2 counted claims: in-scope 30000.00, the person's share of it 3400.00; held to 10% of it: "
        "30000.00 × 10% = 3000.00; 3400.00 − 3000.00 = 400.00 → pays 400.00"
    ) in top_up.explanation
    assert top_up.explanation_zh.startswith("测试年终一次性补偿（建档立卡贫困人口）：本年计入的2次就医：")


def test_no_top_up_for_a_person_it_is_not_for_and_nothing_while_the_share_is_within_the_ceiling():
    policy = parse_policy(policy_text(BASIC_INPATIENT_80 + ASSISTANCE_50) + TOP_UP, "testland.yaml")
    dibao = close(policy, [claim("20000.00", claim_id="B")], frozenset({Category.dibao}))
    assert [c.lines for c in dibao.year_end] == [()]  # the top-up is the registered poor's: no line for a dibao person
    generous = parse_policy(
        policy_text(BASIC_INPATIENT_80 + ASSISTANCE_50.replace('"50%"', '"70%"')) + TOP_UP, "testland.yaml"
    )
    (closed,) = close(generous, [claim("10000.00", claim_id="A")], frozenset({Category.poverty_registered})).year_end
    # basic 7,600; assistance 70% × 2,400 = 1,680; the share 720 is within 10% × 10,000 = 1,000: 0.00
    (top_up,) = closed.lines
    assert top_up.amount == D("0.00")
    assert "the year's 1 counted claim: in-scope 10000.00, the person's share of it 720.00" in top_up.explanation
    assert "10000.00 × 10% = 1000.00; 720.00 − 1000.00 = -280.00 → pays 0.00" in top_up.explanation


def test_a_top_up_names_only_categories_the_file_knows():
    with pytest.raises(PolicyFileError) as info:
        parse_policy(
            policy_text(BASIC_INPATIENT_80 + ASSISTANCE_50) + TOP_UP.replace("[poverty_registered]", "[poor]"),
            "testland.yaml",
        )
    assert "year_end.0.top_up.categories: Value error, unknown category 'poor'" in str(info.value)
