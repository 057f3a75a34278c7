"""The year-end close (年终清算): what a region's rules defer to the year end, paid once a year.

For every payer the policy names under ``year_end`` (Zhengzhou: assistance, seed 000 (六): 对于年度
内就医费用未达到大病补充医疗保险起付线的，经基本医疗保险报销后个人累计负担的合规自负医疗费用，年终由医
疗救助按政策报销), each annual account of the year pays

    F(B) − what the account paid in the year

where B is the account's cumulative base of the year, by the most favourable tier of the
categories the person held for the year's claims, within the annual cap and never more than the
in-scope amount the year's claims left to the person. It is paid to the person, as one
``year_end`` line per account, counted on an account of its own (``<account>.year_end``) so that
a claim of a closed year arriving later is settled as before and the close is adjusted instead.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from schemas.codes import CATEGORY_ZH
from schemas.events import PaymentLine
from schemas.money import ZERO, format_exact, format_yuan, round_to_fen
from schemas.policy import PayerPolicy, Policy, Rule, Tier
from schemas.totals import AccountTotals, YearTotals

from .applicable import cap_accounts
from .conditions import holding, open_to
from .schedule import covered, pieces
from .settle import ClaimOfYear, Settled

y = format_yuan

#: the suffix of the account a close's payment is counted on
YEAR_END_ACCOUNT = ".year_end"


@dataclass(frozen=True)
class _Owed:
    tier: Tier
    amount: Decimal
    steps_en: list[str]
    steps_zh: list[str]


def close_year(claims: Sequence[ClaimOfYear], settled: Sequence[Settled], totals: YearTotals) -> tuple[list[PaymentLine], YearTotals]:
    """The close's lines for one person, region and year (``claims`` and ``settled`` of that
    region, in order), and the totals with the close counted."""
    policy = claims[-1].policy
    held = frozenset().union(*(c.held for c in claims))
    insutype = claims[-1].claim.insutype
    left = sum((max(ZERO, s.claim.inscp_scp_amt - s.fund_pay_sumamt) for s in settled), start=ZERO)
    totals = dict(totals)
    lines = []
    for closing in policy.year_end:
        payer = policy.payer(closing.payer)
        for rule in payer.rules:
            account = payer.account_of(rule)
            if rule.scope != "annual" or rule.base_of is not None or account not in totals:
                continue
            tiers = [t for t in rule.tiers if open_to(t.categories, held) and t.segments]
            if not tiers:
                continue
            sharing = cap_accounts(policy, rule) or (account,)
            cap_paid = sum((totals[a].paid for a in sharing if a in totals), start=ZERO)
            cap_paid += sum((closed.amount for closed in lines if closed.account in {a + YEAR_END_ACCOUNT for a in sharing}),
                            start=ZERO)
            line = _close_account(policy, payer, rule, tiers, totals[account], cap_paid, held, left, insutype)
            left -= line.amount
            totals[line.account] = AccountTotals(paid=line.amount)
            lines.append(line)
    return lines, totals


def _close_account(policy: Policy, payer: PayerPolicy, rule: Rule, tiers: list[Tier], account: AccountTotals,
                   cap_paid: Decimal, held, left: Decimal, insutype) -> PaymentLine:
    candidates = [_owed(rule, tier, account, cap_paid, left) for tier in tiers]
    best = max(candidates, key=lambda c: c.amount)  # the first of equals: the listed order
    label = ", ".join(c.value for c in holding(best.tier.categories, held)) if best.tier.categories else best.tier.label
    label_zh = "、".join(CATEGORY_ZH[c] for c in holding(best.tier.categories, held)) if best.tier.categories else (best.tier.label_zh or best.tier.label)
    name = payer.account_of(rule)
    if len(candidates) > 1:
        best.steps_en.append("most favourable of " + ", ".join(f"{c.tier.label} {y(c.amount)}" for c in candidates))
        best.steps_zh.append("就高不重复：" + "，".join(f"{c.tier.label_zh or c.tier.label} {y(c.amount)}" for c in candidates))
    return PaymentLine(
        payer=payer.payer,
        fund_pay_type=payer.fund_code(insutype),
        amount=best.amount,
        base=account.base,
        rule=f"{policy.ref}#{payer.payer.value}.{rule.name}.year_end[{best.tier.label}]",
        explanation=f"{payer.payer.value} at the year-end close ({label}): " + "; ".join(best.steps_en) + f" → pays {y(best.amount)}",
        explanation_zh=f"{payer.name_zh}年终清算（{label_zh}）：" + "；".join(best.steps_zh) + f" → 支付 {y(best.amount)}",
        applied=label,
        account=name + YEAR_END_ACCOUNT,
    )


def _owed(rule: Rule, tier: Tier, account: AccountTotals, cap_paid: Decimal, left: Decimal) -> _Owed:
    """F(the year's base) − what the account paid, within what is left of the annual cap (``cap_paid``:
    what counts towards it, the other accounts sharing it included) and of the year's claims."""
    base, paid = account.base, account.paid
    en = [f"the year's base {y(base)}"]
    zh = [f"本年累计基数 {y(base)}"]
    if tier.qualifies_at is not None and base < tier.qualifies_at:
        en.append(f"below the qualifying {y(tier.qualifies_at)}: 0.00")
        zh.append(f"未达 {y(tier.qualifies_at)} 的救助资格线：0.00")
        return _Owed(tier, ZERO, en, zh)
    year = covered(tier.segments, base)
    arithmetic = " + ".join(pieces(tier.segments, ZERO, base)) or "0.00"
    owed = year - paid
    en.append(f"deductible {y(tier.deductible)}; {arithmetic} − {y(paid)} already paid this year = {format_exact(owed)}")
    zh.append(f"起付线 {y(tier.deductible)}；{arithmetic} − 本年已付 {y(paid)} = {format_exact(owed)}")
    amount = max(ZERO, owed)
    cap = None if tier.uncapped else tier.annual_cap if tier.annual_cap is not None else rule.limits.annual_cap
    if cap is not None and amount > cap - cap_paid:
        amount = max(ZERO, cap - cap_paid)
        en.append(f"annual cap {y(cap)}: {y(amount)} left")
        zh.append(f"年度限额 {y(cap)}：余 {y(amount)}")
    if amount > left:
        amount = left
        en.append(f"never more than the in-scope amount the year's claims left, {y(left)}")
        zh.append(f"不超过本年政策范围内个人剩余负担 {y(left)}")
    return _Owed(tier, round_to_fen(amount), en, zh)
