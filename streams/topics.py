"""Every topic of onestop (CONTRACTS.md). Every topic is keyed by the person (psn_no).

A hospital reads only its own topics: ``<prefix><fixmedins_code>`` for the prefixes below (its
pre-settlement answers, its records in the platform's shape). They are made the first time a
worker writes one (workers/harness.py); a worker declares the prefix among its ``sinks``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from schemas.codes import CLAIM_PAYERS, Payer

DISCHARGED = "claims.discharged"
REJECTED = "claims.rejected"
LEDGER = "claims.ledger"  # after the last payer of a claim's route, and wake-ups: the ledger step
SETTLEMENTS = "settlements.completed"
ELIGIBILITY = "eligibility.changes"
ELIGIBILITY_REJECTED = "eligibility.rejected"
ALERTS = "alerts.high_cost"
CANCELLED = "claims.cancelled"  # hospitals' cancellations of settlements
YEAR_END = "year_end.closes"  # year-end closes of a region's year (a deployment may schedule them)
ENROLLMENT = "enrollment.changes"  # who is insured where (参保登记), from the medical-insurance bureau
PREMIUM_ROLLS = "premiums.rolls"  # a region's year of premium subsidies (参保资助) rolled
SETTLEMENTS_NHSA = (
    "settlements.nhsa"  # records naming no hospital in the national platform's shape (ONESTOP_NHSA_TOPIC=1)
)
PRESETTLE = "claims.presettle"  # pre-settlement requests (预结算, like the platform's 2206): recorded nowhere
PRESETTLE_REPLIES = "claims.presettle.replies"  # answers to unsigned development requests naming no hospital

#: a hospital's own topics, ``<prefix><fixmedins_code>``: its records in the platform's shape, its answers
SETTLEMENTS_NHSA_OF = SETTLEMENTS_NHSA + "."
PRESETTLE_REPLIES_OF = PRESETTLE_REPLIES + "."
#: a fixmedins_code that names a hospital's topics, Kafka principal (``hospital-<code>``) and consumer
#: groups (``hospital-<code>.…``): no '.', so that no hospital's name is the beginning of another's
#: under the prefixes (Kafka topic names allow letters, digits, '.', '_' and '-')
HOSPITAL_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")

DAY_MS = 24 * 3600 * 1000
#: Topic configs, set at creation (this broker refuses AlterConfigs). Records of money that
#: finance and auditors replay are kept for ten years; the hops between payers for a week.
RETENTION_MS = {
    DISCHARGED: 3650 * DAY_MS,
    CANCELLED: 3650 * DAY_MS,
    YEAR_END: 3650 * DAY_MS,
    ENROLLMENT: 3650 * DAY_MS,
    PREMIUM_ROLLS: 3650 * DAY_MS,
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


def hospital_code_problem(code: str) -> str | None:
    """Why ``code`` cannot name a hospital's own topics, or None."""
    if HOSPITAL_CODE.fullmatch(code):
        return None
    return (
        f"hospital {code!r} cannot have topics of its own: a fixmedins_code that names them is 1-64 letters, "
        "digits, '_' or '-'"
    )


def hospital_topic(prefix: str, code: str) -> str:
    """A hospital's own topic under ``prefix`` (one ending in '.'); ValueError when its code cannot name one."""
    problem = hospital_code_problem(code)
    if problem is not None:
        raise ValueError(problem)
    return prefix + code


def nhsa_topic(code: str | None) -> str:
    """Where a record of hospital ``code`` goes in the platform's shape: that hospital's own topic; a
    record naming no hospital (or one whose code cannot name a topic) on settlements.nhsa."""
    if code is None or hospital_code_problem(code) is not None:
        return SETTLEMENTS_NHSA
    return SETTLEMENTS_NHSA_OF + code


def presettle_reply_topic(code: str | None) -> str:
    """Where the answer to a (verified) pre-settlement request of hospital ``code`` goes: its own
    topic; an unsigned development request naming no hospital is answered on claims.presettle.replies."""
    return PRESETTLE_REPLIES if code is None else hospital_topic(PRESETTLE_REPLIES_OF, code)


def sink_covering(topic: str, sinks: Iterable[str]) -> str | None:
    """The declared sink that lets a worker write ``topic``: the topic itself, or a prefix (a sink
    ending in '.') that ``topic`` is one hospital's topic of; None if none does."""
    for sink in sinks:
        if not sink.endswith("."):
            if sink == topic:
                return sink
        elif topic.startswith(sink) and HOSPITAL_CODE.fullmatch(topic[len(sink) :]):
            return sink
    return None


def config_of(topic: str) -> dict[str, str]:
    """A topic's config at creation; a hospital's own topic takes that of the topic it is one of."""
    for base in (SETTLEMENTS_NHSA, PRESETTLE_REPLIES):
        if topic.startswith(base + "."):
            topic = base
    return {"retention.ms": str(RETENTION_MS.get(topic, HOP_RETENTION_MS))}


def pay_topic(payer: Payer | str) -> str:
    """The topic a payer's worker reads: `claims.pay.<payer>`."""
    return f"claims.pay.{Payer(payer).value}"


#: every payer's topic, in chain order
PAY_TOPICS = tuple(pay_topic(p) for p in CLAIM_PAYERS)


def all_topics() -> dict[str, dict[str, str]]:
    """Every topic with its config, for creation."""
    names = [
        DISCHARGED,
        CANCELLED,
        REJECTED,
        LEDGER,
        SETTLEMENTS,
        ELIGIBILITY,
        ELIGIBILITY_REJECTED,
        ALERTS,
        YEAR_END,
        ENROLLMENT,
        PREMIUM_ROLLS,
    ]
    names += [SETTLEMENTS_NHSA, PRESETTLE, PRESETTLE_REPLIES]
    names += [pay_topic(p) for p in CLAIM_PAYERS]
    return {name: config_of(name) for name in names}
