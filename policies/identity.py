"""Which of a person's categories count for a claim: those held during the stay, and the
on-application categories whose policy reaches back before their application date."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date

from schemas.codes import Category, categories_named
from schemas.events import CategoryHeld, DischargeClaim
from schemas.policy import Policy

from .loader import once_per_policy


def shift_months(day: date, months: int) -> date:
    """The same day ``months`` later (negative: earlier), at most the month's last day."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def reach_back(held: CategoryHeld, policy: Policy) -> int:
    """Months before its valid_from that a category covers under the policy (0 for most)."""
    return _months_back(policy).get(held.code, 0)


@once_per_policy
def _months_back(policy: Policy) -> dict[Category, int]:
    """The categories the policy's ``retroactive`` names, each with the most months it reaches back."""
    months: dict[Category, int] = {}
    for retroactive in policy.retroactive:
        for category in {c for p in retroactive.categories for c in categories_named(p)}:
            months[category] = max(months.get(category, 0), retroactive.months_before)
    return months


def counts_for(held: CategoryHeld, claim: DischargeClaim, policy: Policy) -> bool:
    months = reach_back(held, policy)
    start = shift_months(held.valid_from, -months) if months else held.valid_from
    return start <= claim.enddate and (held.valid_to is None or held.valid_to >= claim.begndate)


def counting(categories: Iterable[CategoryHeld], claim: DischargeClaim, policy: Policy) -> list[CategoryHeld]:
    """The categories of ``categories`` that count for ``claim`` under ``policy``."""
    return [held for held in categories if counts_for(held, claim, policy)]


def lookup_until(claim: DischargeClaim, policy: Policy) -> date:
    """The latest start a category may have and still count for this claim (for the identity lookup)."""
    return shift_months(claim.enddate, max((r.months_before for r in policy.retroactive), default=0))
