"""Segment schedules (分段报销): F(B) = Σ rateᵢ × length of [fromᵢ, fromᵢ₊₁) ∩ [0, B)."""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

from schemas.money import format_rate, format_yuan
from schemas.policy import Segment


class Span(NamedTuple):
    """One segment as the schedule runs over it: [start, end) at ``rate`` (end None: no end)."""

    start: Decimal
    end: Decimal | None
    rate: Decimal
    rate_shown: str  # the rate as the arithmetic prints it ("75%")


def spans(segments: Sequence[Segment]) -> tuple[Span, ...]:
    """The segments read once, for a schedule applied to many bases."""
    ends = [s.from_ for s in segments[1:]] + [None]
    return tuple(Span(s.from_, end, s.rate, format_rate(s.rate)) for s, end in zip(segments, ends))


def covered(segments: Sequence[Segment] | tuple[Span, ...], base: Decimal) -> Decimal:
    """F(base): what the schedule pays on a (cumulative) base, unrounded."""
    total = Decimal(0)
    for start, end, rate, _ in _read(segments):
        top = base if end is None else min(base, end)
        if top > start:
            total += rate * (top - start)
    return total


def pieces(segments: Sequence[Segment] | tuple[Span, ...], low: Decimal, high: Decimal) -> list[str]:
    """The arithmetic of F(high) − F(low), one "rate × (to − from)" per segment touched."""
    return over(_read(segments), low, high)[1]


def over(spans: tuple[Span, ...], low: Decimal, high: Decimal) -> tuple[Decimal, list[str]]:
    """F(high) − F(low), unrounded, and its arithmetic: each segment's rate × the part of
    [low, high) it covers, one "rate × (to − from)" per segment touched. The amount is the sum of
    the terms shown (exactly what ``covered`` gives for the two bases, in one pass)."""
    total = _NOTHING
    shown = []
    for start, end, rate, rate_shown in spans:
        a = start if start > low else low  # (what max and min give, equals included)
        b = end if end is not None and end < high else high
        if b > a:
            total += rate * (b - a)
            shown.append(f"{rate_shown} × ({format_yuan(b)} − {format_yuan(a)})")
    return total, shown


_NOTHING = Decimal(0)


def _read(segments: Sequence[Segment] | tuple[Span, ...]) -> Sequence[Span]:
    return segments if segments and isinstance(segments[0], Span) else spans(segments)
