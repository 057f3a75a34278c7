"""The national platform's form of a record (policies/nhsa.py): for every shared case's settlement
and every record kind, the setlinfo fund fields, the setldetail lines and fund_pay_sumamt add up."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from policies.ledger import replay
from policies.loader import load_policies, parse_policy
from policies.nhsa import FundConflict, fund_totals, funds_of, nhsa_form, policy_or_none
from schemas.codes import InsuType
from schemas.money import ZERO
from schemas.nhsa import SETLINFO_FIELDS, NhsaSettlement

from .ledgers import NOW, cases, every_kind, inputs_of


def _check_adds_up(record) -> NhsaSettlement:
    form = nhsa_form(record)
    info = form.setlinfo
    fields = sum(fund_totals(form).values(), start=ZERO)
    details = sum((d.fund_payamt for d in form.setldetail), start=ZERO)
    assert fields == details == info.fund_pay_sumamt == record.fund_pay_sumamt, record.settlement_id
    assert info.psn_part_amt == record.psn_part_amt and info.medfee_sumamt == record.medfee_sumamt
    # each fund's detail line is the sum of the record's lines paying from it
    by_code: dict[str, Decimal] = {}
    for line in record.payments:
        by_code[line.fund_pay_type] = by_code.get(line.fund_pay_type, ZERO) + line.amount
    assert {d.fund_pay_type: d.fund_payamt for d in form.setldetail} == by_code
    # and each setlinfo field the sum of the funds the policy counts in it
    funds = funds_of(policy_or_none(record))
    per_field = dict.fromkeys(SETLINFO_FIELDS, ZERO)
    for code, amount in by_code.items():
        per_field[funds[code].field] += amount
    assert fund_totals(form) == per_field
    return form


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_every_shared_cases_settlement_adds_up_in_the_platforms_form(case):
    records = replay(inputs_of(case, every_kind=False), NOW)
    assert records and all(r.kind == "settlement" for r in records)
    for record in records:
        form = _check_adds_up(record)
        assert form.setlinfo.setl_id == record.settlement_id and form.setlinfo.mdtrt_id == record.claim_id
        assert form.setlinfo.fixmedins_code == record.fixmedins_code and form.setlinfo.setl_type == "settlement"
        assert form.setlinfo.hifp_pay == sum(
            (line.amount for line in record.payments if line.payer.value == "basic"), start=ZERO
        )
        assert form.setlinfo.insutype == InsuType.resident  # every case is resident insurance
        for detail in form.setldetail:
            assert detail.setl_proc_info and detail.fund_pay_type_name
            assert detail.inscp_scp_amt == record.inscp_scp_amt


def test_every_record_kind_adds_up_and_a_reversal_negates_its_settlement():
    _, records = every_kind()
    kinds = {r.kind for r in records}
    assert kinds == {"settlement", "adjustment", "reversal", "year_end"}
    for record in records:
        _check_adds_up(record)
    reversal = next(r for r in records if r.kind == "reversal")
    settled = next(r for r in records if r.claim_id == reversal.claim_id and r.kind == "settlement")
    a, b = nhsa_form(settled), nhsa_form(reversal)
    assert {d.fund_pay_type: -d.fund_payamt for d in a.setldetail} == {
        d.fund_pay_type: d.fund_payamt for d in b.setldetail
    }
    assert {f: -v for f, v in fund_totals(a).items()} == fund_totals(b)
    assert b.setlinfo.setl_type == "reversal" and b.setlinfo.reason
    year_end = nhsa_form(next(r for r in records if r.kind == "year_end"))
    assert year_end.setlinfo.maf_pay == year_end.setlinfo.fund_pay_sumamt > 0  # Zhengzhou's deferred assistance
    assert all(d.inscp_scp_amt is None and d.crt_payb_lmt_amt is None for d in year_end.setldetail)


def test_payers_of_one_fund_make_one_detail_line():
    """Guang'an's tilt is paid from the critical-illness fund (390200): one detail line, both payers' arithmetic."""
    case = next(c for c in cases() if c.name == "guangan-poverty-registered-ten-percent")
    record = replay(inputs_of(case, every_kind=False), NOW)[0]
    form = nhsa_form(record)
    critical = [d for d in form.setldetail if d.fund_pay_type == "390200"]
    assert len(critical) == 1
    paid = sum((line.amount for line in record.payments if line.payer.value in ("critical", "tilt")), start=ZERO)
    assert critical[0].fund_payamt == paid == form.setlinfo.hifmi_pay
    assert "倾斜" in critical[0].setl_proc_info and "大病保险" in critical[0].setl_proc_info
    assert form.setlinfo.oth_pay == sum(
        (line.amount for line in record.payments if line.payer.value in ("poverty_relief", "emergency_relief")),
        start=ZERO,
    )
    # the most this fund could pay: what of the bill was left when it began
    basic = next(line.amount for line in record.payments if line.payer.value == "basic")
    assert critical[0].crt_payb_lmt_amt == record.medfee_sumamt - basic


