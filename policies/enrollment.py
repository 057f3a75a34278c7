"""Who is insured where (参保登记), folded from the medical-insurance bureau's enrollment changes.

A person is insured in one place, with one insurance, on any day. Each change says how the person
is insured over its period (``valid_to`` None: open); changes are applied in (recorded_at,
event_id) order, whatever order they arrived in, each replacing what earlier ones said of its
days. So the same changes always give the same periods, a repeated change changes nothing, and a
bureau's yearly roster ([1 January, 31 December] of each year) never touches another year.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from schemas.codes import InsuType
from schemas.events import EnrollmentChange

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Enrolled:
    """A period a person is insured with ``insutype`` at ``insuplc_admdvs``, as the change ``event_id`` said."""

    start: date
    end: date | None  # None: open
    insutype: InsuType
    insuplc_admdvs: str
    event_id: str

    def overlaps(self, first: date, last: date) -> bool:
        return self.start <= last and (self.end is None or self.end >= first)


def _without(period: Enrolled, start: date, end: date | None) -> list[Enrolled]:
    """What is left of ``period`` outside [start, end] (``end`` None: open)."""
    parts = []
    if period.start < start:
        before = start - _ONE_DAY
        parts.append(replace(period, end=before if period.end is None else min(period.end, before)))
    if end is not None and (period.end is None or period.end > end):
        parts.append(replace(period, start=max(period.start, end + _ONE_DAY)))
    return [p for p in parts if p.end is None or p.start <= p.end]


def enrollment_from(changes: Iterable[EnrollmentChange]) -> list[Enrolled]:
    """A person's periods of insurance from all their changes, by start."""
    periods: list[Enrolled] = []
    for change in sorted(changes, key=lambda c: (c.recorded_at, c.event_id)):
        periods = [part for p in periods for part in _without(p, change.valid_from, change.valid_to)]
        periods.append(
            Enrolled(change.valid_from, change.valid_to, change.insutype, change.insuplc_admdvs, change.event_id)
        )
    return sorted(periods, key=lambda p: p.start)


def resident_in(
    periods: Iterable[Enrolled], places: tuple[str, ...], first: date, last: date
) -> list[tuple[date, date]]:
    """The days of [first, last] the person is insured with resident insurance (390) in one of the
    ``places`` (division-code prefixes: a policy file's ``codes``), as (start, end) intervals in order."""
    out = []
    for period in periods:
        if (
            period.insutype == InsuType.resident
            and period.insuplc_admdvs.startswith(places)
            and period.overlaps(first, last)
        ):
            out.append((max(period.start, first), last if period.end is None else min(period.end, last)))
    return sorted(out)
