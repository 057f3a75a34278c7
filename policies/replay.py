"""A person's claims settled one after another, as the live system does: totals carried per year."""
from __future__ import annotations

from collections.abc import Sequence

from schemas.cases import Case
from schemas.events import CategoryHeld, DischargeClaim
from schemas.money import format_yuan
from schemas.totals import YearTotals

from .identity import counting
from .loader import NoPolicy, policy_for
from .settle import Settled, settle


def settle_in_order(claims: Sequence[DischargeClaim], categories: Sequence[CategoryHeld]) -> list[Settled]:
    """Settle each claim with the identity in force on its dates and the year's totals so far."""
    by_year: dict[int, YearTotals] = {}
    settled = []
    for claim in claims:
        try:
            policy = policy_for(claim.insuplc_admdvs, claim.enddate)
        except NoPolicy as error:
            raise NoPolicy(f"claim {claim.claim_id}: {error}") from None
        held = {c.code for c in counting(categories, claim, policy)}
        result = settle(claim, held, by_year.get(claim.year, {}), policy)
        by_year[claim.year] = result.totals
        settled.append(result)
    return settled


def settle_case(case: Case) -> list[Settled]:
    """A worked case's claims, settled in arrival order (its ``expect`` is ignored)."""
    categories = [CategoryHeld(code=c.code, valid_from=c.valid_from, valid_to=c.valid_to) for c in case.person.categories]
    return settle_in_order(case.claims, categories)


def as_expected(settled: Settled) -> dict:
    """A settlement in the shape of a case's ``expect`` entries (payers that pay nothing left out)."""
    return {
        "claim_id": settled.claim.claim_id,
        "payments": {line.payer.value: format_yuan(line.amount) for line in settled.payments},
        "personal": format_yuan(settled.psn_part_amt),
    }
