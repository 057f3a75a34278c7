"""One payer's payment on one claim: the mechanism of PARAMETERS.md, for every payer of every region.

    remaining  = in-scope amount − what the payers before this one paid on the claim
    base       = remaining (or, with ``base_of``, the base another account counted for this claim)
    per claim:   gross = F(base)
    annual:      gross = F(B_before + base) − F(B_before)   (B: the account's yearly cumulative base)
    payment    = gross, within what is left of each cap and limit, never more than remaining,
                 rounded to the fen (half up)

Of the tiers the person qualifies for, the one that pays most is applied (就高不重复).
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from schemas.codes import CATEGORY_ZH, Category
from schemas.events import DischargeClaim, PaymentLine
from schemas.money import ZERO, format_rate, format_yuan, round_to_fen
from schemas.policy import PayerPolicy, Policy, Rule, Tier
from schemas.totals import AccountTotals, YearTotals

from .conditions import holding, open_to, when_failures
from .diseases import major_disease_of
from .schedule import covered, pieces

y = format_yuan


@dataclass(frozen=True)
class Paid:
    """A payer's outcome: its payment line (None when it has no part in this claim) and new totals."""

    line: PaymentLine | None
    accounts: YearTotals = field(default_factory=dict)


@dataclass
class _Candidate:
    tier: Tier
    amount: Decimal
    base: Decimal
    cumulative_before: Decimal | None
    steps: list[str]
    steps_zh: list[str]


def _paid_before(prior: Sequence[PaymentLine]) -> Decimal:
    return sum((line.amount for line in prior), start=ZERO)


def _line_of(prior: Sequence[PaymentLine], account: str) -> PaymentLine | None:
    return next((line for line in prior if line.account == account), None)


def _tier_label(tier: Tier, held: Collection[Category]) -> str:
    named = holding(tier.categories, held) if tier.categories is not None else []
    return ", ".join(c.value for c in named) or tier.label


def _tier_label_zh(tier: Tier, held: Collection[Category]) -> str:
    named = holding(tier.categories, held) if tier.categories is not None else []
    return "、".join(CATEGORY_ZH[c] for c in named) or tier.label


def _annual_cap(rule: Rule, tier: Tier, claim: DischargeClaim) -> tuple[Decimal | None, str]:
    if tier.uncapped:
        return None, "no cap (上不封顶)"
    if tier.annual_cap is not None:
        return tier.annual_cap, "annual cap"
    limits = rule.limits
    if limits.major_disease_annual_cap is not None:
        disease = major_disease_of(claim.dise_codg, claim.age)
        if disease is not None:
            return limits.major_disease_annual_cap, f"annual cap for the major disease {disease.name} ({disease.name_zh})"
    return limits.annual_cap, "annual cap"


def _limit(amount: Decimal, left: Decimal, what: str, what_zh: str, c: _Candidate) -> Decimal:
    left = max(ZERO, left)
    if amount > left:
        c.steps.append(f"{what}: {y(left)} left, so {y(left)}")
        c.steps_zh.append(f"{what_zh}：余 {y(left)}，按 {y(left)}")
        return left
    return amount


def _candidate(
    tier: Tier, rule: Rule, claim: DischargeClaim, prior: Sequence[PaymentLine], account: AccountTotals, base_account: str | None
) -> _Candidate:
    remaining = max(ZERO, claim.inscp_scp_amt - _paid_before(prior))
    if tier.personal_share_ceiling is not None:
        return _ceiling_candidate(tier, claim, prior)
    base, before = remaining, account.base
    if base_account is not None:
        source = _line_of(prior, base_account)
        base = source.base if source else ZERO
        before = source.cumulative_before if source and source.cumulative_before is not None else ZERO
    c = _Candidate(tier, ZERO, base, before if rule.scope == "annual" else None, [], [])
    segments = tier.segments or []
    c.steps.append(f"base {y(base)} (in-scope {y(claim.inscp_scp_amt)} − paid before {y(_paid_before(prior))})"
                   if base_account is None else f"base {y(base)}, as counted by {base_account}")
    c.steps_zh.append(f"基数 {y(base)}（政策范围内 {y(claim.inscp_scp_amt)} − 前序已付 {y(_paid_before(prior))}）"
                      if base_account is None else f"基数 {y(base)}（同{base_account}）")
    if rule.scope == "per_claim":
        gross, low, high = covered(segments, base), ZERO, base
    else:
        low, high = before, before + base
        gross = _qualified(tier, high) - _qualified(tier, low)
        if tier.qualifies_at is not None and low < tier.qualifies_at <= high:
            # the line is crossed: the whole year's base counts, less what the account already
            # paid on it under another schedule (就高不重复: no base is paid twice)
            gross = max(ZERO, gross - account.paid)
            if account.paid:
                c.steps.append(f"less {y(account.paid)} already paid this year under another schedule")
                c.steps_zh.append(f"扣除本年已按其他标准支付 {y(account.paid)}")
        c.steps.append(f"yearly base {y(low)} → {y(high)}")
        c.steps_zh.append(f"本年累计 {y(low)} → {y(high)}")
    arithmetic = " + ".join(pieces(segments, low, high)) or "0"
    if tier.qualifies_at is not None and rule.scope == "annual":
        arithmetic = _qualifying_arithmetic(tier, low, high, arithmetic)
    c.steps.append(f"deductible {y(tier.deductible)}; {arithmetic} = {y(round_to_fen(gross))}")
    c.steps_zh.append(f"起付线 {y(tier.deductible)}；{arithmetic} = {y(round_to_fen(gross))}")
    c.amount = _within_limits(gross, remaining, rule, tier, claim, account, c)
    return c


