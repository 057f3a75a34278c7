"""Worked cases as the events a live system receives: the person's grants, then the claims."""
from __future__ import annotations

from datetime import datetime, time, timezone

from schemas.cases import Case
from schemas.codes import ISSUING_AUTHORITY
from schemas.events import EligibilityChange
from streams.codecs import encode


def grants_of(case: Case) -> list[EligibilityChange]:
    person = case.person
    return [
        EligibilityChange(
            event_id=f"{case.name}/{person.psn_no}/{held.code.value}/{held.valid_from}",
            psn_no=person.psn_no, category=held.code, action="grant", valid_from=held.valid_from,
            valid_to=held.valid_to, authority=ISSUING_AUTHORITY[held.code],
            recorded_at=datetime.combine(held.valid_from, time(9), tzinfo=timezone.utc),
        )
        for held in person.categories
    ]


def events_of(cases: list[Case]) -> tuple[list[bytes], list[bytes]]:
    """(eligibility events, discharge events) of the cases, as JSON bytes, claims in arrival order."""
    grants = [encode(g) for case in cases for g in grants_of(case)]
    claims = [encode(c) for case in cases for c in case.claims]
    return grants, claims
