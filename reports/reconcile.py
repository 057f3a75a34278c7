"""Reconciliation with a hospital: its own list of its settlements against the ledger's records —
totals (对总账, like the national platform's 3201) and every item missing on either side or
differing (对明细账, like 3202).

The hospital's file is CSV with a header naming ``setl_id`` or ``claim_id`` and the amounts
``medfee_sumamt``, ``fund_pay_sumamt``, ``psn_part_amt`` (other columns are ignored). By
``setl_id`` each row is one record of the ledger (a settlement, adjustment or reversal: its
``settlement_id``); by ``claim_id`` the rows of one claim are added up and compared with what the
claim's records of the period add up to. The period is of record days in China Standard Time,
both ends included. Year-end records are paid to persons and are never a hospital's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from pydantic import TypeAdapter, ValidationError

from schemas.events import Settlement
from schemas.money import ZERO, SignedMoney

from .statement import day_of, is_year_end

AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "psn_part_amt")
KEYS = ("setl_id", "claim_id")
_AMOUNT = TypeAdapter(SignedMoney)


class BadFile(ValueError):
    """A hospital's file that cannot be read: every problem with its line and field."""

    def __init__(self, name: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{name}: {p}" for p in problems))


@dataclass(frozen=True)
class Amounts:
    medfee_sumamt: Decimal = ZERO
    fund_pay_sumamt: Decimal = ZERO
    psn_part_amt: Decimal = ZERO

    def __add__(self, other: "Amounts") -> "Amounts":
        return Amounts(*(getattr(self, a) + getattr(other, a) for a in AMOUNTS))

    def minus(self, other: "Amounts") -> dict[str, Decimal]:
        """Per amount: this less ``other``, only where they differ."""
        return {a: getattr(self, a) - getattr(other, a) for a in AMOUNTS if getattr(self, a) != getattr(other, a)}


@dataclass(frozen=True)
class HospitalItem:
    key: str
    lines: tuple[int, ...]  # the file's lines (the header is line 1)
    amounts: Amounts


@dataclass(frozen=True)
class HospitalFile:
    key: str  # "setl_id" or "claim_id"
    items: dict[str, HospitalItem]
    rows: int


def read_hospital_file(text: str, name: str = "the hospital's file") -> HospitalFile:
    """The hospital's list, checked: every problem is named with its line and field (BadFile)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise BadFile(
            name, ["line 1: empty file: expected a CSV header naming setl_id or claim_id, " + ", ".join(AMOUNTS)]
        )
    reader.fieldnames = header
    key = next((k for k in KEYS if k in header), None)
    missing = [a for a in AMOUNTS if a not in header]
    if key is None or missing:
        wanted = (["setl_id or claim_id"] if key is None else []) + missing
        raise BadFile(name, [f"line 1: the header lacks {', '.join(wanted)} (it names: {', '.join(header)})"])
    problems: list[str] = []
    items: dict[str, HospitalItem] = {}
    rows = 0
    for number, row in enumerate(reader, start=2):
        if None in row:
            problems.append(f"line {number}: {len(header) + len(row[None])} fields, the header has {len(header)}")
            continue
        if not any((v or "").strip() for v in row.values()):
            continue  # a blank line
        rows += 1
        value = (row.get(key) or "").strip()
        found = {}
        if not value:
            problems.append(f"line {number}: field {key}: empty")
        for amount in AMOUNTS:
            raw = (row.get(amount) or "").strip()
            if not raw:
                problems.append(f"line {number}: field {amount}: empty")
                continue
            try:
                found[amount] = _AMOUNT.validate_python(raw)
            except ValidationError as error:
                problems.append(
                    f"line {number}: field {amount}: {error.errors()[0]['msg'].removeprefix('Value error, ')}"
                )
        if len(found) < len(AMOUNTS) or not value:
            continue
        amounts = Amounts(**found)
        if amounts.fund_pay_sumamt + amounts.psn_part_amt != amounts.medfee_sumamt:
            problems.append(
                f"line {number}: field medfee_sumamt: {amounts.medfee_sumamt:.2f} is not fund_pay_sumamt + "
                f"psn_part_amt ({amounts.fund_pay_sumamt:.2f} + {amounts.psn_part_amt:.2f})"
            )
            continue
        was = items.get(value)
        if was is not None and key == "setl_id":
            problems.append(f"line {number}: field setl_id: {value} is listed again (first on line {was.lines[0]})")
            continue
        items[value] = (
            HospitalItem(value, (*was.lines, number), was.amounts + amounts)
            if was
            else HospitalItem(value, (number,), amounts)
        )
    if problems:
        raise BadFile(name, problems)
    return HospitalFile(key, items, rows)


@dataclass(frozen=True)
class Totals:
    count: int
    amounts: Amounts


@dataclass(frozen=True)
class Difference:
    key: str
    status: str  # "only_in_hospital" | "only_in_ledger" | "differs"
    lines: tuple[int, ...]  # the hospital file's lines (none when only in the ledger)
    hospital: Amounts | None
    ledger: Amounts | None
    differences: dict[str, Decimal]  # per amount: hospital − ledger


@dataclass(frozen=True)
class Reconciliation:
    hospital: str
    hospital_name: str | None
    begin: date
    end: date
    key: str
    hospital_totals: Totals
    ledger_totals: Totals
    differences: list[Difference] = field(default_factory=list)

    @property
    def totals_agree(self) -> bool:
        return self.hospital_totals == self.ledger_totals

    @property
    def agrees(self) -> bool:
        return self.totals_agree and not self.differences


class UnknownHospital(ValueError):
    pass


def ledger_items(records: Iterable[Settlement], hospital: str, begin: date, end: date, key: str) -> dict[str, Amounts]:
    """The ledger's side: the hospital's records of the period, by settlement_id or added up by claim."""
    items: dict[str, Amounts] = {}
    for record in records:
        if record.fixmedins_code != hospital or is_year_end(record) or not begin <= day_of(record.settled_at) <= end:
            continue
        name = record.settlement_id if key == "setl_id" else record.claim_id
        amounts = Amounts(record.medfee_sumamt, record.fund_pay_sumamt, record.psn_part_amt)
        items[name] = items[name] + amounts if name in items else amounts
    return items


def reconcile(
    hospital_file: HospitalFile, records: Iterable[Settlement], hospital: str, begin: date, end: date
) -> Reconciliation:
    """The hospital's file against the ledger's records (all of them: the hospital's and the
    period's are picked here). A hospital no record ever named is an error (UnknownHospital)."""
    if end < begin:
        raise ValueError(f"--to {end} is before --from {begin}")
    records = list(records)
    names = [r.fixmedins_name for r in records if r.fixmedins_code == hospital and r.fixmedins_name]
    if not any(r.fixmedins_code == hospital for r in records):
        known = sorted({r.fixmedins_code for r in records if r.fixmedins_code})
        raise UnknownHospital(
            f"--hospital {hospital}: unknown hospital — no record of the ledger names it "
            f"(hospitals known: {', '.join(known[:20]) or 'none'})"
        )
    ours = ledger_items(records, hospital, begin, end, hospital_file.key)
    theirs = hospital_file.items
    differences = []
    for key in sorted(set(ours) | set(theirs)):
        mine, their = ours.get(key), theirs.get(key)
        if their is None:
            differences.append(
                Difference(key, "only_in_ledger", (), None, mine, {a: -getattr(mine, a) for a in AMOUNTS})
            )
        elif mine is None:
            differences.append(
                Difference(
                    key,
                    "only_in_hospital",
                    their.lines,
                    their.amounts,
                    None,
                    {a: getattr(their.amounts, a) for a in AMOUNTS},
                )
            )
        elif their.amounts != mine:
            differences.append(Difference(key, "differs", their.lines, their.amounts, mine, their.amounts.minus(mine)))
    differences.sort(key=lambda d: (d.lines[0] if d.lines else 1 << 30, d.key))
    total = lambda values: sum(values, start=Amounts())  # noqa: E731
    return Reconciliation(
        hospital,
        names[-1] if names else None,
        begin,
        end,
        hospital_file.key,
        Totals(len(theirs), total(i.amounts for i in theirs.values())),
        Totals(len(ours), total(ours.values())),
        differences,
    )


# --- formats ---------------------------------------------------------------------------------------

STATUS = {
    "only_in_hospital": "only in the hospital's file (missing in the ledger)",
    "only_in_ledger": "only in the ledger (missing in the hospital's file)",
    "differs": "differs",
}


def as_text(result: Reconciliation) -> str:
    out = [
        f"reconciliation of hospital {result.hospital}"
        + (f" ({result.hospital_name})" if result.hospital_name else "")
        + f", records of {result.begin} to {result.end} (China Standard Time), by {result.key}",
        "",
        "totals (对总账, 3201)            hospital          ledger      difference",
    ]
    hospital, ledger = result.hospital_totals, result.ledger_totals
    out.append(f"  {'count':<24} {hospital.count:>12} {ledger.count:>15} {hospital.count - ledger.count:>15}")
    for amount in AMOUNTS:
        a, b = getattr(hospital.amounts, amount), getattr(ledger.amounts, amount)
        out.append(f"  {amount:<24} {a:>12.2f} {b:>15.2f} {a - b:>15.2f}")
    out.append("  totals agree" if result.totals_agree else "  totals DIFFER")
    out += [
        "",
        f"details (对明细账, 3202): {len(result.differences)} difference{'s' if len(result.differences) != 1 else ''}",
    ]
    for d in result.differences:
        where = f"line {', '.join(map(str, d.lines))}: " if d.lines else ""
        out.append(f"  {where}{result.key} {d.key}: {STATUS[d.status]}")
        for amount in AMOUNTS:
            if amount in d.differences:
                a = "—" if d.hospital is None else f"{getattr(d.hospital, amount):.2f}"
                b = "—" if d.ledger is None else f"{getattr(d.ledger, amount):.2f}"
                out.append(
                    f"      {amount:<18} hospital {a:>12}  ledger {b:>12}  difference {d.differences[amount]:+.2f}"
                )
    out += [
        "",
        "AGREE: the hospital's list and the ledger agree to the fen"
        if result.agrees
        else "DIFFER: see above (differences are the hospital's amount less the ledger's)",
    ]
    return "\n".join(out)


def _amounts_json(amounts: Amounts | None) -> dict | None:
    return None if amounts is None else {a: f"{getattr(amounts, a):.2f}" for a in AMOUNTS}


def as_json(result: Reconciliation) -> dict:
    return {
        "hospital": result.hospital,
        "hospital_name": result.hospital_name,
        "from": result.begin.isoformat(),
        "to": result.end.isoformat(),
        "key": result.key,
        "agrees": result.agrees,
        "totals_agree": result.totals_agree,
        "totals": {
            "hospital": {"count": result.hospital_totals.count, **_amounts_json(result.hospital_totals.amounts)},
            "ledger": {"count": result.ledger_totals.count, **_amounts_json(result.ledger_totals.amounts)},
        },
        "differences": [
            {
                result.key: d.key,
                "status": d.status,
                "lines": list(d.lines),
                "hospital": _amounts_json(d.hospital),
                "ledger": _amounts_json(d.ledger),
                "difference": {a: f"{v:.2f}" for a, v in d.differences.items()},
            }
            for d in result.differences
        ],
    }
