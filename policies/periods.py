"""The periods a person holds a category, folded from every eligibility event of that category.

Events are applied in (recorded_at, event_id) order, whatever order they arrived in: a grant
adds [valid_from, valid_to] (overlapping or adjacent periods merge, the merged period keeps the
grant that opened it); a revocation removes [valid_from, valid_to or open end]. So the same
events always give the same periods, and a repeated event changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """A period a category holds, with the grant that opened it."""

    start: date
    end: date | None
    authority: str
    event_id: str


def _touches(end: date | None, start: date) -> bool:
    """A period ending at ``end`` overlaps or adjoins one starting at ``start`` (sorted by start)."""
    return end is None or (start - end).days <= 1


def _merged(periods: list[Period]) -> list[Period]:
    """Overlapping or adjacent periods merged; each keeps the grant of its earliest start.

    The sort is stable, so of two periods starting on one day the earlier-granted one leads.
    """
    out: list[Period] = []
    for period in sorted(periods, key=lambda p: p.start):
        if out and _touches(out[-1].end, period.start):
            last = out[-1]
            end = None if last.end is None or period.end is None else max(last.end, period.end)
            out[-1] = replace(last, end=end)
        else:
            out.append(period)
    return out


def _without(period: Period, start: date, end: date | None) -> list[Period]:
    """What is left of ``period`` after removing [start, end] (``end`` None: open)."""
    parts = []
    if period.start < start:
        before = start - _ONE_DAY
        parts.append(replace(period, end=before if period.end is None else min(period.end, before)))
    if end is not None and end < date.max and (period.end is None or period.end > end):
        parts.append(replace(period, start=max(period.start, end + _ONE_DAY)))
    return parts


def periods_from(events: Iterable[Mapping[str, Any]]) -> list[Period]:
    """The periods of one (person, category) from all its events (mappings with ``event_id``,
    ``action``, ``valid_from``, ``valid_to``, ``authority``, ``recorded_at``), applied in
    (recorded_at, event_id) order."""
    periods: list[Period] = []
    for event in sorted(events, key=lambda e: (e["recorded_at"], e["event_id"])):
        if event["action"] == "grant":
            granted = Period(event["valid_from"], event["valid_to"], event["authority"], event["event_id"])
            periods = _merged([*periods, granted])
        else:
            periods = [part for p in periods for part in _without(p, event["valid_from"], event["valid_to"])]
    return periods
