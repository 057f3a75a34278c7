"""A person's year, settled as it is known now (PARAMETERS.md, "A year that changes after the fact").

The claims of a year are settled in the order they were first received, each with the
categories that count for it and the year's totals so far. Two things are known only at the
end of the year's claims:

- whether the year's base reaches a qualifying line (Taizhou's low-income serious illness,
  10,000): when it does, that schedule applies to every claim of the year, the earlier ones
  included, so the year is run again with the schedule qualified from its first claim;
- what the year-end close pays (PARAMETERS.md, "Year-end close"), when the region's year is
  closed: computed after every claim of the year (policies/year_end.py).

What the live ledger records for each claim must add up to what this gives.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal

from schemas.events import PaymentLine
from schemas.policy import Policy
from schemas.totals import YearTotals

from .loader import once_per_policy
from .payer import qualification_key
from .settle import ClaimOfYear, Settled, settle
from .year_end import close_year


@dataclass(frozen=True)
class YearEnd:
    """What the close of one region's year pays one person."""

    region: str
    policy: Policy
    lines: tuple[PaymentLine, ...]


@dataclass(frozen=True)
class SettledYear:
    claims: list[Settled]  # in the order given
    year_end: list[YearEnd]  # one per closed region with something to say (lines may be zero)
    totals: YearTotals  # after every claim and the close


def settle_year(claims: Sequence[ClaimOfYear], closed_regions: Collection[str] = ()) -> SettledYear:
    """Each claim of one person's year (in settlement order) as the rules give it for the whole
    year, then the year-end close of each closed region."""
    qualified: frozenset[str] = frozenset()
    while True:
        settled, totals = _in_order(claims, qualified)
        reached = qualified | _qualifying_lines_reached(claims, totals)
        if reached == qualified:
            break
        qualified = reached
    closes = []
    for region in sorted(set(closed_regions)):
        pairs = [(c, s) for c, s in zip(claims, settled) if c.policy.region == region]
        if not pairs:
            continue
        lines, totals = close_year([c for c, _ in pairs], [s for _, s in pairs], totals)
        closes.append(YearEnd(region, pairs[-1][0].policy, tuple(lines)))
    return SettledYear(settled, closes, totals)


def _in_order(claims: Sequence[ClaimOfYear], qualified: Collection[str]) -> tuple[list[Settled], YearTotals]:
    totals: YearTotals = {}
    settled = []
    for item in claims:
        result = settle(item.claim, item.held, totals, item.policy, qualified)
        totals = result.totals
        settled.append(result)
    return settled, totals


def _qualifying_lines_reached(claims: Sequence[ClaimOfYear], totals: YearTotals) -> frozenset[str]:
    """The qualifying tiers whose account's yearly base reached their line by the end of the year."""
    reached = set()
    for policy in {
        id(c.policy): c.policy for c in claims
    }.values():  # each once (a policy's ref is a new string each time)
        for account, line, key in _qualifying_lines(policy):
            if account in totals and totals[account].base >= line:
                reached.add(key)
    return frozenset(reached)


@once_per_policy
def _qualifying_lines(policy: Policy) -> list[tuple[str, Decimal, str]]:
    """Each qualifying tier of the policy: its account, its line and its name (qualification_key)."""
    return [
        (payer.account_of(rule), tier.qualifies_at, qualification_key(payer.account_of(rule), tier))
        for payer in policy.payers
        for rule in payer.rules
        for tier in rule.tiers
        if tier.qualifies_at is not None
    ]
