"""The year-end close (年终清算): what a region's rules defer to the year end, paid once a year.

For every payer the policy names under ``year_end`` (Zhengzhou: assistance, seed 000 (六): 对于年度
内就医费用未达到大病补充医疗保险起付线的，经基本医疗保险报销后个人累计负担的合规自负医疗费用，年终由医
疗救助按政策报销), each annual account of the year pays

    F(B) − what the account paid in the year

where B is the account's cumulative base of the year, by the most favourable tier among the
categories that counted for the year's claims the account covers (a category held only after the
last such claim does not count: its rates are for costs of its own period — PARAMETERS.md,
"Year-end close"), within the annual cap and never more than the in-scope amount the year's claims
left to the person. It is paid to the person, as one
``year_end`` line per account, counted on an account of its own (``<account>.year_end``) so that
a claim of a closed year arriving later is settled as before and the close is adjusted instead.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal

from schemas.codes import Category, InsuType
from schemas.events import PaymentLine
from schemas.money import ZERO, format_exact, format_rate, format_yuan, round_to_fen
from schemas.policy import PayerPolicy, Policy, Rule, Tier, TopUp
from schemas.totals import AccountTotals, YearTotals

from .applicable import cap_accounts, name_zh
from .conditions import holding, open_to, when_holds
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


def close_year(
    claims: Sequence[ClaimOfYear], settled: Sequence[Settled], totals: YearTotals
) -> tuple[list[PaymentLine], YearTotals]:
    """The close's lines for one person, region and year (``claims`` and ``settled`` of that
    region, in order), and the totals with the close counted."""
    policy = claims[-1].policy
    insutype = claims[-1].claim.insutype
    left = sum((max(ZERO, s.claim.inscp_scp_amt - s.fund_pay_sumamt) for s in settled), start=ZERO)
    totals = dict(totals)
    lines: list[PaymentLine] = []
    for closing in policy.year_end:
        payer = policy.payer(closing.payer)
        if closing.top_up is not None:
            top_up = _top_up(policy, payer, closing.top_up, claims, settled, lines, left)
            if top_up is not None:
                left -= top_up.amount
                totals[str(top_up.account)] = AccountTotals(paid=top_up.amount)
                lines.append(top_up)
            continue
        for rule in payer.rules:
            account = payer.account_of(rule)
            if rule.scope != "annual" or rule.base_of is not None or account not in totals:
                continue
            held = counted_for(rule, claims)
            tiers = [t for t in rule.tiers if open_to(t.categories, held) and t.segments]
            if not tiers:
                continue
            sharing = cap_accounts(policy, rule) or (account,)
            cap_paid = sum((totals[a].paid for a in sharing if a in totals), start=ZERO)
            cap_paid += sum(
                (closed.amount for closed in lines if closed.account in {a + YEAR_END_ACCOUNT for a in sharing}),
                start=ZERO,
            )
            line = _close_account(policy, payer, rule, tiers, totals[account], cap_paid, held, left, insutype)
            left -= line.amount
            totals[account + YEAR_END_ACCOUNT] = AccountTotals(paid=line.amount)
            lines.append(line)
    return lines, totals


def counted_for(rule: Rule, claims: Sequence[ClaimOfYear]) -> frozenset[Category]:
    """The categories that counted for the year's claims ``rule`` covers: a category held only on
    days of claims the rule does not cover (a general outpatient visit, for an inpatient rule) never
    decides the tier of the costs it covers."""
    return frozenset().union(*(c.held for c in claims if when_holds(rule.when, c.claim)))


def _close_account(
    policy: Policy,
    payer: PayerPolicy,
    rule: Rule,
    tiers: list[Tier],
    account: AccountTotals,
    cap_paid: Decimal,
    held: Collection[Category],
    left: Decimal,
    insutype: InsuType,
) -> PaymentLine:
    candidates = [_owed(rule, tier, account, cap_paid, left) for tier in tiers]
    best = max(candidates, key=lambda c: c.amount)  # the first of equals: the listed order
    label = ", ".join(c.value for c in holding(best.tier.categories, held)) if best.tier.categories else best.tier.label
    label_zh = (
        "、".join(name_zh(policy, c) for c in holding(best.tier.categories, held))
        if best.tier.categories
        else (best.tier.label_zh or best.tier.label)
    )
    name = payer.account_of(rule)
    if len(candidates) > 1:
        best.steps_en.append("most favourable of " + ", ".join(f"{c.tier.label} {y(c.amount)}" for c in candidates))
        best.steps_zh.append(
            "就高不重复：" + "，".join(f"{c.tier.label_zh or c.tier.label} {y(c.amount)}" for c in candidates)
        )
    return PaymentLine(
        payer=payer.payer,
        fund_pay_type=payer.fund_code(insutype),
        amount=best.amount,
        base=account.base,
        rule=f"{policy.ref}#{payer.payer.value}.{rule.name}.year_end[{best.tier.label}]",
        explanation=f"{payer.payer.value} at the year-end close ({label}): "
        + "; ".join(best.steps_en)
        + f" → pays {y(best.amount)}",
        explanation_zh=f"{payer.name_zh}年终清算（{label_zh}）："
        + "；".join(best.steps_zh)
        + f" → 支付 {y(best.amount)}",
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
    segments = tier.segments or ()  # (a close's tiers all have segments: close_year takes no other)
    year = covered(segments, base)
    arithmetic = " + ".join(pieces(segments, ZERO, base)) or "0.00"
    owed = year - paid
    en.append(
        f"deductible {y(tier.deductible)}; {arithmetic} − {y(paid)} already paid this year = {format_exact(owed)}"
    )
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


def _top_up(
    policy: Policy,
    payer: PayerPolicy,
    top_up: TopUp,
    claims: Sequence[ClaimOfYear],
    settled: Sequence[Settled],
    paid_at_close: Sequence[PaymentLine],
    left: Decimal,
) -> PaymentLine | None:
    """What brings the person's share of the in-scope costs of the year's counted claims (those of
    a category it names, meeting its conditions) down to its ceiling; None when no claim counts."""
    counted = [
        s
        for c, s in zip(claims, settled)
        if open_to(top_up.categories, c.held) and when_holds(top_up.when, c.claim, policy.pooled_area)
    ]
    if not counted:
        return None
    held = frozenset().union(*(c.held for c in claims))
    named = holding(top_up.categories, held) if top_up.categories is not None else []
    label = ", ".join(c.value for c in named) or top_up.label
    label_zh = "、".join(name_zh(policy, c) for c in named) or top_up.label_zh or top_up.label
    in_scope = sum((s.claim.inscp_scp_amt for s in counted), start=ZERO)
    share = sum((max(ZERO, s.claim.inscp_scp_amt - s.fund_pay_sumamt) for s in counted), start=ZERO)
    closed = sum((line.amount for line in paid_at_close), start=ZERO)
    rate = format_rate(top_up.personal_share_ceiling)
    ceiling = in_scope * top_up.personal_share_ceiling
    owed = share - closed - ceiling
    en = [
        f"the year's {len(counted)} counted claim{'' if len(counted) == 1 else 's'}: in-scope {y(in_scope)}, "
        f"the person's share of it {y(share)}" + (f", less {y(closed)} paid at this close" if closed else ""),
        f"held to {rate} of it: {y(in_scope)} × {rate} = {format_exact(ceiling)}; "
        f"{y(share - closed)} − {format_exact(ceiling)} = {format_exact(owed)}",
    ]
    zh = [
        f"本年计入的{len(counted)}次就医：政策范围内 {y(in_scope)}，个人负担 {y(share)}"
        + (f"，减本次清算已付 {y(closed)}" if closed else ""),
        f"控制在其 {rate}：{y(in_scope)} × {rate} = {format_exact(ceiling)}；"
        f"{y(share - closed)} − {format_exact(ceiling)} = {format_exact(owed)}",
    ]
    amount = max(ZERO, owed)
    if top_up.annual_cap is not None and amount > top_up.annual_cap:
        amount = top_up.annual_cap
        en.append(f"annual cap {y(top_up.annual_cap)}")
        zh.append(f"年度限额 {y(top_up.annual_cap)}")
    if amount > left:
        amount = left
        en.append(f"never more than the in-scope amount the year's claims left, {y(left)}")
        zh.append(f"不超过本年政策范围内个人剩余负担 {y(left)}")
    amount = round_to_fen(amount)
    return PaymentLine(
        payer=payer.payer,
        fund_pay_type=payer.fund_code(counted[-1].claim.insutype),
        amount=amount,
        base=share,
        rule=f"{policy.ref}#{payer.payer.value}.top_up.year_end[{top_up.label}]",
        explanation=f"{payer.payer.value} tops up at the year-end close ({label}): "
        + "; ".join(en)
        + f" → pays {y(amount)}",
        explanation_zh=f"{payer.name_zh}年终一次性补偿（{label_zh}）：" + "；".join(zh) + f" → 支付 {y(amount)}",
        applied=label,
        account=f"{payer.payer.value}.top_up{YEAR_END_ACCOUNT}",
    )
