"""The list of premium subsidies for the tax office that collects resident-insurance contributions
(代缴名单): per subsidised person of a region's year, the contribution, what the funds pay of it (per
fund), what the person still pays, the category that earned it and when it is due.

Pure: the ledger's premium records in, the list out. A premium record is made once and never
adjusted (PARAMETERS.md, "Premium subsidies"), so the list is the records themselves.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from schemas.codes import CATEGORY_ZH
from schemas.events import Settlement
from schemas.money import ZERO

COLUMNS = (
    "psn_no",
    "region",
    "year",
    "insuplc_admdvs",
    "category",
    "category_zh",
    "contribution",
    "subsidised",
    "person_pays",
    "funds",
    "due_date",
)


@dataclass(frozen=True)
class Row:
    psn_no: str
    region: str
    year: int
    insuplc_admdvs: str
    category: str
    contribution: Decimal
    subsidised: Decimal
    person_pays: Decimal
    funds: tuple[tuple[str, str, Decimal], ...]  # (payer, fund code, amount) per paying fund
    due_date: date | None

    def as_dict(self) -> dict[str, str]:
        return {
            "psn_no": self.psn_no,
            "region": self.region,
            "year": str(self.year),
            "insuplc_admdvs": self.insuplc_admdvs,
            "category": self.category,
            "category_zh": _zh(self.category),
            "contribution": f"{self.contribution:.2f}",
            "subsidised": f"{self.subsidised:.2f}",
            "person_pays": f"{self.person_pays:.2f}",
            "funds": "; ".join(f"{payer} {code} {amount:.2f}" for payer, code, amount in self.funds),
            "due_date": self.due_date.isoformat() if self.due_date else "",
        }


def _zh(category: str) -> str:
    return next((zh for code, zh in CATEGORY_ZH.items() if code.value == category), "")


def tax_office_list(records: Iterable[Settlement]) -> list[Row]:
    """One row per premium record, by person."""
    rows = []
    for record in records:
        if record.kind != "premium":
            continue
        rows.append(
            Row(
                record.psn_no,
                record.policy.region,
                record.year or 0,
                record.insuplc_admdvs,
                record.category.value if record.category else "",
                record.medfee_sumamt,
                record.fund_pay_sumamt,
                record.psn_part_amt,
                tuple((line.payer.value, line.fund_pay_type, line.amount) for line in record.payments),
                record.due_date,
            )
        )
    return sorted(rows, key=lambda r: r.psn_no)


def totals(rows: Iterable[Row]) -> dict[str, Decimal]:
    """What the list comes to: the contributions, the subsidies, what persons still pay, and per fund."""
    out: dict[str, Decimal] = {"contribution": ZERO, "subsidised": ZERO, "person_pays": ZERO}
    for row in rows:
        out["contribution"] += row.contribution
        out["subsidised"] += row.subsidised
        out["person_pays"] += row.person_pays
        for payer, code, amount in row.funds:
            out[f"{payer} {code}"] = out.get(f"{payer} {code}", ZERO) + amount
    return out


def as_csv(rows: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(row.as_dict() for row in rows)
    return buffer.getvalue()


def as_json(rows: list[Row], region: str, year: int) -> dict:
    return {
        "region": region,
        "year": year,
        "persons": len(rows),
        "rows": [row.as_dict() for row in rows],
        "totals": {name: f"{amount:.2f}" for name, amount in totals(rows).items()},
    }


def as_text(rows: list[Row], region: str, year: int) -> str:
    out = [
        f"premium subsidies (参保资助) of {region} {year}: the list for the tax office (代缴名单); amounts in yuan",
        f"{'person':<20} {'category':<22} {'contribution':>12} {'subsidised':>11} {'person pays':>11}  "
        f"{'due':<10}  funds",
    ]
    for row in rows:
        funds = ", ".join(f"{payer} {amount:.2f}" for payer, _, amount in row.funds)
        out.append(
            f"{row.psn_no:<20} {row.category:<22} {row.contribution:>12.2f} {row.subsidised:>11.2f} "
            f"{row.person_pays:>11.2f}  {str(row.due_date or ''):<10}  {funds}"
        )
    summed = totals(rows)
    out.append(
        f"{len(rows)} persons: contributions {summed['contribution']:,.2f}, "
        f"subsidised {summed['subsidised']:,.2f}, persons pay {summed['person_pays']:,.2f}"
    )
    out += [
        f"  {name}: {amount:,.2f}"
        for name, amount in summed.items()
        if name not in ("contribution", "subsidised", "person_pays")
    ]
    return "\n".join(out)
