"""Premium rolls in memory (store/postgres/rolls.py): once per region and year. A roll takes its place
in the order of each person it may subsidise — insured with resident insurance in the region during
the year, holding a category it subsidises then — archived in the person's order, remembered
(``person_rolls``) and queued; and before a later grant or enrollment change of a person it may then
subsidise (:func:`rolls_owed`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from policies.enrollment import Enrolled
from policies.premiums import may_subsidise
from schemas.events import CategoryHeld, PremiumRoll, Settlement

from ..reasons import rolled_before
from ..records import Arrival, InputReceipt
from .archive import archive, archive_all, set_outcome
from .rows import PersonRoll, Roll, utc
from .tables import Memory


@dataclass(frozen=True)
class Rolled:
    """A roll as it was received (its archive row), to be put in persons' orders."""

    event_id: str
    region: str
    year: int
    arrival: Arrival


def roll_of(m: Memory, region: str, year: int) -> Rolled | None:
    """The roll received of a region's year, with its archive row (its place as received)."""
    row = m.t.rolls.get((region, year))
    if row is None:
        return None
    received = m.t.inputs[("", row.input_seq)]
    arrival: Arrival = Arrival(received.topic, received.partition, received.offset, received.raw, None)
    return Rolled(row.event_id, region, year, arrival)


def take_roll(m: Memory, life: int, roll: Rolled, persons: Iterable[str]) -> list[str]:
    """Put ``roll`` in each of ``persons``' order, at their next place: archived there, remembered and
    queued. The persons, in order."""
    persons = sorted(set(persons))
    if not persons:
        return []
    places = archive_all(m, life, [roll.arrival] * len(persons), "roll", list(persons))
    for psn_no, (seq, _) in zip(persons, places):
        if (psn_no, roll.region, roll.year) in m.t.person_rolls:
            continue  # taken before (ON CONFLICT DO NOTHING): not queued again
        m.set(
            m.t.person_rolls,
            (psn_no, roll.region, roll.year),
            PersonRoll(psn_no, roll.region, roll.year, seq, roll.event_id),
        )
        m.index(m.t.persons_rolls, psn_no, (roll.region, roll.year))
        m.queue(psn_no, seq, 0, "roll", roll.event_id, True)
    return persons


def rolls_owed(
    m: Memory, life: int, psn_no: str, identity: Sequence[CategoryHeld], enrolled: Sequence[Enrolled]
) -> bool:
    """Put before a person's change every rolled year they lack and may be subsidised for with it;
    True when they have taken any roll (their changes then take their place in their queue)."""
    taken = set(m.t.persons_rolls.get(psn_no, {}))
    for region, year in sorted(m.t.rolls):
        if (region, year) not in taken and may_subsidise(region, year, identity, enrolled):
            roll = roll_of(m, region, year)
            assert roll is not None
            take_roll(m, life, roll, [psn_no])
            taken.add((region, year))
    return bool(taken)


def held_of(m: Memory, psn_no: str) -> list[CategoryHeld]:
    """A person's periods of their categories, as folded (``identity_periods``)."""
    return [period.held() for _, period in sorted(m.t.periods.get(psn_no, {}).items())]


def enrolled_of(m: Memory, psn_no: str) -> list[Enrolled]:
    """A person's periods of insurance, as folded (``enrollment_periods``)."""
    return [period for _, period in sorted(m.t.enrolled.get(psn_no, {}).items())]


def _roll_for_everyone(m: Memory, life: int, roll: Rolled) -> list[str]:
    """Put the roll in the order of every person it may subsidise who has not taken it."""
    waiting = {
        psn_no
        for psn_no in m.t.enrolled
        if (psn_no, roll.region, roll.year) not in m.t.person_rolls
        and may_subsidise(roll.region, roll.year, held_of(m, psn_no), enrolled_of(m, psn_no))
    }
    return take_roll(m, life, roll, waiting)


class Rolls:
    _m: Memory
    life: int

    async def receive_roll(self, arrival: Arrival[PremiumRoll]) -> InputReceipt:
        """Record a roll once (rolling again changes nothing, and says when it was rolled) and put it in
        the order of every person it may subsidise; those whose queue holds it are returned, each to be
        woken."""
        roll = arrival.event
        async with self._m.transaction() as m:
            seq, new_position = archive(m, self.life, arrival, "roll", None)
            earlier = m.t.rolls.get((roll.region, roll.year))
            if earlier is None:
                m.set(
                    m.t.rolls,
                    (roll.region, roll.year),
                    Roll(roll.region, roll.year, roll.event_id, seq, utc(roll.recorded_at)),
                )
            elif new_position and earlier.input_seq != seq:
                set_outcome(m, "", seq, "repeat", _repeat(earlier))
            taken = roll_of(m, roll.region, roll.year)
            assert taken is not None
            _roll_for_everyone(m, self.life, taken)
            waiting = sorted(
                {
                    psn_no
                    for psn_no, queue in m.t.queue.items()
                    for item in queue.values()
                    if item.kind == "roll" and item.ref == taken.event_id
                }
            )
        if earlier is None:
            return InputReceipt("applied", seq, persons=tuple(waiting))
        return InputReceipt("repeat", earlier.input_seq, _repeat(earlier), tuple(waiting))

    async def rolls(self) -> list[PremiumRoll]:
        """Every roll received (one per region and year), in the order rolled."""
        async with self._m.transaction() as m:
            rows = sorted(m.t.rolls.values(), key=lambda r: (r.recorded_at, r.event_id))
        return [PremiumRoll(event_id=r.event_id, region=r.region, year=r.year, recorded_at=r.recorded_at) for r in rows]

    async def premium_records(self, region: str, year: int) -> list[Settlement]:
        """The premium records of a region's year (one per subsidised person), by person."""
        prefix = f"premium/{region}/{year}/"
        async with self._m.transaction() as m:
            rows = sorted(
                (r for r in m.t.records.values() if r.kind == "premium" and r.claim_id.startswith(prefix)),
                key=lambda r: (r.psn_no, r.seq),
            )
            return [r.settlement() for r in rows]


def _repeat(earlier: Roll) -> str:
    return rolled_before(earlier.region, earlier.year, earlier.event_id, earlier.recorded_at)
