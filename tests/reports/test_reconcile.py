"""Reconciliation with a hospital (reports/reconcile.py): totals (3201) and details (3202) — a
missing claim, an extra claim, a one-fen difference on each side — and bad files named by line and field."""

from __future__ import annotations

from datetime import date

import pytest

from reports.reconcile import BadFile, UnknownHospital, as_json, as_text, read_hospital_file, reconcile

from .ledgers import every_kind

DAY = date(2026, 11, 22)


def _ledger():
    _, records = every_kind()
    # the hospital with every kind of record (Jining: a cancellation reversed one claim and adjusted the next)
    code = next(r.fixmedins_code for r in records if r.kind == "reversal")
    return records, code, [r for r in records if r.fixmedins_code == code]


def _file(rows, key="setl_id") -> str:
    return "\n".join([f"{key},medfee_sumamt,fund_pay_sumamt,psn_part_amt", *rows]) + "\n"


def _row(record, key="setl_id", fund_delta="0.00"):
    from decimal import Decimal

    fund = record.fund_pay_sumamt + Decimal(fund_delta)
    personal = record.psn_part_amt - Decimal(fund_delta)
    name = record.settlement_id if key == "setl_id" else record.claim_id
    return f"{name},{record.medfee_sumamt:.2f},{fund:.2f},{personal:.2f}"


def test_the_hospitals_own_list_agrees():
    records, code, mine = _ledger()
    assert {r.kind for r in mine} >= {"settlement", "reversal", "adjustment"}
    result = reconcile(read_hospital_file(_file([_row(r) for r in mine])), records, code, DAY, DAY)
    assert result.agrees and result.totals_agree and result.ledger_totals.count == len(mine)
    assert "AGREE" in as_text(result)


def test_a_missing_an_extra_and_a_fen_on_each_side():
    records, code, mine = _ledger()
    settlement, adjustment = (
        [r for r in mine if r.kind == "settlement"][0],
        [r for r in mine if r.kind == "adjustment"][0],
    )
    reversal = next(r for r in mine if r.kind == "reversal")
    rows = [
        _row(settlement, fund_delta="0.01"),  # the hospital says one fen more from the funds
        _row(adjustment, fund_delta="-0.01"),  # and one fen less here
        "EXTRA-1/settlement,100.00,60.00,40.00",
    ]  # a settlement the ledger never made; the reversal is missing
    rows += [_row(r) for r in mine if r not in (settlement, adjustment, reversal)]
    result = reconcile(read_hospital_file(_file(rows)), records, code, DAY, DAY)
    assert not result.agrees and not result.totals_agree
    by_key = {d.key: d for d in result.differences}
    assert set(by_key) == {
        settlement.settlement_id,
        adjustment.settlement_id,
        "EXTRA-1/settlement",
        reversal.settlement_id,
    }
    assert by_key[settlement.settlement_id].status == "differs"
    assert {k: str(v) for k, v in by_key[settlement.settlement_id].differences.items()} == {
        "fund_pay_sumamt": "0.01",
        "psn_part_amt": "-0.01",
    }
    assert {k: str(v) for k, v in by_key[adjustment.settlement_id].differences.items()} == {
        "fund_pay_sumamt": "-0.01",
        "psn_part_amt": "0.01",
    }
    assert by_key[settlement.settlement_id].lines == (2,) and by_key[adjustment.settlement_id].lines == (3,)
    assert by_key["EXTRA-1/settlement"].status == "only_in_hospital" and by_key["EXTRA-1/settlement"].lines == (4,)
    assert by_key[reversal.settlement_id].status == "only_in_ledger"
    text = as_text(result)
    assert "DIFFER" in text and "+0.01" in text and "-0.01" in text and "line 4" in text
    document = as_json(result)
    assert document["agrees"] is False and len(document["differences"]) == 4


def test_by_claim_the_rows_of_a_claim_add_up_and_the_period_counts():
    records, code, mine = _ledger()
    rows = [_row(r, key="claim_id") for r in mine]  # a claim settled and reversed: two rows, netting to nothing
    result = reconcile(read_hospital_file(_file(rows, key="claim_id")), records, code, DAY, DAY)
    assert result.agrees and result.key == "claim_id"
    assert result.ledger_totals.count == len({r.claim_id for r in mine})
    later = reconcile(
        read_hospital_file(_file(rows, key="claim_id")), records, code, date(2026, 12, 1), date(2026, 12, 31)
    )
    assert not later.agrees and all(d.status == "only_in_hospital" for d in later.differences)


def test_an_unknown_hospital_is_an_error():
    records, _, mine = _ledger()
    with pytest.raises(UnknownHospital, match="unknown hospital"):
        reconcile(read_hospital_file(_file([_row(r) for r in mine])), records, "NO-SUCH", DAY, DAY)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "line 1: empty file"),
        (
            "claim,medfee_sumamt,fund_pay_sumamt,psn_part_amt\nA,1.00,1.00,0.00\n",
            "line 1: the header lacks setl_id or claim_id",
        ),
        ("setl_id,medfee_sumamt,fund_pay_sumamt\nA,1.00,1.00\n", "line 1: the header lacks psn_part_amt"),
        (
            "setl_id,medfee_sumamt,fund_pay_sumamt,psn_part_amt\nA,1.005,1.00,0.00\n",
            "line 2: field medfee_sumamt: 1.005 has more than two decimals",
        ),
        (
            "setl_id,medfee_sumamt,fund_pay_sumamt,psn_part_amt\nA,1.00,x,0.00\n",
            "line 2: field fund_pay_sumamt: 'x' is not an amount",
        ),
        (
            "setl_id,medfee_sumamt,fund_pay_sumamt,psn_part_amt\nA,1.00,1.00,0.00\n,1.00,1.00,0.00\n",
            "line 3: field setl_id: empty",
        ),
        ("setl_id,medfee_sumamt,fund_pay_sumamt,psn_part_amt\nA,1.00,1.00,\n", "line 2: field psn_part_amt: empty"),
        (
            "setl_id,medfee_sumamt,fund_pay_sumamt,psn_part_amt\nA,2.00,1.00,0.50\n",
            "line 2: field medfee_sumamt: 2.00 is not fund_pay_sumamt + psn_part_amt",
        ),
        (
            "setl_id,medfee_sumamt,fund_pay_sumamt,psn_part_amt\nA,1.00,1.00,0.00\nA,1.00,1.00,0.00\n",
            "line 3: field setl_id: A is listed again (first on line 2)",
        ),
        (
            "setl_id,medfee_sumamt,fund_pay_sumamt,psn_part_amt\nA,1.00,1.00,0.00,9\n",
            "line 2: 5 fields, the header has 4",
        ),
    ],
)
def test_a_malformed_file_is_named_by_line_and_field(text, problem):
    with pytest.raises(BadFile) as raised:
        read_hospital_file(text, "h.csv")
    assert f"h.csv: {problem}" in str(raised.value)


def test_every_problem_of_a_file_is_named_at_once_and_negative_amounts_are_fine():
    text = "setl_id,medfee_sumamt,fund_pay_sumamt,psn_part_amt,note\nA,-1.00,-1.00,0.00,reversal\nB,1.001,1,0\nC,,1,0\n"
    with pytest.raises(BadFile) as raised:
        read_hospital_file(text, "h.csv")
    assert [p.split(":")[0] for p in raised.value.problems] == ["line 3", "line 4"]
    assert (
        read_hospital_file("\ufeff" + text.splitlines()[0] + "\n" + text.splitlines()[1] + "\n")
        .items["A"]
        .amounts.medfee_sumamt
        == -1
    )
