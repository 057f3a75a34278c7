"""A payer's outcome, and what a payment changes in the person's year: the accounts' totals.

Compiled with the rest of a claim's settlement (mypyc, `onestop compile-rules`): ``Paid`` is a
plain class with ``__slots__`` (making one is a native call, where a NamedTuple's is Python), and
``account_after`` reads a model's fields at once through its ``__dict__`` and builds the new totals
without validating the sums of exact amounts again (schemas/trusted.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from schemas.events import PaymentLine
from schemas.money import ZERO
from schemas.totals import AccountTotals, YearTotals
from schemas.trusted import built

#: the accounts of an outcome that changes none
_NO_ACCOUNTS: Mapping[str, AccountTotals] = MappingProxyType({})


class Paid:
    """A payer's outcome: its payment line (None when it has no part in this claim) and new totals.

    ``reaches_back``: this claim lifted the year over a qualifying line, so the year's earlier
    claims are owed more under that schedule and must be settled again.
    """

    # (a plain class, not a NamedTuple: compiled, building one is a native call, not the tuple's Python)
    __slots__ = ("line", "accounts", "reaches_back")

    def __init__(
        self, line: PaymentLine | None, accounts: Mapping[str, AccountTotals] = _NO_ACCOUNTS, reaches_back: bool = False
    ) -> None:
        self.line, self.accounts, self.reaches_back = line, accounts, reaches_back

    def __repr__(self) -> str:
        return f"Paid(line={self.line!r}, accounts={dict(self.accounts)!r}, reaches_back={self.reaches_back!r})"


def account_after(
    account: AccountTotals, base: Decimal, paid: Decimal, day: date | None = None, count_visit: bool = False
) -> AccountTotals:
    """The account's totals after a payment of ``paid`` that counted ``base`` (on ``day``, for
    a rule with a daily limit; counted as an assisted visit of its month, for a rule with a
    monthly number of them). The day's and month's figures are new dicts when they change:
    totals are values, never changed in place."""
    own = account.__dict__  # (the fields, read at once: each attribute of a model costs a look-up of its own)
    by_day, visits = own["paid_by_day"], own["assisted_visits_by_month"]
    if day is not None and paid:
        by_day = {**by_day, day: by_day.get(day, ZERO) + paid}
    if day is not None and count_visit and paid > 0:
        month = day.strftime("%Y-%m")
        visits = {**visits, month: visits.get(month, 0) + 1}
    # sums of exact amounts the rules computed: nothing to validate again
    return built(
        AccountTotals,
        {
            "base": own["base"] + base,
            "paid": own["paid"] + paid,
            "paid_by_day": by_day,
            "assisted_visits_by_month": visits,
        },
    )


#: an account before its first claim of the year (one value: building a model validates it)
NOTHING_YET = AccountTotals()


def paid_towards(totals: YearTotals, accounts: tuple[str, ...]) -> Decimal:
    """What the accounts sharing an annual cap paid this year."""
    paid = ZERO
    for account in accounts:
        found = totals.get(account)
        if found is not None:
            paid += found.paid
    return paid
