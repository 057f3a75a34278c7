"""The persons' year totals (``year_totals``): written by the ledger alone, in the transaction of
the records they count; read by intake, whose claims carry them to their payers as a basis."""

from __future__ import annotations

import asyncpg

from schemas.totals import YearTotals

from ..columns import totals_of_rows, totals_row
from .connection import columns

_LOAD_TOTALS = """
SELECT y.psn_no, y.year, y.account, y.base, y.paid, y.paid_by_day, y.assisted_visits_by_month
FROM year_totals AS y
JOIN unnest($1::text[], $2::integer[]) AS k(psn_no, year) ON y.psn_no = k.psn_no AND y.year = k.year"""


#: the upsert of year totals rows, its seven parameters numbered from ``first`` (it ends a longer statement too)
def upsert_totals(first: int = 1) -> str:
    p = [f"${n}" for n in range(first, first + 7)]
    return f"""
INSERT INTO year_totals (psn_no, year, account, base, paid, paid_by_day, assisted_visits_by_month)
SELECT p, y, a, b, pd, convert_from(d, 'UTF8')::jsonb, convert_from(v, 'UTF8')::jsonb
FROM unnest({p[0]}::text[], {p[1]}::integer[], {p[2]}::text[], {p[3]}::numeric[], {p[4]}::numeric[], {p[5]}::bytea[],
            {p[6]}::bytea[]) AS x(p, y, a, b, pd, d, v)
ON CONFLICT (psn_no, year, account) DO UPDATE SET
    base = EXCLUDED.base, paid = EXCLUDED.paid, paid_by_day = EXCLUDED.paid_by_day,
    assisted_visits_by_month = EXCLUDED.assisted_visits_by_month, updated_at = now()"""


UPSERT_TOTALS = upsert_totals()


async def load_totals(conn: asyncpg.Connection, keys: set[tuple[str, int]]) -> dict[tuple[str, int], YearTotals]:
    """The year_totals rows of the (person, year) pairs, as {(psn_no, year): {account: totals}}."""
    ordered = sorted(keys)
    rows = await conn.fetch(_LOAD_TOTALS, [k[0] for k in ordered], [k[1] for k in ordered]) if keys else []
    return totals_of_rows(ordered, [tuple(row) for row in rows])


async def write_totals(conn: asyncpg.Connection, totals: dict[tuple[str, int], YearTotals]) -> None:
    """Upsert every account of the (person, year) pairs given."""
    rows = [
        totals_row(psn_no, year, account, account_totals)
        for (psn_no, year), accounts in sorted(totals.items())
        for account, account_totals in sorted(accounts.items())
    ]
    if rows:
        await conn.execute(UPSERT_TOTALS, *columns(rows))


class Totals:
    _pool: asyncpg.Pool

    async def year_totals(self, psn_no: str, year: int) -> YearTotals:
        """A person's totals of one year, per account (empty when nothing was paid)."""
        async with self._pool.acquire() as conn:
            totals = await load_totals(conn, {(psn_no, year)})
        return totals[(psn_no, year)]

    async def years_of(self, psn_no: str) -> list[int]:
        """The years a person has totals for."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT DISTINCT year FROM year_totals WHERE psn_no = $1 ORDER BY year", psn_no)
        return [row["year"] for row in rows]
