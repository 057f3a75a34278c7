"""A person's year-to-date totals, per account (a payer, or a separately capped part of one)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from .money import ZERO, Money
from .trusted import built


class AccountTotals(BaseModel):
    """What one account has counted and paid for one person in one year."""

    model_config = ConfigDict(frozen=True)
    base: Money = ZERO  # cumulative base this year (what the schedule runs over)
    paid: Money = ZERO  # paid this year
    paid_by_day: dict[date, Money] = {}  # only for rules with a daily limit
    assisted_visits_by_month: dict[str, int] = {}  # "YYYY-MM" -> visits that were paid

    def after(self, *, base: Decimal, paid: Decimal, day: date | None = None, count_visit: bool = False) -> "AccountTotals":
        # (the day's and month's figures are new dicts when they change: totals are values, never changed in place)
        own = self.__dict__  # (the fields, read at once: each attribute of a model costs a look-up of its own)
        by_day, visits = own["paid_by_day"], own["assisted_visits_by_month"]
        if day is not None and paid:
            by_day = {**by_day, day: by_day.get(day, ZERO) + paid}
        if day is not None and count_visit and paid > 0:
            month = day.strftime("%Y-%m")
            visits = {**visits, month: visits.get(month, 0) + 1}
        # sums of exact amounts the rules computed: nothing to validate again
        return built(AccountTotals, {"base": own["base"] + base, "paid": own["paid"] + paid, "paid_by_day": by_day,
                                     "assisted_visits_by_month": visits})


    def minus(self, earlier: "AccountTotals") -> "AccountTotals":
        """What changed since ``earlier``: a payment's contribution to the account (may be folded back with plus)."""
        return AccountTotals.model_construct(
            base=self.base - earlier.base, paid=self.paid - earlier.paid,
            paid_by_day={d: a - earlier.paid_by_day.get(d, ZERO) for d, a in self.paid_by_day.items()
                         if a != earlier.paid_by_day.get(d, ZERO)},
            assisted_visits_by_month={m: n - earlier.assisted_visits_by_month.get(m, 0)
                                      for m, n in self.assisted_visits_by_month.items() if n != earlier.assisted_visits_by_month.get(m, 0)},
        )

    def plus(self, change: "AccountTotals") -> "AccountTotals":
        by_day = dict(self.paid_by_day)
        for day, amount in change.paid_by_day.items():
            by_day[day] = by_day.get(day, ZERO) + amount
        visits = dict(self.assisted_visits_by_month)
        for month, count in change.assisted_visits_by_month.items():
            visits[month] = visits.get(month, 0) + count
        return AccountTotals(base=self.base + change.base, paid=self.paid + change.paid, paid_by_day=by_day,
                             assisted_visits_by_month=visits)


#: account name -> totals, for one person and one year
YearTotals = dict[str, AccountTotals]
