"""A person's claims settled one after another, as the live system does: totals carried per year."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from schemas.events import CategoryHeld, DischargeClaim
from schemas.totals import YearTotals

from .loader import policy_for
from .settle import Settled, settle


def in_force(categories: Iterable[CategoryHeld], claim: DischargeClaim) -> list[CategoryHeld]:
    """The categories held on at least one day of the stay (or the visit's day)."""
    return [c for c in categories if c.in_force_during(claim.begndate, claim.enddate)]


def settle_in_order(claims: Sequence[DischargeClaim], categories: Sequence[CategoryHeld]) -> list[Settled]:
    """Settle each claim with the identity in force on its dates and the year's totals so far."""
    by_year: dict[int, YearTotals] = {}
    settled = []
    for claim in claims:
        held = {c.code for c in in_force(categories, claim)}
        policy = policy_for(claim.insuplc_admdvs, claim.enddate)
        result = settle(claim, held, by_year.get(claim.year, {}), policy)
        by_year[claim.year] = result.totals
        settled.append(result)
    return settled
