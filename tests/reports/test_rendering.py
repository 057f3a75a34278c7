"""The printable reports: the slip is one A4 page whose text holds the amounts; the statement's
PDF and HTML hold its sums and its chart. Text is read back from the PDF with pypdf."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
from pypdf import PdfReader

from policies.ledger import truth
from policies.presettle import next_seq
from policies.received import ClaimReceived
from reports.render.html import slip_html, statement_html
from reports.render.pdf import slip_pdf, statement_pdf, yuan
from reports.slip import SlipError, build_slip
from reports.statement import build_statement

from .ledgers import every_kind

PRINTED = datetime(2026, 11, 22, 5, tzinfo=timezone.utc)


def _slip(claim_id: str):
    histories, records = every_kind()
    mine = [r for r in records if r.claim_id == claim_id]
    history = histories[mine[0].psn_no]
    totals = truth(history, (next_seq(history), 0)).totals.get(mine[0].year, {})
    claim = [i.claim for i in history if isinstance(i, ClaimReceived) and i.claim.claim_id == claim_id][-1]
    return mine, build_slip(mine, totals, PRINTED, claim=claim)


def _text(pdf: bytes) -> tuple[str, list]:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages), reader.pages


@pytest.mark.parametrize("claim_id", ["ZY-1", "JN-1b", "GA-1", "ZZ-1a", "TZ-2b"])
def test_the_slip_is_one_a4_page_holding_the_amounts(claim_id):
    records, slip = _slip(claim_id)
    text, pages = _text(slip_pdf(slip))
    assert len(pages) == 1
    width, height = float(pages[0].mediabox.width), float(pages[0].mediabox.height)
    assert (round(width), round(height)) == (595, 842)  # A4 portrait, in points
    assert "一站式结算单" in text and "One-stop settlement slip" in text
    first = records[0]
    for amount in (
        first.medfee_sumamt,
        first.fund_pay_sumamt,
        first.psn_part_amt,
        first.inscp_scp_amt,
        *(line.amount for line in first.payments),
    ):
        assert yuan(amount) in text, amount
    assert (first.fixmedins_code or "") in text and first.claim_id in text
    for later in records[1:]:
        assert later.reason.split(":")[0] in text.replace("\n", " ")


def test_the_slip_lists_later_records_and_what_is_owed_now():
    records, slip = _slip("JN-1b")  # adjusted after the cancellation of JN-1a
    assert [r.kind for r in slip.later] == ["adjustment"] and slip.changed
    assert slip.now.fund_pay_sumamt == sum(r.fund_pay_sumamt for r in records)
    text, _ = _text(slip_pdf(slip))
    assert yuan(slip.now.fund_pay_sumamt) in text and yuan(slip.now.psn_part_amt) in text
    html = slip_html(slip)
    assert yuan(slip.now.psn_part_amt) in html and "cancellation cancel-1" in html


def test_the_running_totals_say_what_is_met_and_what_is_left():
    _, slip = _slip("ZZ-1b")
    by_account = {t.account: t for t in slip.totals}
    assistance = by_account["assistance"]
    assert assistance.deductible == 500 and assistance.deductible_left == 0 and not assistance.per_stay
    assert by_account["basic"].per_stay and by_account["basic"].deductible_left is None
    assert (
        by_account["critical"].deductible_left == by_account["critical"].deductible - by_account["critical"].yearly_base
    )
    assert by_account["supplementary"].uncapped and by_account["supplementary"].cap_left is None


def test_a_year_end_entry_has_no_slip():
    _, records = every_kind()
    year_end = [r for r in records if r.kind == "year_end"]
    with pytest.raises(SlipError, match="year-end"):
        build_slip(year_end, {}, PRINTED)


def test_the_statement_pdf_and_html_hold_the_sums_and_the_chart():
    _, records = every_kind()
    statement = build_statement(records, "2026-11", generated_at=PRINTED)
    text, pages = _text(statement_pdf(statement))
    flat = text.replace("\n", " ")
    assert "Monthly clearing statement" in flat and yuan(statement.net) in flat and yuan(statement.year_end_net) in flat
    for section in statement.hospitals:
        assert section.code in flat and yuan(section.net) in flat
    assert round(float(pages[0].mediabox.width)) == 842  # A4 landscape
    html = statement_html(statement)
    assert "<svg" in html and yuan(statement.net) in html and "年终清算" in html


def test_an_empty_month_renders():
    _, records = every_kind()
    statement = build_statement(records, "2025-01", generated_at=PRINTED)
    text, _ = _text(statement_pdf(statement))
    assert "No records this month" in text.replace("\n", " ")
    assert "No records this month" in statement_html(statement)
