"""Every worked case of ../shared/cases, through the pure rules, agrees with its expectations to the fen."""

from __future__ import annotations

import pytest

from cli.demo import EXAMPLES
from policies.replay import as_expected, settle_case
from schemas.money import ZERO, format_yuan

from .shared_cases import CASES_DIR, case_files, load_case


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_case_agrees_to_the_fen(path):
    case = load_case(path)
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


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_case_settlements_balance(path):
    """The funds pay the sum of the lines (summed here, not by the code under test) and the patient
    the rest of the bill; every line, the funds' sum and the patient's share lie between nothing and
    the whole bill."""
    for settled in settle_case(load_case(path)):
        bill = settled.claim.medfee_sumamt
        paid = ZERO
        for line in settled.lines:
            assert ZERO <= line.amount <= bill, f"{line.payer.value} pays {line.amount} of a bill of {bill}"
            paid += line.amount
        assert ZERO <= paid <= bill, f"the funds pay {paid} of a bill of {bill}"
        assert settled.fund_pay_sumamt == paid
        assert settled.psn_part_amt == bill - paid


def test_the_shipped_examples_are_the_shared_cases():
    """examples/cases lets `onestop demo` run from a clone alone; it must stay equal to ../shared/cases."""
    shipped = sorted(EXAMPLES.glob("*.json"))
    assert [p.name for p in shipped] == [p.name for p in case_files()]
    for path in shipped:
        assert path.read_bytes() == (CASES_DIR / path.name).read_bytes(), f"{path.name} differs from the shared case"
