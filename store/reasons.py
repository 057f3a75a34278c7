"""The words a refused claim (or a drop without a reason, or a roll sent again) is refused in,
whichever backend refuses it (the same reason for the same input, so that a sender reads one answer
whatever keeps the records)."""

from __future__ import annotations

from datetime import datetime

from schemas.events import DischargeClaim

from .columns import without_nul


def claim_named(claim: DischargeClaim) -> str:
    """A claim as a reason names it: its id, and its hospital when it names one."""
    if claim.fixmedins_code:
        return f"claim {claim.claim_id} of hospital {claim.fixmedins_code}"
    return f"claim {claim.claim_id}"


def another_persons(claim: DischargeClaim) -> str:
    """Why a claim id its hospital sent for one person is refused for another (never paid twice)."""
    return f"{claim_named(claim)} belongs to another person; " + (
        "a corrected bill keeps its psn_no" if claim.revision else "a claim id names one stay of one person"
    )


def not_received_to_correct(claim: DischargeClaim) -> str:
    """Why a corrected bill of a claim its hospital never sent is refused (whoever else sent that claim_id)."""
    return (
        f"{claim_named(claim)} was never received: revision {claim.revision} is a corrected bill, and a corrected "
        "bill corrects only its own hospital's claim; send the bill as revision 0"
    )


def required_for_a_drop(what: str, text: str) -> str:
    """A drop's reason or operator, as given; ValueError when blank: a drop is never silent."""
    if not text or not text.strip():
        raise ValueError(
            f"{what} is required to drop a parked message: the drop is kept, for the audit, with who and why"
        )
    return without_nul(text)


def rolled_before(region: str, year: int, event_id: str, recorded_at: datetime) -> str:
    """Why a premium roll of a region's year rolled before changes nothing."""
    return f"{region} {year} was rolled by {event_id} on {recorded_at:%Y-%m-%d}; rolling again changes nothing"
