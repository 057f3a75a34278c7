"""Regions added from a bureau's published worked example (examples/published, README "Adding a
region"): each case reproduces the published amounts to the fen, from a policy file alone."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.policy import policy as policy_command
from policies.loader import load_policies, policy_for
from policies.replay import as_expected, settle_case
from schemas.cases import Case
from schemas.money import format_yuan

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = sorted((ROOT / "examples" / "published").glob("*.json"))
YUBEI = ROOT / "examples" / "published" / "chongqing-yubei-2023.json"


def test_there_is_a_published_example():
    assert YUBEI in PUBLISHED


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.stem)
def test_a_published_example_agrees_to_the_fen(path):
    case = Case.model_validate_json(path.read_bytes())
    got = [as_expected(s) for s in settle_case(case)]
    want = [
        {
            "claim_id": e.claim_id,
            "payments": {k: format_yuan(v) for k, v in e.payments.items()},
            "personal": format_yuan(e.personal),
        }
        for e in case.expect
    ]
    assert got == want


def test_yubei_reproduces_the_bureaus_figures_quoted_in_its_policy_file():
    # 渝北区医疗保障局, 2023-10-30: (50000-300)×70%=34790元; (50000-34790)×70%=10647元;
    # [(50000-34790-10647)-3000]×60%=937.8元; 共报销46374.8元 (the bill: 52,000, of it 50,000 in scope)
    (settled,) = settle_case(Case.model_validate_json(YUBEI.read_bytes()))
    assert {line.payer.value: line.amount for line in settled.payments} == {
        "basic": Decimal("34790.00"),
        "assistance": Decimal("10647.00"),
        "secondary": Decimal("937.80"),
    }
    assert settled.fund_pay_sumamt == Decimal("46374.80")
    assert settled.psn_part_amt == Decimal("5625.20")  # 52,000 − 46,374.80
    policy = policy_for("500112", settled.claim.enddate)
    assert policy is settled.policy and policy.region == "chongqing_yubei"
    quoted = policy.source or ""
    assert "http://www.ybq.gov.cn/bm/qybj/zwgk_70831/zcwd/202310/t20231030_12491196.html" in quoted
    for figure in (
        "(50000-300)×70%=34790元",
        "(50000-34790)×70%=10647元",
        "[(50000-34790-10647)-3000]×60%=937.8元",
        "46374.8元",
        "总费用52000元",
        "参加我市城乡居民基本医疗保险一档",
    ):
        assert figure in quoted, figure


def test_policy_settle_prints_the_published_amounts_under_the_bureaus_names():
    done = CliRunner().invoke(policy_command, ["settle", "--lang", "zh", str(YUBEI)])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == [
        {
            "claim_id": "CQYB-1",
            "基金支付": {"城乡居民基本医疗保险": "34790.00", "大额费用医疗救助": "10647.00", "倾斜救助": "937.80"},
            "个人负担": "5625.20",
        }
    ]
    english = CliRunner().invoke(policy_command, ["settle", str(YUBEI)])
    assert json.loads(english.output)[0]["payments"] == {
        "basic": "34790.00",
        "assistance": "10647.00",
        "secondary": "937.80",
    }


def test_yubei_is_one_district_of_chongqings_one_pool():
    (yubei,) = (p for p in load_policies() if p.region == "chongqing_yubei")
    assert yubei.codes == ("500112",) and yubei.pooled_area == ("5001", "5002")
    # a stay in a county of the municipality (5002) is within the pooled city for Yubei's insured
    shown = CliRunner().invoke(policy_command, ["show", "chongqing_yubei"])
    assert "insured places 500112; pool 5001, 5002" in shown.output
    assert "source: http://www.ybq.gov.cn/" in shown.output


def test_a_claim_the_example_does_not_cover_says_why_nothing_is_paid_rather_than_guessing():
    case = json.loads(YUBEI.read_text(encoding="utf-8"))
    case["claims"][0].update(contribution_tier=2)
    (settled,) = settle_case(Case.model_validate(case))
    basic = next(line for line in settled.lines if line.payer.value == "basic")
    assert basic.amount == Decimal("0.00")
    assert "contribution tier 1, level 2: contribution tier 2 is not one of [1]" in basic.explanation
