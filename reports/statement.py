"""Finance's monthly clearing statement (清算, like the national platform's 3203): per hospital and
fund, the count and sum of the month's settlements, adjustments and reversals, and the net to pay
the hospital; year-end records (paid to persons, not hospitals) and premium subsidies (paid to the
tax office that collects persons' contributions, per fund) apart.

Pure: the ledger's records in, the statement out. A record belongs to the month of its
``settled_at`` in China Standard Time. A fund is a region's fund (the insured place's policy)
and its code: one hospital treating people insured in two regions is paid by both. The
statement's sums are the records' sums to the fen: every record of the month is in exactly one
row of one section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from policies.loader import load_policies
from policies.nhsa import china_time, fund_of, policy_or_none
from schemas.events import Settlement
from schemas.money import ZERO

KINDS = ("settlement", "adjustment", "reversal", "year_end", "premium")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class StatementError(ValueError):
    """A request the statement cannot answer (a malformed month, a hospital the ledger never saw)."""


def parse_month(text: str) -> str:
    """'YYYY-MM', checked."""
    match = MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise StatementError(f"--month {text!r}: write the month as YYYY-MM, e.g. 2026-11")
    return text.strip()


def month_of(moment: datetime) -> str:
    """The month (YYYY-MM, China Standard Time) a record belongs to."""
    return china_time(moment).strftime("%Y-%m")


def day_of(moment: datetime) -> date:
    return china_time(moment).date()


def is_year_end(record: Settlement) -> bool:
    """A year-end record, or a later change of one: paid to persons, not hospitals."""
    return record.kind == "year_end" or record.claim_id.startswith("year-end/")


def is_premium(record: Settlement) -> bool:
    """A premium subsidy (参保资助): paid to the tax office for a person's contribution, not to a hospital."""
    return record.kind == "premium" or record.claim_id.startswith("premium/")


@dataclass
class KindSum:
    count: int = 0
    amount: Decimal = ZERO


@dataclass
class FundRow:
    """One fund of one region, in one section: what each kind of record paid from it this month."""

    region: str
    region_name: str
    fund_pay_type: str
    fund_name: str
    setlinfo_field: str
    kinds: dict[str, KindSum] = field(default_factory=lambda: {k: KindSum() for k in KINDS})

    @property
    def net(self) -> Decimal:
        """The month's net: what is to be paid (negative: recovered)."""
        return sum((s.amount for s in self.kinds.values()), start=ZERO)

    def add(self, kind: str, amount: Decimal) -> None:
        total = self.kinds[kind]
        total.amount += amount
        total.count += 1 if amount else 0


@dataclass
class Section:
    """A hospital's part of the statement (or, for year-end records, the persons')."""

    code: str | None  # fixmedins_code; None: records naming no hospital
    name: str | None
    funds: list[FundRow]
    records: dict[str, int]  # records by kind
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    psn_part_amt: Decimal

    @property
    def net(self) -> Decimal:
        return sum((f.net for f in self.funds), start=ZERO)

    @property
    def record_count(self) -> int:
        return sum(self.records.values())


@dataclass
class Statement:
    month: str
    hospital: str | None  # the one hospital asked for, or None for all
    generated_at: datetime
    hospitals: list[Section]
    year_end: Section | None  # None when the statement is of one hospital
    premiums: Section | None = None  # the month's premium subsidies per fund; None when of one hospital

    @property
    def funds(self) -> list[FundRow]:
        """The month per region and fund, over every hospital."""
        return _merged(row for section in self.hospitals for row in section.funds)

    @property
    def fund_codes(self) -> list[FundRow]:
        """The month per fund code, over every hospital and region (the chart's bars)."""
        return _merged((row for section in self.hospitals for row in section.funds), by_region=False)

    @property
    def net(self) -> Decimal:
        """What the month pays the hospitals, net."""
        return sum((s.net for s in self.hospitals), start=ZERO)

    @property
    def year_end_net(self) -> Decimal:
        return self.year_end.net if self.year_end is not None else ZERO

    @property
    def premiums_net(self) -> Decimal:
        return self.premiums.net if self.premiums is not None else ZERO

    @property
    def empty(self) -> bool:
        return (
            not self.hospitals
            and (self.year_end is None or not self.year_end.record_count)
            and (self.premiums is None or not self.premiums.record_count)
        )


