"""Every topic of onestop (CONTRACTS.md). Every topic is keyed by the person (psn_no)."""
from __future__ import annotations

from schemas.codes import Payer

DISCHARGED = "claims.discharged"
REJECTED = "claims.rejected"
LEDGER = "claims.ledger"  # after the last payer of a claim's route, and wake-ups: the ledger step
SETTLEMENTS = "settlements.completed"
ELIGIBILITY = "eligibility.changes"
ELIGIBILITY_REJECTED = "eligibility.rejected"
ALERTS = "alerts.high_cost"
CANCELLED = "claims.cancelled"  # hospitals' cancellations of settlements
YEAR_END = "year_end.closes"  # year-end closes of a region's year (a deployment may schedule them)
SETTLEMENTS_NHSA = "settlements.nhsa"  # every record in the national platform's shape (ONESTOP_NHSA_TOPIC=1)
PRESETTLE = "claims.presettle"  # pre-settlement requests (预结算, like the platform's 2206): recorded nowhere
PRESETTLE_REPLIES = "claims.presettle.replies"  # their answers, keyed by the person

DAY_MS = 24 * 3600 * 1000
#: Topic configs, set at creation (this broker refuses AlterConfigs). Records of money that
#: finance and auditors replay are kept for ten years; the hops between payers for a week.
RETENTION_MS = {
    DISCHARGED: 3650 * DAY_MS,
    CANCELLED: 3650 * DAY_MS,
    YEAR_END: 3650 * DAY_MS,
    SETTLEMENTS: 3650 * DAY_MS,
    SETTLEMENTS_NHSA: 3650 * DAY_MS,
    PRESETTLE: 1 * DAY_MS,
    PRESETTLE_REPLIES: 1 * DAY_MS,
    REJECTED: 365 * DAY_MS,
    ELIGIBILITY: 3650 * DAY_MS,
    ELIGIBILITY_REJECTED: 365 * DAY_MS,
    ALERTS: 365 * DAY_MS,
}
HOP_RETENTION_MS = 7 * DAY_MS


def pay_topic(payer: Payer | str) -> str:
    """The topic a payer's worker reads: `claims.pay.<payer>`."""
    return f"claims.pay.{Payer(payer).value}"


#: every payer's topic, in chain order
PAY_TOPICS = tuple(pay_topic(p) for p in Payer)


def all_topics() -> dict[str, dict[str, str]]:
    """Every topic with its config, for creation."""
    names = [DISCHARGED, CANCELLED, REJECTED, LEDGER, SETTLEMENTS, ELIGIBILITY, ELIGIBILITY_REJECTED, ALERTS, YEAR_END]
    names += [SETTLEMENTS_NHSA, PRESETTLE, PRESETTLE_REPLIES]
    names += [pay_topic(p) for p in Payer]
    return {name: {"retention.ms": str(RETENTION_MS.get(name, HOP_RETENTION_MS))} for name in names}
