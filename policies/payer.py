"""One payer's payment on one claim: the mechanism of PARAMETERS.md, for every payer of every region.

    remaining  = in-scope amount − what the payers before this one paid on the claim
    base       = remaining; or (``base_after``) the in-scope amount less what the named payers
                 paid on the claim; or (``base_of``) the base another account counted for it
    per claim:   gross = F(base)
    annual:      gross = F(B_before + base) − F(B_before)   (B: the account's yearly cumulative base)
                 or, with ``deduct_paid_this_year``, F(B_before + base) − what the account paid this year
    payment    = gross, within what is left of each cap and limit, never more than remaining,
                 rounded to the fen (half up)

Of the tiers the person qualifies for, the one that pays most is applied (就高不重复).

A tier with ``qualifies_at`` pays nothing while the account's yearly base is below its line.
Once the year reaches the line, the schedule applies to every claim of the year: the claim that
reaches it pays on its own base and says so (``Paid.reaches_back``), and the year's earlier
claims are settled again (policies/year.py) — nothing is clipped onto the crossing claim.

Which rule and tiers apply to a claim, and the names a line prints, are policies/applicable.py's;
this module is the arithmetic only.

This module is compiled to C with mypyc (`onestop compile-rules`, schemas/compiled.py) — every
claim runs through it once per payer — and its idioms are chosen for the compiled code, where
the obvious Python is measurably slower (README, "Benchmarks"): outcomes are plain classes with
``__slots__`` (building a NamedTuple or a dataclass runs Python, a plain class is a native call);
``if not x > ZERO`` stands for ``max(ZERO, x)`` (a generic call on Decimals); helpers are imported
under short names rather than assigned to them (an imported function is called directly, an
assigned one through a Python object); a model's fields are read once through its ``__dict__``;
amounts are printed only where a step is said (formatting is a good part of the cost). The Python
source runs exactly the same way when no build is current, and the tests compare the two.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from operator import attrgetter

from schemas.codes import Category
from schemas.events import DischargeClaim, PaymentLine

# (imported under their short names, not assigned to them: a compiled rule then calls them directly)
from schemas.money import ZERO, format_exact as exact, format_rate, format_yuan as y, round_to_fen
from schemas.policy import PayerPolicy, Policy
from schemas.totals import AccountTotals, YearTotals

from .accounts import NOTHING_YET, Paid, account_after, paid_towards
from .applicable import (
    RuleFor,
    TierFor,
    account_name_zh,
    annual_cap,
    applicable,
    nothing_paid,
    payer_for,
    payer_names_zh,
    payment_line,
    qualification_key,
)
from .conditions import Reason
from .schedule import over

__all__ = ["Paid", "account_after", "pay", "qualification_key"]

_ZERO_SHOWN = y(ZERO)


class _Steps:
    """The arithmetic of a payment, step by step, in English and in Chinese."""

    __slots__ = ("en", "zh")

    def __init__(self) -> None:
        self.en: list[str] = []
        self.zh: list[str] = []

    def add(self, en: str, zh: str) -> None:
        self.en.append(en)
        self.zh.append(zh)


class _Candidate(_Steps):
    """What one tier would pay, and its arithmetic step by step (one object: a claim makes several)."""

    __slots__ = ("tier", "amount", "base", "cumulative_before", "reaches_back")

    def __init__(self, tier: TierFor) -> None:
        self.en, self.zh = [], []
        self.tier, self.amount, self.base, self.reaches_back = tier, ZERO, ZERO, False
        self.cumulative_before: Decimal | None = None


_amount_of = attrgetter("amount")


def _paid_before(prior: Sequence[PaymentLine]) -> Decimal:
    paid = ZERO
    for line in prior:
        paid += line.amount
    return paid


def _line_of(prior: Sequence[PaymentLine], account: str) -> PaymentLine | None:
    return next((line for line in prior if line.account == account), None)


def _limit(
    amount: Decimal,
    left: Decimal,
    what: str,
    what_zh: str,
    steps: _Steps,
    figure: Decimal | None = None,
    after: str = "",
) -> Decimal:
    """``amount`` held to what is ``left`` of a limit, named ``what`` (followed by ``figure``, if given,
    and by ``after``)."""
    if not left > ZERO:  # (what max(ZERO, left) gives)
        left = ZERO
    if amount > left:
        if figure is not None:  # (named only when it binds: printing amounts is a good part of the cost)
            what, what_zh = f"{what} {y(figure)}{after}", f"{what_zh} {y(figure)}"
        left_shown = y(left)
        steps.add(f"{what}: {left_shown} left, so {left_shown}", f"{what_zh}：余 {left_shown}，按 {left_shown}")
        return left
    return amount


def _covered_shown(rule: RuleFor, claim: DischargeClaim) -> tuple[str, str]:
    """The parts of the bill the rule's base counts, as printed: the in-scope amount, and the class-B own share."""
    shown, shown_zh = f"in-scope {y(claim.inscp_scp_amt)}", f"政策范围内 {y(claim.inscp_scp_amt)}"
    if rule.with_preselfpay:
        class_b = y(claim.preselfpay_amt)
        return f"{shown} + class-B own share {class_b}", f"{shown_zh} + 乙类先行自付 {class_b}"
    return shown, shown_zh


