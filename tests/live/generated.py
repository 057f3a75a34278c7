"""A generated year (bench.generator) on the live system: its people's grants as published events,
and the check that what the ledger owes on each claim is what the pure rules settle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

from bench.generator import Person
from policies.replay import settle_in_order
from schemas.events import DischargeClaim, EligibilityChange, Settlement
from streams.codecs import encode

#: when the generated people's categories are granted: before any claim of the generated years
GRANTED_AT = datetime(2017, 1, 1, tzinfo=timezone.utc)


def grants_of(population: Sequence[Person], prefix: str) -> list[bytes]:
    """Every category of every person as a grant, its event id ``<prefix>.<psn_no>.<category>``."""
    return [
        encode(EligibilityChange.grant_of(p.psn_no, held, f"{prefix}.{p.psn_no}.{held.code.value}", GRANTED_AT))
        for p in population
        for held in p.categories
    ]


def assert_settled_as_the_rules_settle(
    claims: Sequence[DischargeClaim], population: Sequence[Person], settled: Mapping[str, Settlement]
) -> None:
    """Each claim's records summed (what is owed on it now) pay what the pure rules pay, person by
    person in order."""
    for person in population:
        own = [c for c in claims if c.psn_no == person.psn_no]
        for expected in settle_in_order(own, person.categories):
            got = settled[expected.claim.claim_id]
            assert {line.payer: line.amount for line in got.payments if line.amount} == {
                line.payer: line.amount for line in expected.lines if line.amount
            }
            assert got.psn_part_amt == expected.psn_part_amt
