"""A whole claim through a region's chain of payers, in order; the patient pays what is left."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

from schemas.codes import Category
from schemas.events import DischargeClaim, PaymentLine
from schemas.money import ZERO
from schemas.policy import PayerPolicy, Policy
from schemas.totals import YearTotals

from .conditions import open_to
from .payer import pay


class Settled:
    """Every payer's line in payment order (zero lines say why a payer paid nothing), and new totals.

    A value: nothing changes it once it is made. (A plain class, not a frozen dataclass: compiled,
    making one is a native call, where a dataclass's ``__init__`` is Python setting each field.)"""

    __slots__ = ("claim", "policy", "lines", "totals", "reaches_back")

    def __init__(
        self,
        claim: DischargeClaim,
        policy: Policy,
        lines: tuple[PaymentLine, ...],
        totals: YearTotals,
        reaches_back: bool = False,
    ) -> None:
        self.claim, self.policy, self.lines, self.totals = claim, policy, lines, totals
        self.reaches_back = reaches_back  # lifted the year over a qualifying line: settle its earlier claims again

    @property
    def payments(self) -> list[PaymentLine]:
        return [line for line in self.lines if line.amount != 0]

    @property
    def fund_pay_sumamt(self) -> Decimal:
        return sum((line.amount for line in self.lines), start=ZERO)

    @property
    def psn_part_amt(self) -> Decimal:
        return self.claim.medfee_sumamt - self.fund_pay_sumamt


class ClaimOfYear:
    """One claim of a person's year, with the categories that count for it and its policy (a value, as Settled)."""

    __slots__ = ("claim", "held", "policy")

    def __init__(self, claim: DischargeClaim, held: frozenset[Category], policy: Policy) -> None:
        self.claim, self.held, self.policy = claim, held, policy


def route(policy: Policy, held: Collection[Category]) -> tuple[PayerPolicy, ...]:
    """The payers a person's claims travel through: those with a schedule open to one of their categories."""
    key = (id(policy), held if type(held) is frozenset else frozenset(held))
    found = _ROUTES.get(key)
    if found is None or found[0] is not policy:  # (an id is reused only once its policy is gone)
        found = _ROUTES[key] = (
            policy,
            tuple(p for p in policy.payers if any(open_to(t.categories, held) for r in p.rules for t in r.tiers)),
        )
    return found[1]


#: routes worked out before, per policy and categories held (a policy is an immutable value)
_ROUTES: dict[tuple[int, frozenset[Category]], tuple[Policy, tuple[PayerPolicy, ...]]] = {}


def settle(
    claim: DischargeClaim,
    held: Collection[Category],
    totals: YearTotals,
    policy: Policy,
    qualified: Collection[str] = (),
) -> Settled:
    """Run ``claim`` through every payer of ``policy`` in order. ``totals`` is the person's year so far;
    ``qualified`` the qualifying tiers the year is known to reach (policies/year.py)."""
    lines: list[PaymentLine] = []
    totals = dict(totals)
    reaches_back = False
    for payer in route(policy, held):
        paid = pay(claim, held, lines, totals, policy, payer, qualified)
        if paid.line is not None:
            lines.append(paid.line)
        totals.update(paid.accounts)
        reaches_back = reaches_back or paid.reaches_back
    return Settled(claim, policy, tuple(lines), totals, reaches_back)
