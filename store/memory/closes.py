"""Year-end closes in memory (store/postgres/closes.py): once per region and year. A close takes its
place in the order of each person it settles — each person with claims of that region's year when
it is received, and any person whose first claim of that year comes after it (intake puts the close
before that claim): archived in the person's order, remembered (``person_closes``) and queued."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from schemas.events import YearEndClose

from ..records import Arrival, InputReceipt
from .archive import archive, archive_all, set_outcome
from .rows import PersonClose, YearClose, utc
from .tables import Memory


@dataclass(frozen=True)
class Close:
    """A close as it was received (its archive row), to be put in persons' orders."""

    event_id: str
    region: str
    year: int
    arrival: Arrival


def close_of(m: Memory, region: str, year: int) -> Close | None:
    """The close received of a region's year, with its archive row (its place as received)."""
    row = m.t.closes.get((region, year))
    if row is None:
        return None
    received = m.t.inputs[("", row.input_seq)]
    arrival: Arrival = Arrival(received.topic, received.partition, received.offset, received.raw, None)
    return Close(row.event_id, region, year, arrival)


def take_close(m: Memory, life: int, close: Close, persons: Iterable[str]) -> list[str]:
    """Put ``close`` in each of ``persons``' order, at their next place: archived there, remembered
    and queued. The persons, in order."""
    persons = sorted(set(persons))
    if not persons:
        return []
    places = archive_all(m, life, [close.arrival] * len(persons), "close", list(persons))
    for psn_no, (seq, _) in zip(persons, places):
        if (psn_no, close.region, close.year) in m.t.person_closes:
            continue  # taken before (ON CONFLICT DO NOTHING): not queued again
        m.set(
            m.t.person_closes,
            (psn_no, close.region, close.year),
            PersonClose(psn_no, close.region, close.year, seq, close.event_id),
        )
        m.index(m.t.persons_closes, psn_no, (close.region, close.year))
        m.queue(psn_no, seq, 0, "close", close.event_id, True)
    return persons


def _close_for_everyone(m: Memory, life: int, close: Close) -> list[str]:
    """Put the close in the order of every person with claims of its region's year who has not taken it."""
    waiting = {
        psn_no
        for (psn_no, _), revisions in m.t.claims.items()
        for row in revisions.values()
        if row.region == close.region
        and row.year == close.year
        and (psn_no, close.region, close.year) not in m.t.person_closes
    }
    return take_close(m, life, close, waiting)


def _repeat(earlier: YearClose) -> str:
    return (
        f"{earlier.region} {earlier.year} was closed by {earlier.event_id} on "
        f"{earlier.closed_at:%Y-%m-%d}; closing again changes nothing"
    )


class Closes:
    _m: Memory
    life: int

    async def receive_close(self, arrival: Arrival[YearEndClose]) -> InputReceipt:
        """Record a close once (closing again changes nothing, and says when it was closed) and put it
        in the order of every person it settles; those whose queue holds it are returned, each to be
        woken (their queues apply it in order)."""
        close = arrival.event
        async with self._m.transaction() as m:
            seq, new_position = archive(m, self.life, arrival, "close", None)
            earlier = m.t.closes.get((close.region, close.year))
            if earlier is None:
                if close.event_id in m.t.close_ids:
                    raise ValueError(f"year_closes already holds event_id {close.event_id} (of another region or year)")
                m.set(
                    m.t.closes,
                    (close.region, close.year),
                    YearClose(close.region, close.year, close.event_id, seq, utc(close.closed_at)),
                )
                m.set(m.t.close_ids, close.event_id, (close.region, close.year))
            elif new_position and earlier.input_seq != seq:
                set_outcome(m, "", seq, "repeat", _repeat(earlier))
            taken = close_of(m, close.region, close.year)
            assert taken is not None
            _close_for_everyone(m, self.life, taken)
            waiting = sorted(
                {
                    psn_no
                    for psn_no, queue in m.t.queue.items()
                    for item in queue.values()
                    if item.kind == "close" and item.ref == taken.event_id
                }
            )
        if earlier is None:
            return InputReceipt("applied", seq, persons=tuple(waiting))
        return InputReceipt("repeat", earlier.input_seq, _repeat(earlier), tuple(waiting))

    async def closes(self) -> list[YearEndClose]:
        """Every close received."""
        async with self._m.transaction() as m:
            rows = sorted(m.t.closes.values(), key=lambda c: (c.closed_at, c.event_id))
        return [YearEndClose(event_id=c.event_id, region=c.region, year=c.year, closed_at=c.closed_at) for c in rows]
