"""How the commands print: settlements one line per record, a person's categories and totals."""

from __future__ import annotations

from datetime import datetime

from policies.enrollment import Enrolled
from schemas.codes import category_name_zh
from schemas.events import CategoryHeld, EligibilityChange, Settlement
from schemas.money import format_yuan
from schemas.personal import mask
from schemas.totals import YearTotals

TABLE_HEADER = f"{'claim_id':<28} {'kind':<10} {'psn_no':<10} {'total':>12} {'funds':>12} {'personal':>12}  payments"


def table_row(settlement: Settlement) -> str:
    payments = ", ".join(f"{p.payer.value} {format_yuan(p.amount)}" for p in settlement.payments if p.amount)
    return (
        f"{settlement.claim_id:<28} {settlement.kind:<10} {settlement.psn_no:<10} "
        f"{format_yuan(settlement.medfee_sumamt):>12} "
        f"{format_yuan(settlement.fund_pay_sumamt):>12} {format_yuan(settlement.psn_part_amt):>12}  {payments}"
    )


def describe_person(
    psn_no: str,
    held: list[CategoryHeld],
    events: list[EligibilityChange],
    years: dict[int, YearTotals],
    as_known_at: datetime | None,
) -> str:
    out = [f"person {mask(psn_no)}", "categories" + (f" as known at {as_known_at}" if as_known_at else "") + ":"]
    out += [
        f"  {h.code.value:<28} {category_name_zh(h.code):<12} {h.valid_from} – {h.valid_to or 'open'}   "
        f"granted by {h.authority.value if h.authority else '?'} ({h.event_id})"
        for h in held
    ] or ["  none"]
    out.append("changes received (in the order applied):")
    out += [
        f"  {e.recorded_at:%Y-%m-%d %H:%M} {e.authority.value:<20} {e.action:<6} {e.category.value:<28} "
        f"{e.valid_from} – {e.valid_to or 'open'}  [{e.event_id}]"
        for e in events
    ] or ["  none"]
    for year, accounts in sorted(years.items()):
        out.append(f"year {year} to date:")
        out += [
            f"  {account:<28} yearly base {format_yuan(t.base):>12}   paid {format_yuan(t.paid):>12}"
            for account, t in sorted(accounts.items())
        ]
    return "\n".join(out)


def describe_premiums(enrolled: list[Enrolled], premiums: list[Settlement], as_known_at: datetime | None) -> str:
    """A person's insurance over time and their premium subsidies (参保资助), one a year at most."""
    out = ["insured (参保登记)" + (f" as known at {as_known_at}" if as_known_at else "") + ":"]
    out += [
        f"  {p.insutype.value} {'resident' if p.insutype.value == '390' else 'employee':<9} at "
        f"{p.insuplc_admdvs}  {p.start} – {p.end or 'open'}  [{p.event_id}]"
        for p in enrolled
    ] or ["  not known"]
    out.append("premium subsidies (参保资助):")
    for record in premiums:
        funds = ", ".join(f"{line.payer.value} {format_yuan(line.amount)}" for line in record.payments)
        category = record.category.value if record.category else "?"
        out.append(
            f"  {record.year} {record.policy.region:<10} {category:<22} contribution "
            f"{format_yuan(record.medfee_sumamt)}: subsidised {format_yuan(record.fund_pay_sumamt)} ({funds}), "
            f"the person pays {format_yuan(record.psn_part_amt)}; due {record.due_date}"
        )
    if not premiums:
        out.append("  none")
    return "\n".join(out)
