"""Enrollment (参保登记): every change from the medical-insurance bureau recorded once, a person's
periods of insurance folded again from all their changes by policies/enrollment.py, as known at any
moment. A change of a person whose order holds a roll (or who has claims) takes its place in their
queue; one that may make them subsidised for a rolled year they lack gets that roll first
(store/postgres/rolls.py)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from policies.enrollment import Enrolled, enrollment_from
from schemas.codes import InsuType
from schemas.events import CategoryHeld, EnrollmentChange

from ..records import Arrival, InputReceipt
from .archive import archive, set_outcome
from .connection import Persons, persons_locked
from .rolls import rolls_owed

_INSERT_EVENT = """
INSERT INTO enrollment_events
    (psn_no, event_id, insutype, insuplc_admdvs, valid_from, valid_to, recorded_at, event, input_seq)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)"""

_QUEUE = """
INSERT INTO person_queue (psn_no, seq, sub, kind, ref, ready) VALUES ($1, $2, 0, 'enrollment', $3, true)
ON CONFLICT DO NOTHING"""

_HAS_CLAIMS = "SELECT EXISTS (SELECT 1 FROM claims_received WHERE psn_no = $1)"

_PERIODS = """
INSERT INTO enrollment_periods (psn_no, valid_from, valid_to, insutype, insuplc_admdvs, event_id)
SELECT * FROM unnest($1::text[], $2::date[], $3::date[], $4::text[], $5::text[], $6::text[])"""


async def changes_of(
    conn: asyncpg.Connection, psn_no: str, received_by: datetime | None = None
) -> list[EnrollmentChange]:
    """A person's enrollment changes as received (by ``received_by``, when given)."""
    rows = await conn.fetch(
        "SELECT event FROM enrollment_events WHERE psn_no = $1 AND ($2::timestamptz IS NULL OR received_at <= $2)",
        psn_no,
        received_by,
    )
    return [EnrollmentChange.model_validate(row["event"]) for row in rows]


async def periods_of(conn: asyncpg.Connection, psn_no: str) -> list[CategoryHeld]:
    """A person's periods of their categories, as folded."""
    rows = await conn.fetch(
        "SELECT category, valid_from, valid_to, authority, event_id FROM identity_periods WHERE psn_no = $1", psn_no
    )
    return [
        CategoryHeld(
            code=r["category"],
            valid_from=r["valid_from"],
            valid_to=r["valid_to"],
            authority=r["authority"],
            event_id=r["event_id"],
        )
        for r in rows
    ]


async def enrolled_of(conn: asyncpg.Connection, psn_no: str) -> list[Enrolled]:
    """A person's periods of insurance, as folded (enrollment_periods)."""
    rows = await conn.fetch(
        "SELECT valid_from, valid_to, insutype, insuplc_admdvs, event_id FROM enrollment_periods "
        "WHERE psn_no = $1 ORDER BY valid_from",
        psn_no,
    )
    return [
        Enrolled(r["valid_from"], r["valid_to"], InsuType(r["insutype"]), r["insuplc_admdvs"], r["event_id"])
        for r in rows
    ]


class Enrollment:
    _pool: asyncpg.Pool
    life: int

    async def record_enrollments(self, arrivals: list[Arrival[EnrollmentChange]]) -> list[InputReceipt]:
        """Archive and record enrollment changes; a repeated ``event_id`` of a person changes nothing.
        A person's periods are folded again from all their changes (the order of arrival never changes
        them); a change of a person whose order holds a roll, or who has claims, is queued, and the
        ledger, woken, applies it in order (a premium record it makes due)."""
        if not arrivals:
            return []
        persons = (a.event.psn_no for a in arrivals)
        async with persons_locked(self._pool, persons, behind_region_wide=True) as locked:
            receipts, touched = [], set()
            for arrival in arrivals:
                receipt = await _record(locked, self.life, arrival)
                if receipt.status == "applied":
                    touched.add(arrival.event.psn_no)
                receipts.append(receipt)
            for psn_no in sorted(touched):
                await _fold(locked.conn, psn_no)
        return receipts

    async def enrollment_history(
        self, psn_no: str, known_at: datetime | None = None
    ) -> tuple[list[Enrolled], list[EnrollmentChange]]:
        """A person's periods of insurance (from the changes received by ``known_at``, when given) and
        the changes as received, in the order applied."""
        async with self._pool.acquire() as conn:
            changes = await changes_of(conn, psn_no, known_at)
        return enrollment_from(changes), sorted(changes, key=lambda c: (c.recorded_at, c.event_id))


async def _record(locked: Persons, life: int, arrival: Arrival[EnrollmentChange]) -> InputReceipt:
    change, conn = arrival.event, locked.conn
    known = await conn.fetchval(
        "SELECT input_seq FROM enrollment_events WHERE psn_no = $1 AND event_id = $2", change.psn_no, change.event_id
    )
    if known is not None:
        seq, new_position = await archive(locked, life, arrival, "enrollment", change.psn_no)
        if new_position:
            await set_outcome(locked, change.psn_no, seq, "repeat", f"event {change.event_id} was received before")
        return InputReceipt("repeat", known)
    enrolled = enrollment_from([*await changes_of(conn, change.psn_no), change])
    has_rolls = await rolls_owed(locked, life, change.psn_no, await periods_of(conn, change.psn_no), enrolled)
    seq, _ = await archive(locked, life, arrival, "enrollment", change.psn_no)
    await conn.execute(
        _INSERT_EVENT,
        change.psn_no,
        change.event_id,
        change.insutype.value,
        change.insuplc_admdvs,
        change.valid_from,
        change.valid_to,
        change.recorded_at,
        change.model_dump(mode="json", by_alias=True),
        seq,
    )
    if has_rolls or await conn.fetchval(_HAS_CLAIMS, change.psn_no):
        await conn.execute(_QUEUE, change.psn_no, seq, change.event_id)
        return InputReceipt("applied", seq, persons=(change.psn_no,))
    return InputReceipt("applied", seq)


async def _fold(conn: asyncpg.Connection, psn_no: str) -> None:
    """Replace a person's periods of insurance by those of all their changes."""
    periods = enrollment_from(await changes_of(conn, psn_no))
    await conn.execute("DELETE FROM enrollment_periods WHERE psn_no = $1", psn_no)
    if periods:
        await conn.execute(
            _PERIODS,
            [psn_no] * len(periods),
            [p.start for p in periods],
            [p.end for p in periods],
            [p.insutype.value for p in periods],
            [p.insuplc_admdvs for p in periods],
            [p.event_id for p in periods],
        )