def test_the_time_is_china_standard_time():
    case = cases()[0]
    record = replay(inputs_of(case, every_kind=False), datetime(2026, 11, 30, 17, 30, tzinfo=timezone.utc))[0]
    assert nhsa_form(record).setlinfo.setl_time == "2026-12-01 01:30:00"


def test_every_policy_names_its_funds_consistently():
    fields = {
        "390100": "hifp_pay",
        "310100": "hifp_pay",
        "390200": "hifmi_pay",
        "330100": "hifob_pay",
        "610100": "maf_pay",
    }
    for policy in load_policies():
        funds = funds_of(policy)
        # every region has basic insurance and assistance; the seeds' also critical insurance and employees' funds
        # (Yubei's published example: residents, and no critical-illness insurance)
        assert {"390100", "610100"} <= set(funds)
        assert set(fields) <= set(funds) or policy.region == "chongqing_yubei"
        present = {code: field for code, field in fields.items() if code in funds}
        assert {code: funds[code].field for code in present} == present
        assert all(f.name for f in funds.values())


POLICY = """
region: testland
name: Test
name_zh: 测试
document: test
seed: none
pooled_city: "9901"
period: "2020"
version: 1
in_force_from: 2020-01-01
payers:
  - use: basic_ordinary.yaml
  - payer: critical
    name_zh: 大病保险
    fund_pay_type: {"390": "390200", "310": "330100"}
    rules:
      - name: critical
        source: test
        scope: annual
        tiers: [{label: all, segments: [{from: 10000, rate: "60%%"}]}]
  - payer: assistance
    name_zh: 医疗救助
    fund_pay_type: "610100"
    %s
    rules:
      - name: assistance
        source: test
        scope: annual
        tiers: [{label: all, segments: [{from: 0, rate: "70%%"}]}]
"""


def test_fund_names_and_fields_default_when_a_policy_file_does_not_give_them():
    policy = parse_policy(POLICY % "")
    funds = funds_of(policy)
    assert funds["390100"].name == "城乡居民基本医疗保险基金"  # the shared ordinary insurance's
    assert funds["390200"] == type(funds["390200"])(
        "390200", "大病保险", "hifmi_pay"
    )  # name_zh, the payer's default field
    assert funds["330100"].field == "hifob_pay" and funds["610100"].field == "maf_pay"


def test_two_payers_of_one_fund_code_must_agree():
    policy = parse_policy(
        (POLICY % "setlinfo_field: oth_pay").replace('fund_pay_type: "610100"', 'fund_pay_type: "390200"')
    )
    with pytest.raises(FundConflict, match="390200"):
        funds_of(policy)
    with pytest.raises(Exception, match="setlinfo_field"):
        parse_policy(POLICY % "setlinfo_field: hifx_pay")
