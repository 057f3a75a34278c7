"""Segment schedules (分段报销): F(B) = Σ rateᵢ × length of [fromᵢ, fromᵢ₊₁) ∩ [0, B)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

from schemas.money import format_rate, format_yuan
from schemas.policy import Segment

#: the sum of no terms (an exact zero: the terms decide the places)
_NOTHING = Decimal(0)


class Span(NamedTuple):
    """One segment as the schedule runs over it: [start, end) at ``rate`` (end None: no end)."""

    start: Decimal
    end: Decimal | None
    rate: Decimal
    rate_shown: str  # the rate as the arithmetic prints it ("75%")
    start_shown: str  # the start and end as it prints them ("1000.00")
    end_shown: str | None


def spans(segments: Sequence[Segment]) -> tuple[Span, ...]:
    """The segments read once, for a schedule applied to many bases."""
    ends = [s.from_ for s in segments[1:]] + [None]
    return tuple(
        Span(s.from_, end, s.rate, format_rate(s.rate), format_yuan(s.from_), None if end is None else format_yuan(end))
        for s, end in zip(segments, ends)
    )


def covered(segments: Sequence[Segment] | tuple[Span, ...], base: Decimal) -> Decimal:
    """F(base): what the schedule pays on a (cumulative) base, unrounded."""
    total = _NOTHING
    for start, end, rate, *_ in _read(segments):
        top = base if end is None else min(base, end)
        if top > start:
            total += rate * (top - start)
    return total


def pieces(segments: Sequence[Segment] | tuple[Span, ...], low: Decimal, high: Decimal) -> list[str]:
    """The arithmetic of F(high) − F(low), one "rate × (to − from)" per segment touched."""
    return over(_read(segments), low, high)[1]


def over(
    spans: Sequence[Span], low: Decimal, high: Decimal, low_shown: str | None = None, high_shown: str | None = None
) -> tuple[Decimal, list[str]]:
    """F(high) − F(low), unrounded, and its arithmetic: each segment's rate × the part of
    [low, high) it covers, one "rate × (to − from)" per segment touched. The amount is the sum of
    the terms shown (exactly what ``covered`` gives for the two bases, in one pass).
    ``low_shown`` and ``high_shown``: the two bases as printed already, if they are."""
    total = _NOTHING
    shown = []
    a_shown: str | None
    b_shown: str | None
    for start, end, rate, rate_shown, start_shown, end_shown in spans:
        if start > low:  # (what max and min give, equals included)
            a, a_shown = start, start_shown
        else:
            a, a_shown = low, low_shown
        if end is not None and end < high:
            b, b_shown = end, end_shown
        else:
            b, b_shown = high, high_shown
        if b > a:
            total += rate * (b - a)
            shown.append(f"{rate_shown} × ({b_shown or format_yuan(b)} − {a_shown or format_yuan(a)})")
    return total, shown


def _read(segments: Sequence[Segment] | tuple[Span, ...]) -> Sequence[Span]:
    if segments and isinstance(segments[0], Span):
        return segments  # type: ignore[return-value]  # (mypy narrows no sequence by its first item: all are Spans)
    return spans(segments)  # type: ignore[arg-type]  # (and here all are Segments)