def _base(
    rule: RuleFor,
    claim: DischargeClaim,
    in_scope: Decimal,
    prior: Sequence[PaymentLine],
    paid_before: Decimal,
    account: AccountTotals,
    policy: Policy,
    steps: _Steps,
) -> tuple[Decimal, Decimal, str]:
    """This claim's base for the rule, the account's yearly base before it, and the base as printed.
    ``in_scope``: the parts of the bill the rule's base counts (the in-scope amount, with the class-B
    own share where the rule adds it)."""
    if rule.base_of is not None:
        source = _line_of(prior, rule.base_of)
        base = source.base if source else ZERO
        before = source.cumulative_before if source and source.cumulative_before is not None else ZERO
        shown = y(base)
        steps.add(
            f"base {shown}, as counted by {rule.base_of}",
            f"基数 {shown}（同{account_name_zh(policy, rule.base_of)}本次计入基数）",
        )
        return base, before, shown
    in_scope_shown, in_scope_zh = _covered_shown(rule, claim)
    if rule.base_after:
        after = sum((line.amount for line in prior if line.payer in rule.base_after), start=ZERO)
        base = max(ZERO, in_scope - after)
        names = ", ".join(p.value for p in rule.base_after)
        shown, after_shown = y(base), y(after)
        steps.add(
            f"base {shown} ({in_scope_shown} − paid by {names} {after_shown})",
            f"基数 {shown}（{in_scope_zh} − {payer_names_zh(policy, rule.base_after)}已付 {after_shown}）",
        )
        return base, account.base, shown
    base = in_scope - paid_before
    if not base > ZERO:  # (what max(ZERO, base) gives)
        base = ZERO
    shown, before_shown = y(base), y(paid_before)
    steps.add(
        f"base {shown} ({in_scope_shown} − paid before {before_shown})",
        f"基数 {shown}（{in_scope_zh} − 前序已付 {before_shown}）",
    )
    return base, account.base, shown


def _candidate(
    tier: TierFor,
    rule: RuleFor,
    claim: DischargeClaim,
    in_scope: Decimal,
    prior: Sequence[PaymentLine],
    paid_before: Decimal,
    account: AccountTotals,
    cap_paid: Decimal,
    policy: Policy,
    qualified: bool,
) -> _Candidate:
    if tier.personal_share_ceiling is not None:
        return _ceiling_candidate(tier, claim, paid_before)
    c = _Candidate(tier)
    base, before, base_shown = _base(rule, claim, in_scope, prior, paid_before, account, policy, c)
    c.base = base
    if rule.annual:
        c.cumulative_before = before
    segments = tier.spans
    if not rule.annual:
        gross, shown = over(segments, ZERO, base, _ZERO_SHOWN, base_shown)
        equation, equation_zh = _equation(shown, gross)
    else:
        low, high = before, before + base
        low_shown, high_shown = y(low), y(high)
        c.add(f"yearly base {low_shown} → {high_shown}", f"本年累计 {low_shown} → {high_shown}")
        line = tier.qualifies_at
        if line is not None and not qualified and high < line:
            c.add(f"below the qualifying {y(line)}: 0.00", f"未达 {y(line)} 的救助资格线：0.00")
            return c
        if line is not None:
            _qualifying_step(c, line, low, high, qualified)
        if rule.deduct_paid_this_year:
            year, shown = over(segments, ZERO, high, _ZERO_SHOWN, high_shown)
            gross = year - account.paid
            equation, equation_zh = _equation(shown, gross, account.paid)
        else:
            gross, shown = over(segments, low, high, low_shown, high_shown)
            equation, equation_zh = _equation(shown, gross)
    c.add(f"deductible {tier.deductible}; {equation}", f"起付线 {tier.deductible}；{equation_zh}")
    if gross < 0:
        c.add("nothing more is owed", "无应付")
        gross = ZERO
    c.amount = _within_limits(gross, claim, in_scope, paid_before, rule, tier, account, cap_paid, c)
    return c


