"""The monthly clearing statement (reports/statement.py): its sums are the ledger's to the fen,
per hospital and fund, year-end payments apart; and its formats."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from decimal import Decimal

import orjson
import pytest

from policies.ledger import replay
from reports.statement import StatementError, as_csv, as_json, build_statement, is_year_end, month_of
from schemas.money import ZERO

from .ledgers import NOW, cases, every_kind, inputs_of


def _sum(values) -> Decimal:
    return sum(values, start=ZERO)


def test_the_statement_adds_up_to_the_ledger_to_the_fen():
    _, records = every_kind()
    statement = build_statement(records, "2026-11")
    hospital_records = [r for r in records if not is_year_end(r)]
    assert statement.net == _sum(r.fund_pay_sumamt for r in hospital_records)
    assert statement.year_end_net == _sum(r.fund_pay_sumamt for r in records if is_year_end(r)) > 0
    for section in statement.hospitals:
        mine = [r for r in hospital_records if r.fixmedins_code == section.code]
        assert section.net == _sum(r.fund_pay_sumamt for r in mine)
        assert section.medfee_sumamt == _sum(r.medfee_sumamt for r in mine)
        assert section.psn_part_amt == _sum(r.psn_part_amt for r in mine)
        assert sum(section.records.values()) == len(mine)
        for kind in ("settlement", "adjustment", "reversal"):
            assert _sum(row.kinds[kind].amount for row in section.funds) == _sum(
                r.fund_pay_sumamt for r in mine if r.kind == kind
            )
        for row in section.funds:  # each fund: the lines paying from it
            assert row.net == _sum(
                line.amount
                for r in mine
                if r.policy.region == row.region
                for line in r.payments
                if line.fund_pay_type == row.fund_pay_type
            )
    kinds = {kind for s in statement.hospitals for row in s.funds for kind, t in row.kinds.items() if t.count}
    assert kinds == {"settlement", "adjustment", "reversal"}
    assert statement.year_end.funds[0].kinds["year_end"].count == 1


def test_a_record_counts_once_per_fund_however_many_payers_pay_from_it():
    case = next(c for c in cases() if c.name == "jining-tekun-caps")  # assistance and re-assistance both 610100
    records = replay(inputs_of(case, every_kind=False), NOW)
    statement = build_statement(records, "2026-11")
    for section in statement.hospitals:
        for row in section.funds:
            paying = [
                r
                for r in records
                if r.fixmedins_code == section.code
                and r.kind == "settlement"
                and _sum(line.amount for line in r.payments if line.fund_pay_type == row.fund_pay_type)
            ]
            assert row.kinds["settlement"].count == len(paying), row.fund_pay_type
    assert any(
        len([line for line in r.payments if line.fund_pay_type == "610100" and line.amount]) == 2 for r in records
    )


def test_months_are_counted_in_china_standard_time():
    case = cases()[0]
    late = datetime(2026, 11, 30, 16, 30, tzinfo=timezone.utc)  # 2026-12-01 00:30 in Beijing
    records = replay(inputs_of(case, every_kind=False), late)
    assert month_of(late) == "2026-12"
    assert build_statement(records, "2026-11").empty
    assert not build_statement(records, "2026-12").empty


def test_one_hospital_an_unknown_one_and_a_month_without_records():
    _, records = every_kind()
    code = records[0].fixmedins_code
    one = build_statement(records, "2026-11", hospital=code)
    assert [s.code for s in one.hospitals] == [code] and one.year_end is None
    with pytest.raises(StatementError, match="unknown hospital"):
        build_statement(records, "2026-11", hospital="NO-SUCH")
    empty = build_statement(records, "2025-01")
    assert empty.empty and empty.net == 0 and empty.hospitals == []
    assert as_csv(empty).splitlines()[0].startswith("section,month")
    assert orjson.loads(orjson.dumps(as_json(empty)))["net_payable"] == "0.00"
    for bad in ("2026-13", "2026/11", "11-2026", ""):
        with pytest.raises(StatementError, match="YYYY-MM"):
            build_statement(records, bad)


def test_records_naming_no_hospital_are_under_unknown_hospital():
    case = next(c for c in cases() if c.name == "taizhou-outpatient-limits")
    claims = [c.model_copy(update={"fixmedins_code": None, "fixmedins_name": None}) for c in case.claims]
    inputs = [i for i in inputs_of(case, every_kind=False)]
    from policies.received import ClaimReceived

    inputs = [
        ClaimReceived(i.seq, claims[[c.claim_id for c in claims].index(i.claim.claim_id)])
        if isinstance(i, ClaimReceived)
        else i
        for i in inputs
    ]
    records = replay(inputs, NOW)
    statement = build_statement(records, "2026-11")
    assert [s.code for s in statement.hospitals] == [None]
    assert statement.net == _sum(r.fund_pay_sumamt for r in records)


def test_csv_and_json_carry_the_same_sums():
    _, records = every_kind()
    statement = build_statement(records, "2026-11")
    rows = list(csv.DictReader(io.StringIO(as_csv(statement))))
    assert _sum(Decimal(r["net_payable"]) for r in rows if r["section"] == "hospital") == statement.net
    assert _sum(Decimal(r["net_payable"]) for r in rows if r["section"] == "year_end") == statement.year_end_net
    assert all(r["fixmedins_code"] == "" for r in rows if r["section"] == "year_end")
    for r in rows:
        parts = _sum(Decimal(r[f"{k}_sum"]) for k in ("settlement", "adjustment", "reversal", "year_end"))
        assert parts == Decimal(r["net_payable"])
        assert all(len(r[f"{k}_sum"].split(".")[1]) == 2 for k in ("settlement", "adjustment", "reversal", "year_end"))
    document = orjson.loads(orjson.dumps(as_json(statement)))
    assert Decimal(document["net_payable"]) == statement.net
    assert _sum(Decimal(h["net_payable"]) for h in document["hospitals"]) == statement.net
    assert document["year_end"]["paid_to"].startswith("persons")
