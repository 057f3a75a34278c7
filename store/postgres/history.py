"""A person's inputs as the ledger builds from them, read back from the tables that keep each kind:
claims, cancellations, eligibility and enrollment changes, and the year-end closes and premium
rolls the person took part in, in the person's order."""

from __future__ import annotations

import asyncpg

from policies.received import (
    CancellationReceived,
    ChangeReceived,
    ClaimReceived,
    CloseReceived,
    EnrollmentReceived,
    Input,
    RollReceived,
)
from schemas.events import (
    ClaimCancellation,
    DischargeClaim,
    EligibilityChange,
    EnrollmentChange,
    PremiumRoll,
    YearEndClose,
)


async def history_of(conn: asyncpg.Connection, psn_no: str) -> list[Input]:
    """Every input of a person the ledger is built from (the year-end closes and premium rolls among
    them), in their order."""
    claims = await conn.fetch("SELECT seq, payload FROM claims_received WHERE psn_no = $1", psn_no)
    cancellations = await conn.fetch("SELECT input_seq, event FROM cancellations WHERE psn_no = $1", psn_no)
    changes = await conn.fetch("SELECT input_seq, event FROM identity_events WHERE psn_no = $1", psn_no)
    closes = await conn.fetch(
        "SELECT p.seq AS input_seq, y.event_id, y.region, y.year, y.closed_at FROM person_closes AS p "
        "JOIN year_closes AS y ON y.region = p.region AND y.year = p.year WHERE p.psn_no = $1",
        psn_no,
    )
    inputs: list[Input] = [ClaimReceived(r["seq"], DischargeClaim.model_validate(r["payload"])) for r in claims]
    inputs += [
        CancellationReceived(r["input_seq"], ClaimCancellation.model_validate(r["event"])) for r in cancellations
    ]
    inputs += [ChangeReceived(r["input_seq"], EligibilityChange.model_validate(r["event"])) for r in changes]
    inputs += [
        CloseReceived(
            r["input_seq"],
            YearEndClose(event_id=r["event_id"], region=r["region"], year=r["year"], closed_at=r["closed_at"]),
        )
        for r in closes
    ]
    enrollments = await conn.fetch("SELECT input_seq, event FROM enrollment_events WHERE psn_no = $1", psn_no)
    rolls = await conn.fetch(
        "SELECT p.seq AS input_seq, r.event_id, r.region, r.year, r.recorded_at FROM person_rolls AS p "
        "JOIN premium_rolls AS r ON r.region = p.region AND r.year = p.year WHERE p.psn_no = $1",
        psn_no,
    )
    inputs += [EnrollmentReceived(r["input_seq"], EnrollmentChange.model_validate(r["event"])) for r in enrollments]
    inputs += [
        RollReceived(
            r["input_seq"],
            PremiumRoll(event_id=r["event_id"], region=r["region"], year=r["year"], recorded_at=r["recorded_at"]),
        )
        for r in rolls
    ]
    return sorted(inputs, key=lambda i: i.seq)
