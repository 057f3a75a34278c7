"""Every topic of onestop (CONTRACTS.md). Every topic is keyed by the person (psn_no)."""
from __future__ import annotations

from schemas.codes import Payer

DISCHARGED = "claims.discharged"
REJECTED = "claims.rejected"
LEDGER = "claims.ledger"  # after the last payer of a claim's route: the ledger step
SETTLEMENTS = "settlements.completed"
ELIGIBILITY = "eligibility.changes"
ELIGIBILITY_REJECTED = "eligibility.rejected"
ALERTS = "alerts.high_cost"
RESETTLE = "claims.resettle"  # grants that reach back in time: the person's claims to settle again

DAY_MS = 24 * 3600 * 1000
#: Topic configs, set at creation (this broker refuses AlterConfigs). Records of money that
#: finance and auditors replay are kept for ten years; the hops between payers for a week.
RETENTION_MS = {
    DISCHARGED: 3650 * DAY_MS,
    SETTLEMENTS: 3650 * DAY_MS,
    REJECTED: 365 * DAY_MS,
    ELIGIBILITY: 3650 * DAY_MS,
    ELIGIBILITY_REJECTED: 365 * DAY_MS,
    ALERTS: 365 * DAY_MS,
}
HOP_RETENTION_MS = 7 * DAY_MS


def pay_topic(payer: Payer | str) -> str:
    """The topic a payer's worker reads: `claims.pay.<payer>`."""
    return f"claims.pay.{Payer(payer).value}"


def all_topics() -> dict[str, dict[str, str]]:
    """Every topic with its config, for creation."""
    names = [DISCHARGED, REJECTED, LEDGER, SETTLEMENTS, ELIGIBILITY, ELIGIBILITY_REJECTED, ALERTS, RESETTLE]
    names += [pay_topic(p) for p in Payer]
    return {name: {"retention.ms": str(RETENTION_MS.get(name, HOP_RETENTION_MS))} for name in names}
