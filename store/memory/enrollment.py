"""Enrollment in memory (store/postgres/enrollment.py): every change from the medical-insurance bureau
recorded once per person and event_id, a person's periods of insurance folded again from all their
changes by policies/enrollment.py. A change of a person whose order holds a roll (or who has claims)
takes its place in their queue; one that may make them subsidised for a rolled year they lack gets
that roll first (rolls.py)."""

from __future__ import annotations

from datetime import datetime

from policies.enrollment import Enrolled, enrollment_from
from schemas.events import EnrollmentChange

from ..columns import dumps
from ..records import Arrival, InputReceipt
from .archive import archive, set_outcome
from .rolls import held_of, rolls_owed
from .rows import Enrolment, loads, utc
from .tables import Memory


def enrolments_of(m: Memory, psn_no: str) -> list[Enrolment]:
    """A person's enrollment changes, in the order recorded."""
    return [m.t.enrolments[key] for key in m.t.person_enrolments.get(psn_no, {})]


def changes_of(m: Memory, psn_no: str) -> list[EnrollmentChange]:
    return [EnrollmentChange.model_validate(loads(row.event)) for row in enrolments_of(m, psn_no)]


class Enrollment:
    _m: Memory
    life: int

    async def record_enrollments(self, arrivals: list[Arrival[EnrollmentChange]]) -> list[InputReceipt]:
        """Archive and record enrollment changes (a person's repeated ``event_id`` changes nothing), fold
        the touched persons' periods of insurance again from all their changes, and queue a change of a
        person whose order holds a roll or who has claims."""
        if not arrivals:
            return []
        async with self._m.transaction() as m:
            receipts, touched = [], set()
            for arrival in arrivals:
                receipt = _record(m, self.life, arrival)
                if receipt.status == "applied":
                    touched.add(arrival.event.psn_no)
                receipts.append(receipt)
            for psn_no in sorted(touched):
                _fold(m, psn_no)
        return receipts

    async def enrollment_history(
        self, psn_no: str, known_at: datetime | None = None
    ) -> tuple[list[Enrolled], list[EnrollmentChange]]:
        """A person's periods of insurance (from the changes received by ``known_at``, when given) and
        the changes as received, in the order applied."""
        async with self._m.transaction() as m:
            changes = [
                EnrollmentChange.model_validate(loads(row.event))
                for row in enrolments_of(m, psn_no)
                if known_at is None or row.received_at <= utc(known_at)
            ]
        return enrollment_from(changes), sorted(changes, key=lambda c: (c.recorded_at, c.event_id))


def _record(m: Memory, life: int, arrival: Arrival[EnrollmentChange]) -> InputReceipt:
    change = arrival.event
    known = m.t.enrolments.get((change.psn_no, change.event_id))
    if known is not None:
        seq, new_position = archive(m, life, arrival, "enrollment", change.psn_no)
        if new_position:
            set_outcome(m, change.psn_no, seq, "repeat", f"event {change.event_id} was received before")
        return InputReceipt("repeat", known.input_seq)
    enrolled = enrollment_from([*changes_of(m, change.psn_no), change])
    has_rolls = rolls_owed(m, life, change.psn_no, held_of(m, change.psn_no), enrolled)
    seq, _ = archive(m, life, arrival, "enrollment", change.psn_no)
    m.set(
        m.t.enrolments,
        (change.psn_no, change.event_id),
        Enrolment(
            change.psn_no,
            change.event_id,
            change.insutype.value,
            change.insuplc_admdvs,
            change.valid_from,
            change.valid_to,
            utc(change.recorded_at),
            dumps(change.model_dump(mode="json", by_alias=True)),
            seq,
            m.now,
        ),
    )
    m.index(m.t.person_enrolments, change.psn_no, (change.psn_no, change.event_id))
    if has_rolls or m.t.person_claims.get(change.psn_no):
        m.queue(change.psn_no, seq, 0, "enrollment", change.event_id, True, if_new=True)
        return InputReceipt("applied", seq, persons=(change.psn_no,))
    return InputReceipt("applied", seq)


def _fold(m: Memory, psn_no: str) -> None:
    """Replace a person's periods of insurance by those of all their changes."""
    periods = m.bucket(m.t.enrolled, psn_no)
    for start in list(periods):
        m.pop(periods, start)
    for period in enrollment_from(changes_of(m, psn_no)):
        m.set(periods, period.start, period)
