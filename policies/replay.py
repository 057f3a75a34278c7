"""A person's claims settled one after another, each year as it is known once all its claims are in."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.cases import Case
from schemas.events import CategoryHeld, DischargeClaim
from schemas.money import format_yuan

from .identity import counting
from .loader import NoPolicy, policy_for
from .settle import ClaimOfYear, Settled
from .year import settle_year


def settle_in_order(claims: Sequence[DischargeClaim], categories: Sequence[CategoryHeld]) -> list[Settled]:
    """Each claim, in the order given, as the rules give it for its year as known once all are in:
    the identity that counts for its dates, the year's totals of the claims before it."""
    years: dict[int, list[int]] = {}
    entries = []
    for index, claim in enumerate(claims):
        try:
            policy = policy_for(claim.insuplc_admdvs, claim.enddate)
        except NoPolicy as error:
            raise NoPolicy(f"claim {claim.claim_id}: {error}") from None
        entries.append(ClaimOfYear(claim, frozenset(c.code for c in counting(categories, claim, policy)), policy))
        years.setdefault(claim.year, []).append(index)
    settled: list[Settled | None] = [None] * len(claims)
    for indexes in years.values():
        for index, result in zip(indexes, settle_year([entries[i] for i in indexes]).claims):
            settled[index] = result
    return settled  # type: ignore[return-value]  # (every index is set above)


def settle_case(case: Case) -> list[Settled]:
    """A worked case's claims, settled in arrival order (its ``expect`` is ignored)."""
    categories = [
        CategoryHeld(code=c.code, valid_from=c.valid_from, valid_to=c.valid_to) for c in case.person.categories
    ]
    return settle_in_order(case.claims, categories)


def as_expected(settled: Settled) -> dict[str, str | dict[str, str]]:
    """A settlement in the shape of a case's ``expect`` entries (payers that pay nothing left out)."""
    return {
        "claim_id": settled.claim.claim_id,
        "payments": {line.payer.value: format_yuan(line.amount) for line in settled.payments},
        "personal": format_yuan(settled.psn_part_amt),
    }
