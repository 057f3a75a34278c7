"""Early warning (预警): a stay whose personal in-scope share, after the listed funds, crosses a line."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from schemas.codes import Category
from schemas.events import DischargeClaim, HighCostAlert, PaymentLine
from schemas.money import ZERO
from schemas.policy import Policy

from .conditions import holding, open_to


def alerts_for(
    claim: DischargeClaim, lines: Sequence[PaymentLine], held: Collection[Category], policy: Policy
) -> list[HighCostAlert]:
    """The first alert rule open to the person's categories decides; at most one alert per claim."""
    for rule in policy.alerts:
        if not open_to(rule.categories, held):
            continue
        if claim.med_type not in rule.med_types:
            return []
        paid = sum((line.amount for line in lines if line.payer in rule.measured_after), start=ZERO)
        share = max(ZERO, claim.inscp_scp_amt - paid)
        if share <= rule.threshold:
            return []
        return [
            HighCostAlert(
                claim_id=claim.claim_id,
                psn_no=claim.psn_no,
                psn_part_amt=share,
                threshold=rule.threshold,
                measured_after=list(rule.measured_after),
                rule=f"{policy.ref}#alert.{rule.name}",
                categories=holding(rule.categories, held) if rule.categories else sorted(held),
            )
        ]
    return []
