"""A person's year-to-date totals, per account (a payer, or a separately capped part of one)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict

from .money import ZERO, Money


class AccountTotals(BaseModel):
    """What one account has counted and paid for one person in one year."""

    model_config = ConfigDict(frozen=True)
    base: Money = ZERO  # cumulative base this year (what the schedule runs over)
    paid: Money = ZERO  # paid this year
    paid_by_day: dict[date, Money] = {}  # only for rules with a daily limit
    assisted_visits_by_month: dict[str, int] = {}  # "YYYY-MM" -> visits that were paid

    def minus(self, earlier: "AccountTotals") -> "AccountTotals":
        """What changed since ``earlier``: a payment's contribution to the account (may be folded back with plus)."""
        return AccountTotals.model_construct(
            base=self.base - earlier.base,
            paid=self.paid - earlier.paid,
            paid_by_day={
                d: a - earlier.paid_by_day.get(d, ZERO)
                for d, a in self.paid_by_day.items()
                if a != earlier.paid_by_day.get(d, ZERO)
            },
            assisted_visits_by_month={
                m: n - earlier.assisted_visits_by_month.get(m, 0)
                for m, n in self.assisted_visits_by_month.items()
                if n != earlier.assisted_visits_by_month.get(m, 0)
            },
        )

    def plus(self, change: "AccountTotals") -> "AccountTotals":
        by_day = dict(self.paid_by_day)
        for day, amount in change.paid_by_day.items():
            by_day[day] = by_day.get(day, ZERO) + amount
        visits = dict(self.assisted_visits_by_month)
        for month, count in change.assisted_visits_by_month.items():
            visits[month] = visits.get(month, 0) + count
        return AccountTotals(
            base=self.base + change.base,
            paid=self.paid + change.paid,
            paid_by_day=by_day,
            assisted_visits_by_month=visits,
        )


#: account name -> totals, for one person and one year
YearTotals = dict[str, AccountTotals]


def totals_json(totals: YearTotals) -> dict[str, dict[str, Any]]:
    """A year's totals as they travel on a claim in flight (account → totals as JSON, what is at its
    default left out: most accounts keep no days or months)."""
    return {
        account: account_totals.model_dump(mode="json", exclude_defaults=True)
        for account, account_totals in sorted(totals.items())
    }


def totals_from_json(data: object) -> YearTotals:
    """A year's totals as they travel on a claim in flight (account → totals as JSON), validated:
    what comes off an internal topic is not trusted."""
    if not isinstance(data, Mapping):
        raise ValueError("a year's totals must be an object of accounts")
    return {str(account): AccountTotals.model_validate(totals) for account, totals in data.items()}