def _merged(rows: Iterable[FundRow], by_region: bool = True) -> list[FundRow]:
    out: dict[tuple[str, str], FundRow] = {}
    for row in rows:
        key = (row.region if by_region else "", row.fund_pay_type)
        into = out.get(key)
        if into is None:
            into = out[key] = FundRow(
                key[0], row.region_name if by_region else "", row.fund_pay_type, row.fund_name, row.setlinfo_field
            )
        for kind, total in row.kinds.items():
            into.kinds[kind].count += total.count
            into.kinds[kind].amount += total.amount
    return sorted(out.values(), key=lambda r: (r.region, r.fund_pay_type))


def hospitals_of(records: Iterable[Settlement]) -> dict[str, str | None]:
    """Every hospital the records name, with the last name given for it."""
    found: dict[str, str | None] = {}
    for record in records:
        if record.fixmedins_code:
            found[record.fixmedins_code] = record.fixmedins_name or found.get(record.fixmedins_code)
    return found


def build_statement(
    records: Iterable[Settlement],
    month: str,
    hospital: str | None = None,
    generated_at: datetime | None = None,
    known_hospitals: Iterable[str] | None = None,
) -> Statement:
    """The statement of ``month`` (YYYY-MM) from the ledger's records (all of them, or at least
    the month's); of one hospital when ``hospital`` names one. A hospital no record ever named
    (``known_hospitals``: default, those of ``records``) is an error; a month without records
    gives an empty statement."""
    month = parse_month(month)
    records = list(records)
    if hospital is not None:
        known = set(known_hospitals) if known_hospitals is not None else set(hospitals_of(records))
        if hospital not in known:
            listed = ", ".join(sorted(known)[:20]) or "none"
            raise StatementError(
                f"--hospital {hospital}: unknown hospital — no record of the ledger names it "
                f"(hospitals known: {listed})"
            )
    of_month = [r for r in records if month_of(r.settled_at) == month]
    by_hospital: dict[str | None, list[Settlement]] = {}
    year_end: list[Settlement] = []
    premiums: list[Settlement] = []
    for record in of_month:
        if is_premium(record):
            premiums.append(record)
        elif is_year_end(record):
            year_end.append(record)
        elif hospital is None or record.fixmedins_code == hospital:
            by_hospital.setdefault(record.fixmedins_code or None, []).append(record)
    sections = [
        _section(code, rs) for code, rs in sorted(by_hospital.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    ]
    return Statement(
        month,
        hospital,
        generated_at or datetime.now().astimezone(),
        sections,
        None if hospital is not None else _section(None, year_end),
        None if hospital is not None else _section(None, premiums),
    )


def _section(code: str | None, records: list[Settlement]) -> Section:
    rows: dict[tuple[str, str], FundRow] = {}
    counts = dict.fromkeys(KINDS, 0)
    names = [r.fixmedins_name for r in records if r.fixmedins_name]
    medfee = funds = personal = ZERO
    for record in records:
        counts[record.kind] += 1
        medfee += record.medfee_sumamt
        funds += record.fund_pay_sumamt
        personal += record.psn_part_amt
        policy = policy_or_none(record)
        region = record.policy.region
        region_name = policy.name_zh if policy is not None else _region_name(region)
        per_fund: dict[str, Decimal] = {}
        for line in record.payments:
            fund = fund_of(line.fund_pay_type, policy, line)
            if (region, fund.code) not in rows:
                rows[(region, fund.code)] = FundRow(region, region_name, fund.code, fund.name, fund.field)
            per_fund[fund.code] = per_fund.get(fund.code, ZERO) + line.amount
        for (
            fund_code,
            amount,
        ) in per_fund.items():  # a record counts once per fund, however many of its payers pay from it
            rows[(region, fund_code)].add(record.kind, amount)
    funds_rows = sorted(
        (r for r in rows.values() if any(t.count for t in r.kinds.values())), key=lambda r: (r.region, r.fund_pay_type)
    )
    return Section(code, names[-1] if names else None, funds_rows, counts, medfee, funds, personal)


def _region_name(region: str) -> str:
    return next((p.name_zh for p in load_policies() if p.region == region), region)


# --- formats ---------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "section",
    "month",
    "fixmedins_code",
    "fixmedins_name",
    "region",
    "fund_pay_type",
    "fund_name",
    "setlinfo_field",
    "settlement_count",
    "settlement_sum",
    "adjustment_count",
    "adjustment_sum",
    "reversal_count",
    "reversal_sum",
    "year_end_count",
    "year_end_sum",
    "premium_count",
    "premium_sum",
    "net_payable",
)