def _qualifying_step(c: _Candidate, line: Decimal, low: Decimal, high: Decimal, qualified: bool) -> None:
    """Say how the year met the qualifying line; flag a claim that lifts it over the line after others."""
    if qualified and high < line:
        c.add(f"the year reaches the qualifying {y(line)} with later claims", f"本年累计其后达到资格线 {y(line)}")
    elif low < line:
        c.reaches_back = not qualified and low > 0
        later = ": the year's earlier claims are settled again by this schedule" if c.reaches_back else ""
        later_zh = "：本年此前的就医按此标准重新结算" if c.reaches_back else ""
        c.add(
            f"the year reaches the qualifying {y(line)} with this claim{later}",
            f"本次就医使本年累计达到资格线 {y(line)}{later_zh}",
        )


def _equation(shown: list[str], gross: Decimal, paid_this_year: Decimal | None = None) -> tuple[str, str]:
    """The schedule's arithmetic as a true equation (exact, before rounding), in English and Chinese."""
    if not shown and not paid_this_year:
        return "nothing above it: 0.00", "未超过起付线：0.00"
    arithmetic = " + ".join(shown) or "0.00"
    gross_shown = exact(gross)
    if paid_this_year is None:
        equation = f"{arithmetic} = {gross_shown}"
        return equation, equation
    paid_shown = y(paid_this_year)
    return (
        f"{arithmetic} − {paid_shown} already paid this year = {gross_shown}",
        f"{arithmetic} − 本年已付 {paid_shown} = {gross_shown}",
    )


def _within_limits(
    gross: Decimal,
    claim: DischargeClaim,
    in_scope: Decimal,
    paid_before: Decimal,
    rule: RuleFor,
    tier: TierFor,
    account: AccountTotals,
    cap_paid: Decimal,
    steps: _Steps,
) -> Decimal:
    """``gross`` within what is left of the annual cap (``cap_paid``: what counts towards it this
    year), the limits of a claim, a day and a month, and never above the remaining."""
    amount = gross
    cap, cap_name, cap_name_zh = tier.cap or annual_cap(rule.rule, tier.tier, claim)
    if cap is not None:
        shared, shared_zh = rule.cap_shared
        amount = _limit(amount, cap - cap_paid, cap_name, shared_zh + cap_name_zh, steps, cap, shared)
    if rule.per_claim is not None:
        amount = _limit(
            amount, rule.per_claim, f"at most {y(rule.per_claim)} a claim", f"单次最高 {y(rule.per_claim)}", steps
        )
    if rule.per_day is not None:
        today = account.paid_by_day.get(claim.enddate, ZERO)
        amount = _limit(
            amount, rule.per_day - today, f"at most {y(rule.per_day)} a day", f"每日最高 {y(rule.per_day)}", steps
        )
    visits = rule.assisted_visits_per_month
    if visits is not None:
        month = claim.enddate.strftime("%Y-%m")
        if account.assisted_visits_by_month.get(month, 0) >= visits:
            amount = _limit(
                amount, ZERO, f"{visits} assisted visits in {month} already", f"{month} 已救助 {visits} 次", steps
            )
    if rule.with_preselfpay:
        amount = _limit(
            amount,
            in_scope - paid_before,
            "never more than the remaining in-scope amount and class-B own share",
            "不超过政策范围内及乙类先行自付剩余",
            steps,
        )
    else:
        amount = _limit(
            amount,
            in_scope - paid_before,
            "never more than the remaining in-scope amount",
            "不超过政策范围内剩余",
            steps,
        )
    return round_to_fen(amount)


def _ceiling_candidate(tier: TierFor, claim: DischargeClaim, paid_before: Decimal) -> _Candidate:
    """Pay what holds the personal share (out-of-scope parts included) to a share of the bill:
    the payment is rounded as every payment is, so the share never ends above the ceiling."""
    held_to = tier.personal_share_ceiling
    assert held_to is not None
    share = claim.medfee_sumamt - paid_before
    ceiling = claim.medfee_sumamt * held_to
    owed = share - ceiling
    amount = round_to_fen(max(ZERO, owed))
    rate = format_rate(held_to)
    c = _Candidate(tier)
    c.add(
        f"personal share so far {y(share)} (whole bill {y(claim.medfee_sumamt)} − paid {y(paid_before)}); "
        f"held to {rate} of the bill: {y(claim.medfee_sumamt)} × {rate} = {exact(ceiling)}; "
        f"{y(share)} − {exact(ceiling)} = {exact(owed)}",
        f"个人负担 {y(share)}（医疗费总额 {y(claim.medfee_sumamt)} − 已付 {y(paid_before)}）；"
        f"控制在总额的 {rate}：{y(claim.medfee_sumamt)} × {rate} = {exact(ceiling)}；"
        f"{y(share)} − {exact(ceiling)} = {exact(owed)}",
    )
    c.amount, c.base = amount, share
    return c


