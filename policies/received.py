"""What a person's ledger is built from, as received (a claim, a cancellation, an eligibility or
enrollment change, a year-end close, a premium roll, each with its place in the person's order), and
what one claim, close or premium subsidy of one year comes to as known at a point (an ``Entry``):
the parts policies/ledger.py and policies/premium_entries.py share; and where each input takes
effect in the person's order, and what its records name as their cause and reason."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from schemas.codes import Authority, Category
from schemas.events import (
    CategoryHeld,
    ClaimCancellation,
    DischargeClaim,
    EligibilityChange,
    EnrollmentChange,
    PaymentLine,
    PremiumRoll,
    YearEndClose,
)
from schemas.ids import cause
from schemas.policy import Policy

from .periods import periods_from

#: where an input stands in a person's order: (seq, 0), or (seq of the claim, 1) for a
#: cancellation that waited for its claim
Key = tuple[int, int]


@dataclass(frozen=True)
class ClaimReceived:
    seq: int
    claim: DischargeClaim  # one revision of the bill


@dataclass(frozen=True)
class CancellationReceived:
    seq: int
    cancellation: ClaimCancellation


@dataclass(frozen=True)
class ChangeReceived:
    seq: int
    change: EligibilityChange


@dataclass(frozen=True)
class CloseReceived:
    seq: int
    close: YearEndClose


@dataclass(frozen=True)
class EnrollmentReceived:
    seq: int
    enrollment: EnrollmentChange


@dataclass(frozen=True)
class RollReceived:
    seq: int
    roll: PremiumRoll


Input = ClaimReceived | CancellationReceived | ChangeReceived | CloseReceived | EnrollmentReceived | RollReceived


@dataclass(frozen=True)
class Entry:
    """What one claim (or one year-end close) of one year comes to, as known at a point."""

    #: the claim's key (its hospital and id, schemas/ids.py), year-end/<region>/<year>/<psn_no> or premium/…
    entry_id: str
    year: int
    kind: str  # "claim", "year_end" or "premium"
    psn_no: str
    insuplc_admdvs: str
    policy: Policy
    identity: tuple[CategoryHeld, ...]
    lines: tuple[PaymentLine, ...]  # every payer's line, zero lines included; none when cancelled
    medfee_sumamt: Decimal  # the bill (0 when cancelled, and for a close)
    claim: DischargeClaim | None = None
    cancelled_by: str | None = None
    category: Category | None = None  # a premium subsidy's: the category that earned it
    due_date: date | None = None  # a premium subsidy's: when it is due


def identity_at(inputs: Iterable[Input], at: Key) -> list[CategoryHeld]:
    """Every period the person held a category, from the changes received up to ``at``."""
    by_category: dict[Category, list[dict[str, Any]]] = defaultdict(list)
    for item in inputs:
        if isinstance(item, ChangeReceived) and (item.seq, 0) <= at:
            by_category[item.change.category].append(item.change.model_dump())
    held = [
        CategoryHeld(
            code=category, valid_from=p.start, valid_to=p.end, authority=Authority(p.authority), event_id=p.event_id
        )
        for category, events in by_category.items()
        for p in periods_from(events)
    ]
    return sorted(held, key=lambda h: (h.code.value, h.valid_from))


# --- the order of a person's inputs -----------------------------------------------------------


def first_seqs(inputs: Iterable[Input]) -> dict[str, int]:
    """claim key → the seq it was first received at (its place in the settlement order)."""
    first: dict[str, int] = {}
    for item in inputs:
        if isinstance(item, ClaimReceived):
            first[item.claim.key] = min(first.get(item.claim.key, item.seq), item.seq)
    return first


def key_of(item: Input, first: Mapping[str, int]) -> Key:
    """Where an input takes effect: at its seq, or right after its claim for an early cancellation."""
    if isinstance(item, CancellationReceived):
        claim_seq = first.get(item.cancellation.claim_key)
        if claim_seq is not None and claim_seq > item.seq:
            return (claim_seq, 1)
    return (item.seq, 0)


def cause_of(item: Input) -> str:
    """What an input's records name as their cause: its kind and its key (schemas/ids.py), so that
    two inputs of different kinds or signers with the same id cause different records."""
    if isinstance(item, ClaimReceived):
        claim = item.claim
        return cause("claim", claim.key) + (f"@{claim.revision}" if claim.revision else "")
    if isinstance(item, CancellationReceived):
        return item.cancellation.key
    if isinstance(item, ChangeReceived):
        return cause("eligibility", item.change.authority.value, item.change.event_id)
    if isinstance(item, EnrollmentReceived):
        return cause("enrollment", item.enrollment.event_id)
    if isinstance(item, RollReceived):
        return cause("roll", item.roll.event_id)
    return cause("close", item.close.event_id)


def reason_of(item: Input) -> str:
    """What an input is, in words, for the records it causes."""
    if isinstance(item, ClaimReceived):
        claim = item.claim
        if claim.revision:
            return f"corrected bill: claim {claim.claim_id} revision {claim.revision}"
        return f"claim {claim.claim_id} ({claim.begndate} – {claim.enddate}) settled in the same year"
    if isinstance(item, CancellationReceived):
        cancellation = item.cancellation
        return f"cancellation {cancellation.event_id} of claim {cancellation.claim_id}" + (
            f": {cancellation.reason}" if cancellation.reason else ""
        )
    if isinstance(item, ChangeReceived):
        change = item.change
        period = f"{change.valid_from} – {change.valid_to or 'open'}"
        done = "granted" if change.action == "grant" else "revoked"
        return (
            f"eligibility change {change.event_id}: {change.category.value} {done} {period} by {change.authority.value}"
        )
    if isinstance(item, EnrollmentReceived):
        enrollment = item.enrollment
        return (
            f"enrollment change {enrollment.event_id}: insured {enrollment.insutype.value} at "
            f"{enrollment.insuplc_admdvs} {enrollment.valid_from} – {enrollment.valid_to or 'open'}"
        )
    if isinstance(item, RollReceived):
        return f"premium roll {item.roll.event_id} of {item.roll.region} {item.roll.year}"
    close = item.close
    return f"year-end close {close.event_id} of {close.region} {close.year}"
