"""What people read and send of premium subsidies (issue 29), without a broker or a database: the
bureau's roster as enrollment changes, a roll refused at the command, `onestop policy show`, the
monthly statement's premium subsidies per fund, and the list for the tax office (代缴名单)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from decimal import Decimal

from click.testing import CliRunner

from cli import main
from cli.files import enrollments_of
from policies.ledger import replay
from reports import premiums as listing
from reports.statement import as_csv, as_json, build_statement
from schemas.codes import InsuType

from .premium_cases import premium_cases

D = Decimal
SETTLED = datetime(2018, 1, 2, 3, tzinfo=timezone.utc)  # 2018-01 in China Standard Time
CASES = {case.name.split("-")[0]: case for case in premium_cases()}


def records_of(region: str):
    case = CASES[region]
    return [r for inputs in case.inputs_of().values() for r in replay(inputs, SETTLED)]


def test_a_roster_becomes_enrollment_changes_with_the_same_ids_each_import(tmp_path):
    roster = tmp_path / "roster-2018.csv"
    roster.write_text(
        "psn_no,insutype,insuplc_admdvs,valid_from,valid_to\n"
        "P1,390,410102,,\n"
        "P2,310,410102,2018-03-01,\n"
        "P3,320,410102,,\n"
        "P4,390,4101,,\n",
        encoding="utf-8",
    )
    at = datetime(2017, 12, 1, tzinfo=timezone.utc)
    changes, problems = enrollments_of(roster, at, year=2018)
    assert [(c.psn_no, c.insutype, str(c.valid_from), str(c.valid_to)) for c in changes] == [
        ("P1", InsuType.resident, "2018-01-01", "2018-12-31"),
        ("P2", InsuType.employee, "2018-03-01", "2018-12-31"),
    ]
    assert problems == [
        "line 4: insutype: Input should be '390' or '310'",
        "line 5: insuplc_admdvs: String should match pattern '^\\d{6}$'",
    ]
    again, _ = enrollments_of(roster, datetime(2018, 6, 1, tzinfo=timezone.utc), year=2018)
    assert [c.event_id for c in again] == [c.event_id for c in changes]
    assert all(c.event_id.startswith("medical_insurance.roster-") and len(c.event_id) <= 64 for c in changes)
    without_year, problems = enrollments_of(roster, at)
    assert [c.psn_no for c in without_year] == ["P2"] and "line 2: valid_from" in problems[0]


def test_a_roll_no_policy_subsidises_is_refused_at_the_command_and_nothing_is_published():
    for args, why in (
        (["premiums", "roll", "shanghai", "2018"], "no policy of a region named 'shanghai'"),
        (["premiums", "roll", "4101", "2031"], "no individual contribution is known for 2031"),
    ):
        result = CliRunner().invoke(main, args, env={"ONESTOP_KAFKA": "127.0.0.1:1"})
        assert result.exit_code == 1 and f"Error: not rolled: {why}" in result.output
        assert "published" not in result.output


def test_policy_show_prints_the_premium_rows_with_their_sources():
    result = CliRunner().invoke(main, ["policy", "show", "zhangye"])
    assert result.exit_code == 0, result.output
    assert "[premium subsidies 参保资助] from 2022" in result.output
    assert "a fixed 220.00, at most the contribution, paid by assistance" in result.output
    assert "seed 002 三(一)3: 农村一、二类、城市全额低保对象为220元/人" in result.output
    assert "the year's individual contribution: 2022 350.00" in result.output


def test_the_statement_lists_the_premium_subsidies_per_fund_apart_from_the_hospitals():
    records = records_of("zhengzhou") + records_of("guangan")
    statement = build_statement(records, "2018-01")
    assert statement.hospitals == [] and statement.premiums is not None
    by_fund = {
        (row.region, row.fund_pay_type): (row.kinds["premium"].count, row.kinds["premium"].amount)
        for row in statement.premiums.funds
    }
    assert by_fund == {
        ("zhengzhou", "FIN-CITY"): (1, D("110.00")),
        ("zhengzhou", "FIN-CNTY"): (1, D("110.00")),
        ("guangan", "FIN"): (1, D("220.00")),
        ("guangan", "DPF"): (1, D("220.00")),
        ("guangan", "610100"): (2, D("330.00")),
    }
    assert statement.premiums_net == D("990.00") == sum(r.fund_pay_sumamt for r in records)
    rows = [r for r in csv.DictReader(io.StringIO(as_csv(statement))) if r["section"] == "premium"]
    assert sorted((r["fund_pay_type"], r["premium_sum"]) for r in rows) == [
        ("610100", "330.00"),
        ("DPF", "220.00"),
        ("FIN", "220.00"),
        ("FIN-CITY", "110.00"),
        ("FIN-CNTY", "110.00"),
    ]
    assert as_json(statement)["premiums"]["net_payable"] == "990.00"
    names = {row.fund_pay_type: row.fund_name for row in statement.premiums.funds}
    assert names["FIN-CITY"] == "市级财政" and names["DPF"] == "残疾人联合会代缴"


def test_the_tax_offices_list():
    rows = listing.tax_office_list(records_of("zhangye"))
    assert [(r.psn_no, r.category, str(r.subsidised), str(r.person_pays), str(r.due_date)) for r in rows] == [
        ("ZY-1", "dibao_rural_1", "220.00", "130.00", "2022-01-01"),
        ("ZY-2", "at_risk", "100.00", "250.00", "2022-09-01"),
        ("ZY-3", "orphan", "350.00", "0.00", "2022-04-01"),
        ("ZY-4", "dibao", "160.00", "190.00", "2022-01-01"),
    ]
    table = list(csv.DictReader(io.StringIO(listing.as_csv(rows))))
    assert table[0] == {
        "psn_no": "ZY-1",
        "region": "zhangye",
        "year": "2022",
        "insuplc_admdvs": "620702",
        "category": "dibao_rural_1",
        "category_zh": "农村一类低保",
        "contribution": "350.00",
        "subsidised": "220.00",
        "person_pays": "130.00",
        "funds": "assistance 610100 220.00",
        "due_date": "2022-01-01",
    }
    assert listing.as_json(rows, "zhangye", 2022)["totals"] == {
        "contribution": "1400.00",
        "subsidised": "830.00",
        "person_pays": "570.00",
        "assistance 610100": "830.00",
    }
    assert "4 persons: contributions 1,400.00, subsidised 830.00, persons pay 570.00" in listing.as_text(
        rows, "zhangye", 2022
    )
    shown = listing.as_text(rows, "zhangye", 2022).splitlines()
    assert (
        "ZY-2                 at_risk                      350.00      100.00      250.00  2022-09-01  "
        "assistance 100.00"
    ) in shown