def csv_rows(statement: Statement) -> list[dict[str, str]]:
    """One row per (section, hospital, region, fund); year-end rows have section ``year_end`` and premium
    subsidies section ``premium``, neither a hospital."""
    out = []
    sections = [("hospital", s) for s in statement.hospitals]
    if statement.year_end is not None:
        sections.append(("year_end", statement.year_end))
    if statement.premiums is not None:
        sections.append(("premium", statement.premiums))
    for name, section in sections:
        for row in section.funds:
            out.append(
                {
                    "section": name,
                    "month": statement.month,
                    "fixmedins_code": section.code or "",
                    "fixmedins_name": section.name or "",
                    "region": row.region,
                    "fund_pay_type": row.fund_pay_type,
                    "fund_name": row.fund_name,
                    "setlinfo_field": row.setlinfo_field,
                    **{
                        f"{kind}_{what}": (
                            str(row.kinds[kind].count) if what == "count" else f"{row.kinds[kind].amount:.2f}"
                        )
                        for kind in KINDS
                        for what in ("count", "sum")
                    },
                    "net_payable": f"{row.net:.2f}",
                }
            )
    return out


def as_csv(statement: Statement) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(statement))
    return buffer.getvalue()


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _row_json(row: FundRow) -> dict:
    return {
        "region": row.region,
        "region_name": row.region_name,
        "fund_pay_type": row.fund_pay_type,
        "fund_name": row.fund_name,
        "setlinfo_field": row.setlinfo_field,
        **{kind: {"count": row.kinds[kind].count, "sum": _money(row.kinds[kind].amount)} for kind in KINDS},
        "net_payable": _money(row.net),
    }


def _section_json(section: Section) -> dict:
    return {
        "fixmedins_code": section.code,
        "fixmedins_name": section.name,
        "records": section.records,
        "medfee_sumamt": _money(section.medfee_sumamt),
        "fund_pay_sumamt": _money(section.fund_pay_sumamt),
        "psn_part_amt": _money(section.psn_part_amt),
        "funds": [_row_json(r) for r in section.funds],
        "net_payable": _money(section.net),
    }


def as_json(statement: Statement) -> dict:
    """The statement as a JSON document (amounts as strings with two decimals)."""
    return {
        "month": statement.month,
        "hospital": statement.hospital,
        "generated_at": statement.generated_at.isoformat(),
        "timezone": "China Standard Time (UTC+08:00): a record belongs to the month of its settled_at there",
        "hospitals": [_section_json(s) for s in statement.hospitals],
        "funds": [_row_json(r) for r in statement.funds],
        "net_payable": _money(statement.net),
        "year_end": None
        if statement.year_end is None
        else {**_section_json(statement.year_end), "paid_to": "persons, not hospitals"},
        "premiums": None
        if statement.premiums is None
        else {
            **_section_json(statement.premiums),
            "paid_to": "the tax office collecting persons' contributions (代缴)",
        },
    }