def _qualified(tier: Tier, cumulative: Decimal) -> Decimal:
    """F(B), which is zero while B is below the tier's qualifying line (then counts the whole base)."""
    if tier.qualifies_at is not None and cumulative < tier.qualifies_at:
        return ZERO
    return covered(tier.segments or [], cumulative)


def _qualifying_arithmetic(tier: Tier, low: Decimal, high: Decimal, arithmetic: str) -> str:
    line = tier.qualifies_at
    if high < line:
        return f"yearly base below the qualifying {y(line)}: 0"
    if low < line:
        return f"qualifying {y(line)} reached: " + " + ".join(pieces(tier.segments or [], ZERO, high))
    return arithmetic


def _within_limits(
    gross: Decimal, remaining: Decimal, rule: Rule, tier: Tier, claim: DischargeClaim, account: AccountTotals, c: _Candidate
) -> Decimal:
    amount = gross
    cap, cap_name = _annual_cap(rule, tier, claim)
    if cap is not None:
        amount = _limit(amount, cap - account.paid, f"{cap_name} {y(cap)}", f"年度限额 {y(cap)}", c)
    limits = rule.limits
    if limits.per_claim is not None:
        amount = _limit(amount, limits.per_claim, f"at most {y(limits.per_claim)} a claim", f"单次最高 {y(limits.per_claim)}", c)
    if limits.per_day is not None:
        today = account.paid_by_day.get(claim.enddate, ZERO)
        amount = _limit(amount, limits.per_day - today, f"at most {y(limits.per_day)} a day", f"每日最高 {y(limits.per_day)}", c)
    if limits.assisted_visits_per_month is not None:
        month = claim.enddate.strftime("%Y-%m")
        if account.assisted_visits_by_month.get(month, 0) >= limits.assisted_visits_per_month:
            amount = _limit(amount, ZERO, f"{limits.assisted_visits_per_month} assisted visits in {month} already",
                            f"{month} 已救助 {limits.assisted_visits_per_month} 次", c)
    amount = _limit(amount, remaining, "never more than the remaining in-scope amount", "不超过政策范围内剩余", c)
    return round_to_fen(amount)


def _ceiling_candidate(tier: Tier, claim: DischargeClaim, prior: Sequence[PaymentLine]) -> _Candidate:
    share = claim.medfee_sumamt - _paid_before(prior)
    ceiling = round_to_fen(claim.medfee_sumamt * tier.personal_share_ceiling)
    amount = max(ZERO, share - ceiling)
    rate = format_rate(tier.personal_share_ceiling)
    steps = [f"personal share so far {y(share)} (whole bill {y(claim.medfee_sumamt)} − paid {y(_paid_before(prior))}); "
             f"held to {rate} of the bill = {y(ceiling)}; pays {y(share)} − {y(ceiling)}"]
    steps_zh = [f"个人负担 {y(share)}（医疗费总额 {y(claim.medfee_sumamt)} − 已付 {y(_paid_before(prior))}）；"
                f"控制在总额的 {rate} = {y(ceiling)}；支付 {y(share)} − {y(ceiling)}"]
    return _Candidate(tier, amount, share, None, steps, steps_zh)


