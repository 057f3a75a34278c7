"""Settlements as a caseworker reads them: one line per claim."""
from __future__ import annotations

from schemas.events import Settlement
from schemas.money import format_yuan

TABLE_HEADER = f"{'claim_id':<14} {'kind':<10} {'psn_no':<10} {'total':>12} {'funds':>12} {'personal':>12}  payments"


def table_row(settlement: Settlement) -> str:
    payments = ", ".join(f"{p.payer.value} {format_yuan(p.amount)}" for p in settlement.payments if p.amount)
    return (f"{settlement.claim_id:<14} {settlement.kind:<10} {settlement.psn_no:<10} {format_yuan(settlement.medfee_sumamt):>12} "
            f"{format_yuan(settlement.fund_pay_sumamt):>12} {format_yuan(settlement.psn_part_amt):>12}  {payments}")