def _deferred(rule: RuleFor, prior: Sequence[PaymentLine], policy: Policy) -> Reason | None:
    """Why the payment waits (another account's yearly base below a line), or None."""
    deferral = rule.defer_while
    if deferral is None:
        return None
    line = _line_of(prior, deferral.account)
    cumulative = (line.cumulative_before or ZERO) + line.base if line else ZERO
    if cumulative < deferral.cumulative_base_below:
        below = f"{y(cumulative)} < {y(deferral.cumulative_base_below)}"
        return Reason(
            f"{deferral.account} yearly base {below}", f"{account_name_zh(policy, deferral.account)}本年累计 {below}"
        )
    return None


def _defer(rule: RuleFor, why: Reason, owed: Decimal, steps: _Steps) -> None:
    deferral = rule.defer_while
    assert deferral is not None
    line = y(deferral.cumulative_base_below)
    if rule.deduct_paid_this_year:
        where = (
            f"paid by a later claim of this year that lifts {deferral.account}'s yearly base to {line}, "
            "or at the year-end close"
        )
        where_zh = f"待本年度后续就医累计达到 {line} 时支付，或于年终清算时支付"
    else:
        where, where_zh = "paid at the year-end close", "于年终清算时支付"
    steps.add(
        f"{deferral.explanation} ({why.en}): {y(owed)} deferred, {where}",
        f"{deferral.explanation_zh}（{why.zh}）：{y(owed)} 暂缓支付，{where_zh}",
    )


def pay(
    claim: DischargeClaim,
    held: Collection[Category],
    prior: Sequence[PaymentLine],
    totals: YearTotals,
    policy: Policy,
    payer: PayerPolicy,
    qualified: Collection[str] = (),
) -> Paid:
    """The payment of ``payer`` on ``claim`` after the lines ``prior``, and its accounts' new totals.

    ``qualified``: the qualifying tiers (``qualification_key``) the year as known now has
    reached; they pay on every claim of the year, the earlier ones included.
    """
    own = payer_for(policy, payer, held if type(held) is frozenset else frozenset(held))
    if not own.rules:
        return Paid(None)  # no schedule of the payer is open to the person's categories
    found = applicable(own, claim)
    if found.rule is None:
        return Paid(nothing_paid(own, found, claim))
    rule, tiers = found.rule, found.tiers
    account = totals.get(rule.account, NOTHING_YET)
    paid_before = _paid_before(prior)
    in_scope = claim.inscp_scp_amt + claim.preselfpay_amt if rule.with_preselfpay else claim.inscp_scp_amt
    cap_paid = paid_towards(totals, rule.cap_accounts) if rule.cap_accounts else account.paid
    if len(tiers) == 1:  # (nine payments in ten: no comparison to make)
        best = _candidate(
            tiers[0],
            rule,
            claim,
            in_scope,
            prior,
            paid_before,
            account,
            cap_paid,
            policy,
            tiers[0].qualification in qualified,
        )
        candidates = None
    else:
        candidates = [
            _candidate(
                t, rule, claim, in_scope, prior, paid_before, account, cap_paid, policy, t.qualification in qualified
            )
            for t in tiers
        ]
        best = max(candidates, key=_amount_of)  # max keeps the first of equals: the listed order
    amount, steps = best.amount, best
    deferred = _deferred(rule, prior, policy)
    if deferred is not None:
        _defer(rule, deferred, amount, steps)
        amount = ZERO
    if candidates is not None:
        steps.add(
            "most favourable of " + ", ".join(f"{c.tier.label} {y(c.amount)}" for c in candidates),
            "就高不重复：" + "，".join(f"{c.tier.label_zh} {y(c.amount)}" for c in candidates),
        )
    paid_shown = y(amount)
    line = payment_line(
        payer=own.code,
        fund_pay_type=own.fund_code(claim.insutype),
        amount=amount,
        base=best.base,
        rule=best.tier.rule,
        explanation=best.tier.heading.en + "; ".join(steps.en) + f" → pays {paid_shown}",
        explanation_zh=best.tier.heading.zh + "；".join(steps.zh) + f" → 支付 {paid_shown}",
        applied=best.tier.label,
        account=rule.account,
        cumulative_before=best.cumulative_before,
    )
    new = account_after(
        account,
        best.base if rule.counted else ZERO,
        amount,
        claim.enddate if rule.dated else None,
        rule.assisted_visits_per_month is not None,
    )
    # a qualifying line crossed by any of the person's tiers reaches back, even when another tier pays
    # this claim more: the year's earlier claims of that tier's categories are owed on it now
    reaches_back = best.reaches_back if candidates is None else any(c.reaches_back for c in candidates)
    return Paid(line, {rule.account: new}, reaches_back)
