"""Bars drawn as inline SVG on the server: one account's year against its deductible and its cap."""

from __future__ import annotations

from decimal import Decimal

from markupsafe import Markup, escape

from reports.slip import RunningTotal
from schemas.money import format_yuan

WIDTH, BAR, GAP = 360, 14, 22


def _bar(y: int, value: Decimal, limit: Decimal | None, label: str, colour: str) -> str:
    """A bar of ``value`` on a scale up to ``limit`` (full width when there is none), the limit marked."""
    top = max(limit or Decimal(0), value, Decimal("0.01"))
    filled = int(WIDTH * min(value, top) / top) if value > 0 else 0
    limit_at = int(WIDTH * (limit / top)) if limit else None
    mark = (
        f'<line x1="{limit_at}" y1="{y - 3}" x2="{limit_at}" y2="{y + BAR + 3}" stroke="#1d2630" stroke-width="2"/>'
        if limit_at is not None
        else ""
    )
    return (
        f'<rect x="0" y="{y}" width="{WIDTH}" height="{BAR}" fill="#e8eef4"/>'
        f'<rect x="0" y="{y}" width="{filled}" height="{BAR}" fill="{colour}"/>{mark}'
        f'<text x="{WIDTH + 8}" y="{y + BAR - 3}" font-size="11">{escape(label)}</text>'
    )


def account_bars(total: RunningTotal) -> Markup:
    """The year's base against the deductible (when the year has one) and what was paid against the cap."""
    rows = []
    if total.deductible is not None and not total.per_stay:
        rows.append(
            _bar(
                0,
                total.yearly_base,
                total.deductible,
                f"{format_yuan(total.yearly_base)} / {format_yuan(total.deductible)}",
                "#7a9cc0",
            )
        )
    cap = None if total.uncapped else total.cap
    rows.append(
        _bar(
            len(rows) * GAP,
            total.paid,
            cap,
            f"{format_yuan(total.paid)} / {format_yuan(cap) if cap is not None else '∞'}",
            "#2f5d8a",
        )
    )
    height = len(rows) * GAP
    return Markup(
        f'<svg class="bars" viewBox="0 0 {WIDTH + 170} {height}" width="{WIDTH + 170}" height="{height}" '
        f'role="img" xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>'
    )
