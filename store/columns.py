"""What the store's columns hold, whichever backend keeps them (PostgreSQL, store/postgres/, or memory,
store/memory/): JSON as the jsonb columns take it, the digests that tell one input or bill from
another, and a person's year totals as rows. Both backends make their rows with these, so that
they hold the same thing and decide alike."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import orjson

from schemas.events import DischargeClaim
from schemas.money import format_yuan
from schemas.totals import AccountTotals, YearTotals


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"  # exact, as a string: never a float
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    """JSON bytes (orjson; Decimal as exact strings)."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS)


def without_nul(text: str) -> str:
    """Text as a PostgreSQL text column can hold it: a NUL (which it refuses, and which a reason or
    an error may quote from a hostile input) written as the six characters \\u0000."""
    return text.replace("\x00", "\\u0000")


def digest(raw: bytes) -> str:
    """An input's bytes as its place in the archive tells them apart (the same bytes again are the same input)."""
    return hashlib.sha256(raw).hexdigest()


def content_digest(claim: DischargeClaim) -> str:
    """A claim's content, whatever order its fields came in: the same bill twice has one digest."""
    return hashlib.sha256(orjson.dumps(claim.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)).hexdigest()


def account_of(base, paid, paid_by_day, visits) -> AccountTotals:
    """One ``year_totals`` row's account, from its columns."""
    return AccountTotals.model_validate(
        {"base": base, "paid": paid, "paid_by_day": paid_by_day, "assisted_visits_by_month": visits}
    )


def totals_row(psn_no: str, year: int, account: str, totals: AccountTotals) -> tuple:
    """One account of a person's year as a ``year_totals`` row (its JSON columns as JSON bytes)."""
    by_day = {day.isoformat(): format_yuan(amount) for day, amount in sorted(totals.paid_by_day.items())}
    visits = dict(sorted(totals.assisted_visits_by_month.items()))
    return psn_no, year, account, totals.base, totals.paid, dumps(by_day), dumps(visits)


def totals_of_rows(keys: Iterable[tuple[str, int]], rows) -> dict[tuple[str, int], YearTotals]:
    """Rows (psn_no, year, account, base, paid, paid_by_day, visits) as {(psn_no, year): {account: totals}}."""
    totals: dict[tuple[str, int], YearTotals] = {key: {} for key in keys}
    for psn_no, year, account, base, paid, by_day, visits in rows:
        totals.setdefault((psn_no, year), {})[account] = account_of(base, paid, by_day, visits)
    return totals