def _applicable(payer: PayerPolicy, claim: DischargeClaim, held: Collection[Category]) -> tuple[Rule | None, list[Tier], list[str]]:
    """The first rule whose conditions hold and some tier of which the person qualifies for."""
    reasons: list[str] = []
    for rule in payer.rules:
        tiers = [t for t in rule.tiers if open_to(t.categories, held)]
        if not tiers:
            continue
        missing = when_failures(rule.when, claim)
        if missing:
            reasons.append(f"{rule.name}: " + "; ".join(missing))
            continue
        tiers = [t for t in tiers if not when_failures(t.when, claim)]
        if tiers:
            return rule, tiers, reasons
        reasons.append(f"{rule.name}: no schedule of the person's categories applies to this claim")
    return None, [], reasons


def _deferred(rule: Rule, prior: Sequence[PaymentLine]) -> str | None:
    deferral = rule.defer_while
    if deferral is None:
        return None
    line = _line_of(prior, deferral.account)
    cumulative = (line.cumulative_before or ZERO) + line.base if line else ZERO
    if cumulative < deferral.cumulative_base_below:
        return f"{deferral.account} yearly base {y(cumulative)} < {y(deferral.cumulative_base_below)}"
    return None


def pay(
    claim: DischargeClaim,
    held: Collection[Category],
    prior: Sequence[PaymentLine],
    totals: YearTotals,
    policy: Policy,
    payer: PayerPolicy,
) -> Paid:
    """The payment of ``payer`` on ``claim`` after the lines ``prior``, and its accounts' new totals."""
    rule, tiers, reasons = _applicable(payer, claim, held)
    rule_id = f"{policy.ref}#{payer.payer.value}"
    if rule is None:
        if not any(open_to(t.categories, held) for r in payer.rules for t in r.tiers):
            return Paid(None)
        why = "; ".join(reasons) or "no rule covers this claim"
        return Paid(_zero_line(payer, claim, rule_id, f"{payer.payer.value} pays nothing: {why}", f"{payer.name_zh}不支付：{why}"))
    account_name = payer.account_of(rule)
    account = totals.get(account_name, AccountTotals())
    candidates = [_candidate(t, rule, claim, prior, account, rule.base_of) for t in tiers]
    best = max(candidates, key=lambda c: c.amount)  # max keeps the first of equals: the listed order
    amount, steps, steps_zh = best.amount, best.steps, best.steps_zh
    deferred = _deferred(rule, prior)
    if deferred is not None:
        steps = steps + [f"{rule.defer_while.explanation} ({deferred}): pays 0.00 now"]
        steps_zh = steps_zh + [f"{rule.defer_while.explanation_zh}（{deferred}）：本次支付 0.00"]
        amount = ZERO
    if len(candidates) > 1:
        steps.append("most favourable of " + ", ".join(f"{_tier_label(c.tier, held)} {y(c.amount)}" for c in candidates))
        steps_zh.append("就高不重复：" + "，".join(f"{_tier_label_zh(c.tier, held)} {y(c.amount)}" for c in candidates))
    label, label_zh = _tier_label(best.tier, held), _tier_label_zh(best.tier, held)
    line = PaymentLine(
        payer=payer.payer,
        fund_pay_type=payer.fund_code(claim.insutype),
        amount=amount,
        base=best.base,
        rule=f"{rule_id}.{rule.name}[{best.tier.label}]",
        explanation=f"{payer.payer.value} ({rule.name}, {label}): " + "; ".join(steps) + f" → pays {y(amount)}",
        explanation_zh=f"{payer.name_zh}（{rule.name}，{label_zh}）：" + "；".join(steps_zh) + f" → 支付 {y(amount)}",
        applied=label,
        account=account_name,
        cumulative_before=best.cumulative_before,
    )
    counted = best.base if rule.scope == "annual" and rule.base_of is None else ZERO
    limits = rule.limits
    new = account.after(
        base=counted,
        paid=amount,
        day=claim.enddate if limits.per_day is not None or limits.assisted_visits_per_month is not None else None,
        count_visit=limits.assisted_visits_per_month is not None,
    )
    return Paid(line, {account_name: new})


def _zero_line(payer: PayerPolicy, claim: DischargeClaim, rule_id: str, why: str, why_zh: str) -> PaymentLine:
    return PaymentLine(
        payer=payer.payer, fund_pay_type=payer.fund_code(claim.insutype), amount=ZERO, base=ZERO,
        rule=f"{rule_id}.not_applicable", explanation=why, explanation_zh=why_zh,
    )
