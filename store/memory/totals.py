"""The persons' year totals in memory (store/postgres/totals.py): written by the ledger alone, in
the transaction of the records they count; read by intake, whose claims carry them as a basis."""

from __future__ import annotations

from decimal import Decimal

from schemas.totals import YearTotals

from ..columns import totals_row
from .rows import Totals as TotalsRow, numeric
from .tables import Memory


def load_totals(m: Memory, keys: set[tuple[str, int]]) -> dict[tuple[str, int], YearTotals]:
    """The year_totals rows of the (person, year) pairs, as {(psn_no, year): {account: totals}}."""
    totals: dict[tuple[str, int], YearTotals] = {key: {} for key in sorted(keys)}
    for psn_no, year in sorted(keys):
        for row_year, account in sorted(m.t.person_totals.get(psn_no, {})):
            if row_year == year:
                totals[(psn_no, year)][account] = m.t.totals[(psn_no, year, account)].account()
    return totals


def write_totals(m: Memory, psn_no: str, year: int, totals: YearTotals) -> None:
    """Upsert every account of the person's year given (the others of that year are left as they are)."""
    for account, account_totals in sorted(totals.items()):
        upsert(m, *totals_row(psn_no, year, account, account_totals))


def upsert(
    m: Memory, psn_no: str, year: int, account: str, base: Decimal, paid: Decimal, paid_by_day: bytes, visits: bytes
) -> None:
    """One row as totals_row makes it (its JSON columns as JSON bytes)."""
    m.set(m.t.totals, (psn_no, year, account), TotalsRow(numeric(base), numeric(paid), paid_by_day, visits))
    m.index(m.t.person_totals, psn_no, (year, account))


def delete_years(m: Memory, psn_no: str, years: set[int]) -> None:
    """Every row of the person's years given."""
    for year, account in list(m.t.person_totals.get(psn_no, {})):
        if year in years:
            m.pop(m.t.totals, (psn_no, year, account))
            m.unindex(m.t.person_totals, psn_no, (year, account))


class Totals:
    _m: Memory

    async def year_totals(self, psn_no: str, year: int) -> YearTotals:
        """A person's totals of one year, per account (empty when nothing was paid)."""
        async with self._m.transaction() as m:
            return load_totals(m, {(psn_no, year)})[(psn_no, year)]

    async def years_of(self, psn_no: str) -> list[int]:
        """The years a person has totals for."""
        async with self._m.transaction() as m:
            return sorted({year for year, _ in m.t.person_totals.get(psn_no, {})})
