"""Segment schedules (分段报销): F(B) = Σ rateᵢ × length of [fromᵢ, fromᵢ₊₁) ∩ [0, B)."""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from schemas.money import format_rate, format_yuan
from schemas.policy import Segment


def _spans(segments: Sequence[Segment]):
    for i, segment in enumerate(segments):
        end = segments[i + 1].from_ if i + 1 < len(segments) else None
        yield segment.from_, end, segment.rate


def covered(segments: Sequence[Segment], base: Decimal) -> Decimal:
    """F(base): what the schedule pays on a (cumulative) base, unrounded."""
    total = Decimal(0)
    for start, end, rate in _spans(segments):
        top = base if end is None else min(base, end)
        if top > start:
            total += rate * (top - start)
    return total


def pieces(segments: Sequence[Segment], low: Decimal, high: Decimal) -> list[str]:
    """The arithmetic of F(high) − F(low), one "rate × (to − from)" per segment touched."""
    shown = []
    for start, end, rate in _spans(segments):
        a = max(low, start)
        b = high if end is None else min(high, end)
        if b > a:
            shown.append(f"{format_rate(rate)} × ({format_yuan(b)} − {format_yuan(a)})")
    return shown
