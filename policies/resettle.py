"""Settling a person's year again after a category is granted that reaches back in time.

Zhangye's on-application assistance (依申请救助) covers the costs of the 12 months before the
application. When such a grant arrives, every claim of the person's year is run again, in the
order it was settled, from the policy's ``from_payer`` to the end of the chain — with the grant
counted where it now counts, and every earlier payer's recorded line kept as it is. What differs
from what was recorded is paid (or recovered) as an adjustment.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.codes import categories_named
from schemas.events import CategoryHeld, DischargeClaim, PaymentLine
from schemas.money import ZERO, format_yuan
from schemas.policy import Policy
from schemas.totals import YearTotals

from .identity import counts_for
from .payer import pay
from .settle import route


@dataclass(frozen=True)
class Recorded:
    """A settled claim as the ledger has it: its identity and its net lines per payer."""

    claim: DischargeClaim
    identity: list[CategoryHeld]
    lines: list[PaymentLine]
    policy: Policy


@dataclass(frozen=True)
class Resettled:
    claim: DischargeClaim
    identity: list[CategoryHeld]
    differences: list[PaymentLine]  # new − recorded, per payer, only those that differ


def redone_payers(policy: Policy, grant: CategoryHeld) -> list[str]:
    """The payers to run again for this grant under this policy (empty: the grant reaches no claim back)."""
    for retro in policy.retroactive:
        if grant.code in {c for p in retro.categories for c in categories_named(p)}:
            names = [p.payer.value for p in policy.payers]
            return names[names.index(retro.from_payer.value):]
    return []


def resettle_year(history: Sequence[Recorded], grant: CategoryHeld) -> tuple[list[Resettled], dict[str, YearTotals]]:
    """Run one person's year again with ``grant``; returns the claims that changed and the new
    totals of the redone payers' accounts (by account; they replace the recorded ones)."""
    totals: YearTotals = {}
    changed: list[Resettled] = []
    redone_accounts: set[str] = set()
    for item in history:
        redo = set(redone_payers(item.policy, grant))
        if not redo:
            continue
        identity = list(item.identity)
        if counts_for(grant, item.claim, item.policy) and grant.code not in {c.code for c in identity}:
            identity.append(grant)
        held = {c.code for c in identity}
        kept = [line for line in item.lines if line.payer.value not in redo]
        new_lines = list(kept)
        for payer in route(item.policy, held):
            if payer.payer.value in redo:
                paid = pay(item.claim, held, new_lines, totals, item.policy, payer)
                if paid.line is not None:
                    new_lines.append(paid.line)
                totals.update(paid.accounts)
                redone_accounts.update(paid.accounts)
        differences = _differences(item, new_lines, redo, grant)
        if differences:
            changed.append(Resettled(item.claim, identity, differences))
    return changed, {account: totals[account] for account in redone_accounts}


def _differences(item: Recorded, new_lines: list[PaymentLine], redo: set[str], grant: CategoryHeld) -> list[PaymentLine]:
    before = {line.payer.value: line for line in item.lines}
    out = []
    for line in new_lines:
        if line.payer.value not in redo:
            continue
        was = before[line.payer.value].amount if line.payer.value in before else ZERO
        if line.amount == was:
            continue
        why = (f"settled again after {grant.code.value} was granted from {grant.valid_from}: "
               f"was {format_yuan(was)}, now {format_yuan(line.amount)}; ")
        why_zh = f"因{grant.valid_from}起认定{grant.code.value}重新结算：原 {format_yuan(was)}，现 {format_yuan(line.amount)}；"
        out.append(line.model_copy(update={
            "amount": line.amount - was, "explanation": why + line.explanation, "explanation_zh": why_zh + line.explanation_zh,
        }))
    return out
