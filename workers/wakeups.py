"""Waking the ledger: the workers that queue an input in a person's order (a corrected bill, a
cancellation, an eligibility change, a year-end close) tell the ledger — the one writer of money —
that the person's queue holds something to apply. A wake-up carries no authority: the ledger only
applies what the person's queue holds (and finds, on its own, a queue whose wake-up was lost)."""

from __future__ import annotations

from collections.abc import Iterable

from schemas.events import WakeUp
from streams.codecs import encode
from streams.topics import LEDGER

from .harness import Outgoing


def wake(persons: Iterable[str], cause: str) -> list[Outgoing]:
    """One wake-up per person, on the ledger's topic, keyed by the person (so it follows their claims)."""
    return [
        Outgoing(LEDGER, psn_no.encode(), encode(WakeUp(psn_no=psn_no, cause=cause))) for psn_no in sorted(set(persons))
    ]
