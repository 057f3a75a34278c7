"""Eligibility in memory (store/postgres/identity.py): every change recorded once per person,
authority and event_id, the periods recomputed from all events of a (person, category) by the pure
fold of policies/periods.py; and the look-ups of identities."""

from __future__ import annotations

from datetime import date, datetime

from policies.periods import periods_from
from schemas.events import CategoryHeld, EligibilityChange

from ..columns import dumps
from ..records import Arrival, InputReceipt
from .archive import archive, set_outcome
from .rolls import enrolled_of, held_of, rolls_owed
from .rows import Change, Period, loads, utc
from .tables import Memory


class Identity:
    _m: Memory
    life: int

    async def identities(self, wanted: list[tuple[str, date, date]]) -> list[list[CategoryHeld]]:
        """Per ``(psn_no, begin, end)``: the categories in force on at least one day of [begin, end], by
        code and start."""
        if not wanted:
            return []
        async with self._m.transaction() as m:
            return [
                [
                    p.held()
                    for _, p in sorted(m.t.periods.get(psn_no, {}).items())
                    if p.valid_from <= last and (p.valid_to is None or p.valid_to >= first)
                ]
                for psn_no, first, last in wanted
            ]

    async def record_changes(self, arrivals: list[Arrival[EligibilityChange]]) -> list[InputReceipt]:
        """Archive and record eligibility changes (a person's authority's repeated ``event_id`` changes
        nothing), fold the touched (person, category) periods again from all their events, and queue
        the change for persons with claims (the ledger settles their years again once woken)."""
        if not arrivals:
            return []
        async with self._m.transaction() as m:
            receipts, touched = [], set()
            for arrival in arrivals:
                receipt = _record_change(m, self.life, arrival)
                if receipt.status == "applied":
                    touched.add((arrival.event.psn_no, arrival.event.category.value))
                receipts.append(receipt)
            if touched:
                _recompute_periods(m, sorted(touched))
        return receipts

    async def identity_history(self, psn_no: str) -> tuple[list[CategoryHeld], list[EligibilityChange]]:
        """A person's current periods (by code, start), and the events as received, in the order applied."""
        async with self._m.transaction() as m:
            held = [period.held() for _, period in sorted(m.t.periods.get(psn_no, {}).items())]
            events = sorted(changes_of(m, psn_no), key=lambda c: (c.recorded_at, c.event_id))
            return held, [EligibilityChange.model_validate(loads(c.event)) for c in events]

    async def identity_as_known(self, psn_no: str, known_at: datetime) -> list[CategoryHeld]:
        """A person's periods from only the events received by ``known_at``."""
        async with self._m.transaction() as m:
            by_category: dict[str, list[dict]] = {}
            for change in changes_of(m, psn_no):
                if change.received_at <= utc(known_at):
                    by_category.setdefault(change.category, []).append(change.folded())
        held = [
            CategoryHeld(code=category, valid_from=p.start, valid_to=p.end, authority=p.authority, event_id=p.event_id)
            for category, events in by_category.items()
            for p in periods_from(events)
        ]
        return sorted(held, key=lambda h: (h.code.value, h.valid_from))

    async def holders(self, authority: str, categories: list[str], on: date) -> list[tuple[str, str]]:
        """(psn_no, category) of everyone holding one of ``categories`` from ``authority`` on ``on``."""
        wanted = {getattr(c, "value", c) for c in categories}
        authority = getattr(authority, "value", authority)
        async with self._m.transaction() as m:
            found = {
                (psn_no, p.category)
                for psn_no, periods in m.t.periods.items()
                for p in periods.values()
                if p.authority == authority
                and p.category in wanted
                and p.valid_from <= on
                and (p.valid_to is None or p.valid_to >= on)
            }
        return sorted(found)


def changes_of(m: Memory, psn_no: str) -> list[Change]:
    """A person's eligibility events, in the order recorded."""
    return [m.t.changes[key] for key in m.t.person_changes.get(psn_no, {})]


def _record_change(m: Memory, life: int, arrival: Arrival[EligibilityChange]) -> InputReceipt:
    change = arrival.event
    has_rolls = _rolls_first(m, life, change)
    seq, new_position = archive(m, life, arrival, "eligibility", change.psn_no)
    key = (change.psn_no, change.authority.value, change.event_id)
    known = m.t.changes.get(key)
    if known is not None:
        if new_position and known.input_seq != seq:
            set_outcome(m, change.psn_no, seq, "repeat", f"event {change.event_id} was received before")
        return InputReceipt("repeat", known.input_seq)
    m.set(
        m.t.changes,
        key,
        Change(
            change.psn_no,
            change.authority.value,
            change.event_id,
            change.category.value,
            change.action,
            change.valid_from,
            change.valid_to,
            utc(change.recorded_at),
            dumps(change.model_dump(mode="json", by_alias=True)),
            m.now,
            seq,
        ),
    )
    m.index(m.t.person_changes, change.psn_no, key)
    queued = (has_rolls or bool(m.t.person_claims.get(change.psn_no))) and m.queue(
        change.psn_no, seq, 0, "eligibility", change.event_id, True, if_new=True
    )
    return InputReceipt("applied", seq, persons=(change.psn_no,) if queued else ())


def _rolls_first(m: Memory, life: int, change: EligibilityChange) -> bool:
    """A new grant that may make its person subsidised for a rolled year they lack gets the roll put
    before it in their order (rolls.py); True when the person has taken any roll."""
    known = (change.psn_no, change.authority.value, change.event_id) in m.t.changes
    if known or change.action != "grant":
        return bool(m.t.persons_rolls.get(change.psn_no))
    granted = CategoryHeld(code=change.category, valid_from=change.valid_from, valid_to=change.valid_to)
    return rolls_owed(m, life, change.psn_no, [*held_of(m, change.psn_no), granted], enrolled_of(m, change.psn_no))


def _recompute_periods(m: Memory, touched: list[tuple[str, str]]) -> None:
    """Replace the periods of the touched (person, category) pairs by those of all their events."""
    for psn_no, category in touched:
        events = [c.folded() for c in changes_of(m, psn_no) if c.category == category]
        periods = m.bucket(m.t.periods, psn_no)
        for key in [key for key in periods if key[0] == category]:
            m.pop(periods, key)
        for p in periods_from(events):
            m.set(periods, (category, p.start), Period(category, p.start, p.end, p.authority, p.event_id))
