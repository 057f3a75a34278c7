"""What of a payer applies to a person and to a claim, and the names its lines print.

A payer's rules are read once per policy, payer and categories held (``payer_for``): the rules
with a tier open to the person, each rule's and tier's figures copied out of the policy models.
For a claim, the first of those rules whose conditions hold and its tiers whose conditions hold
apply (``applicable``), or why none does, in words (``nothing_paid``). The arithmetic of a payment
is policies/payer.py's.

Compiled with the rest of a claim's settlement (mypyc, `onestop compile-rules`; schemas/compiled.py):
the readings are frozen dataclasses of plain values, because reading an attribute of a pydantic
model costs about twice as much as one of these, and every claim reads them several times; what
the rules make of a claim is kept per the values of the claim's fields the rules read, because
most claims share them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from typing import Any

from schemas.codes import Category, InsuType, Payer, category_name_zh
from schemas.events import DischargeClaim, PaymentLine

# (imported under its short name, not assigned to it: a compiled rule then calls it directly)
from schemas.money import ZERO, format_yuan as y
from schemas.policy import Deferral, PayerPolicy, Policy, Rule, Tier
from schemas.trusted import built

from .conditions import Reason, fields_read, holding, open_to, when_failures, when_holds
from .diseases import major_disease_of
from .schedule import Span, spans

#: a cap with its name in English and Chinese (None: no cap)
Cap = tuple[Decimal | None, str, str]


@dataclass(frozen=True)
class TierFor:
    """A tier as it reads for one person: its label names the person's categories it is open to."""

    tier: Tier
    label: str
    label_zh: str
    qualification: str  # how ``qualified`` names it (qualification_key)
    rule: str  # the ``rule`` of the lines it pays
    heading: Reason  # how their explanations begin
    spans: tuple[Span, ...]  # its segments, read once (schedule.py)
    deductible: str  # the start of its first segment, as printed
    #: the annual cap with its names (annual_cap), or None when it depends on the claim's disease
    cap: Cap | None
    personal_share_ceiling: Decimal | None
    qualifies_at: Decimal | None


@dataclass(frozen=True)
class RuleFor:
    """A rule as it reads for one person: the tiers open to their categories, in the listed order.

    The rule's figures are copied here once (_rule_for): every claim reads them several times."""

    rule: Rule
    account: str
    tiers: tuple[TierFor, ...]
    annual: bool  # scope annual: the schedule runs over the account's yearly base
    counted: bool  # the claim's base adds to the account's yearly base (annual, on a base of its own)
    base_of: str | None
    base_after: list[Payer] | None
    deduct_paid_this_year: bool
    defer_while: Deferral | None
    per_claim: Decimal | None
    per_day: Decimal | None
    assisted_visits_per_month: int | None
    dated: bool  # the account keeps what it paid per day (a daily or a monthly limit)
    with_preselfpay: bool  # the base counts the class-B own share (乙类先行自付) besides the in-scope amount
    #: the accounts whose payments this year count towards the rule's annual cap: its own, or those of
    #: every rule sharing the cap (empty: its own); and how the cap's name says so, in English and Chinese
    cap_accounts: tuple[str, ...]
    cap_shared: tuple[str, str]


@dataclass(frozen=True)
class Applicable:
    """What a payer's rules make of a claim: the first rule whose conditions hold and its tiers
    whose conditions hold; or, when none covers the claim, why not in words."""

    rule: RuleFor | None
    tiers: tuple[TierFor, ...] = ()
    why_not: Reason | None = None
    #: when none covers it, the payer's zero line per insurance type (its fund code), once made
    nothing: dict[InsuType, PaymentLine] = field(default_factory=dict)


@dataclass(frozen=True)
class PayerFor:
    """A payer as it reads for one person: the rules with a tier open to their categories."""

    payer: PayerPolicy
    code: Payer  # the payer's name (payer.payer)
    rule_id: str  # <policy ref>#<payer>
    rules: tuple[RuleFor, ...]
    reads: Callable[[DischargeClaim], Hashable]  # the values of the claim's fields the rules' conditions read
    pool: tuple[str, ...]  # the policy's pooled area, for the condition area: pooled_city
    #: what the rules make of a claim, per those values (all it depends on), as they are met
    applicable: dict[Hashable, Applicable] = field(default_factory=dict)
    #: the payer's fund code per insurance type, as met
    fund_codes: dict[InsuType, str] = field(default_factory=dict)

    def fund_code(self, insutype: InsuType) -> str:
        code = self.fund_codes.get(insutype)
        if code is None:
            code = self.fund_codes[insutype] = self.payer.fund_code(insutype)
        return code


def payer_for(policy: Policy, payer: PayerPolicy, held: frozenset[Category]) -> PayerFor:
    """What of ``payer`` can apply to a person holding ``held``, worked out once per policy, payer
    and categories: it does not depend on the claim."""
    key = (id(policy), id(payer), held)
    found = _PAYERS_FOR.get(key)
    if found is None:  # (kept with its policy, so the ids are not reused while cached)
        found = _PAYERS_FOR[key] = (policy, _read_for(policy, payer, held))
    return found[1]


#: payers as they read for a person, per policy, payer and categories held (a policy is an immutable value)
_PAYERS_FOR: dict[tuple[int, int, frozenset[Category]], tuple[Policy, PayerFor]] = {}


def _read_for(policy: Policy, payer: PayerPolicy, held: frozenset[Category]) -> PayerFor:
    rule_id = f"{policy.ref}#{payer.payer.value}"
    rules = []
    for rule in payer.rules:
        account = payer.account_of(rule)
        tiers = tuple(
            _tier_for(policy, payer, rule, account, tier, held, rule_id)
            for tier in rule.tiers
            if open_to(tier.categories, held)
        )
        if tiers:
            rules.append(_rule_for(policy, rule, account, tiers))
    conditions = [when for r in rules for when in (r.rule.when, *(t.tier.when for t in r.tiers))]
    fields = sorted(set().union(*map(fields_read, conditions)))
    return PayerFor(
        payer, payer.payer, rule_id, tuple(rules), attrgetter(*fields) if fields else _reads_nothing, policy.pooled_area
    )


def _rule_for(policy: Policy, rule: Rule, account: str, tiers: tuple[TierFor, ...]) -> RuleFor:
    limits, annual = rule.limits, rule.scope == "annual"
    sharing = cap_accounts(policy, rule)
    others = [a for a in sharing if a != account]  # (a cap named by one rule alone is its own)
    shared = (f" shared with {', '.join(others)}", "共用")  # (the Chinese names no account: they have no Chinese names)
    return RuleFor(
        rule,
        account,
        tiers,
        annual,
        annual and rule.base_of is None,
        rule.base_of,
        rule.base_after,
        rule.deduct_paid_this_year,
        rule.defer_while,
        limits.per_claim,
        limits.per_day,
        limits.assisted_visits_per_month,
        limits.per_day is not None or limits.assisted_visits_per_month is not None,
        "preselfpay_amt" in rule.base_parts,
        sharing,
        shared if others else ("", ""),
    )


def cap_accounts(policy: Policy, rule: Rule) -> tuple[str, ...]:
    """The accounts of every rule of the policy sharing the rule's annual cap (``shared_cap``), in the
    chain's order; none when it shares none (its own account's payments count)."""
    name = rule.limits.shared_cap
    if name is None:
        return ()
    return tuple(dict.fromkeys(p.account_of(r) for p in policy.payers for r in p.rules if r.limits.shared_cap == name))


def _tier_for(
    policy: Policy, payer: PayerPolicy, rule: Rule, account: str, tier: Tier, held: frozenset[Category], rule_id: str
) -> TierFor:
    label, label_zh = tier_label(tier, held), tier_label_zh(tier, held, policy)
    return TierFor(
        tier,
        label,
        label_zh,
        qualification_key(account, tier),
        f"{rule_id}.{rule.name}[{tier.label}]",
        Reason(f"{payer.payer.value} ({rule.name}, {label}): ", f"{payer.name_zh}（{label_zh}）："),
        spans(tier.segments or []),
        y(tier.deductible),
        _claim_free_cap(rule, tier),
        tier.personal_share_ceiling,
        tier.qualifies_at,
    )


def _reads_nothing(claim: DischargeClaim) -> tuple[()]:
    return ()


def qualification_key(account: str, tier: Tier) -> str:
    """How a qualifying tier is named in ``qualified``: ``<account>[<tier label>]``."""
    return f"{account}[{tier.label}]"


def applicable(payer: PayerFor, claim: DischargeClaim) -> Applicable:
    """What the payer's rules make of the claim, worked out once per values of the claim's fields
    their conditions read."""
    key = payer.reads(claim)
    found = payer.applicable.get(key)
    if found is None:
        if len(payer.applicable) >= _MOST_KEPT:  # a worker meets ever more places (and days) over the years
            payer.applicable.clear()
        found = payer.applicable[key] = _apply(payer, claim)
    return found


#: how many outcomes of a payer's conditions are kept per person's reading of it, at most
_MOST_KEPT = 20_000


def _apply(payer: PayerFor, claim: DischargeClaim) -> Applicable:
    """The first rule whose conditions hold and some tier of which the person qualifies for."""
    pool = payer.pool
    for rule in payer.rules:
        if not when_holds(rule.rule.when, claim, pool):
            continue
        tiers = tuple(t for t in rule.tiers if when_holds(t.tier.when, claim, pool))
        if tiers:
            return Applicable(rule, tiers)
    reasons = _why_not(payer, claim)
    why = "; ".join(r.en for r in reasons) or "no rule covers this claim"
    why_zh = "；".join(r.zh for r in reasons) or "无适用规则"
    return Applicable(
        None, why_not=Reason(f"{payer.payer.payer.value} pays nothing: {why}", f"{payer.payer.name_zh}不支付：{why_zh}")
    )


def _why_not(payer: PayerFor, claim: DischargeClaim) -> list[Reason]:
    """Why no rule of the payer covers the claim, rule by rule, in words."""
    reasons: list[Reason] = []
    for read in payer.rules:
        rule = read.rule
        missing = when_failures(rule.when, claim, payer.pool)
        if missing:
            reasons.append(
                Reason(f"{rule.name}: " + "; ".join(r.en for r in missing), "；".join(r.zh for r in missing))
            )
            continue
        # the rule covers the claim, and none of its schedules open to the person does: say why each not
        per_tier = [(t, when_failures(t.tier.when, claim, payer.pool)) for t in read.tiers]
        if all(failed for _, failed in per_tier):
            reasons.append(
                Reason(
                    f"{rule.name}: no schedule applies to this claim: "
                    + "; ".join(f"{t.tier.label}: " + ", ".join(r.en for r in failed) for t, failed in per_tier),
                    "无适用于本次就医的标准："
                    + "；".join(
                        f"{t.tier.label_zh or t.tier.label}：" + "，".join(r.zh for r in failed)
                        for t, failed in per_tier
                    ),
                )
            )
        else:
            reasons.append(
                Reason(
                    f"{rule.name}: no schedule of the person's categories applies to this claim",
                    "本人所属类别无适用于本次就医的标准",
                )
            )
    return reasons


def nothing_paid(payer: PayerFor, found: Applicable, claim: DischargeClaim) -> PaymentLine:
    """The zero line of a payer whose rules do not cover the claim: the same for every claim with
    this outcome and insurance type, so it is made once (a line is an immutable value)."""
    line = found.nothing.get(claim.insutype)
    if line is None:
        assert found.why_not is not None
        why, why_zh = found.why_not
        line = found.nothing[claim.insutype] = payment_line(
            payer=payer.code,
            fund_pay_type=payer.fund_code(claim.insutype),
            amount=ZERO,
            base=ZERO,
            rule=f"{payer.rule_id}.not_applicable",
            explanation=why,
            explanation_zh=why_zh,
            applied=None,
            account=None,
            cumulative_before=None,
        )
    return line


def payment_line(**fields: Any) -> PaymentLine:
    """A payment line of values computed here, each of its field's type, given in the schema's order."""
    return built(PaymentLine, fields)


# --- names ---------------------------------------------------------------------------------------


def account_name_zh(policy: Policy, account: str) -> str:
    """The Chinese name of the payer an account belongs to (e.g. critical → 大病保险)."""
    for payer in policy.payers:
        if any(payer.account_of(rule) == account for rule in payer.rules):
            return payer.name_zh
    return account


def payer_names_zh(policy: Policy, payers: Collection[Payer]) -> str:
    names = {p.payer: p.name_zh for p in policy.payers}
    return "、".join(names.get(p, p.value) for p in payers)


def tier_label(tier: Tier, held: Collection[Category]) -> str:
    named = holding(tier.categories, held) if tier.categories is not None else []
    return ", ".join(c.value for c in named) or tier.label


def tier_label_zh(tier: Tier, held: Collection[Category], policy: Policy) -> str:
    named = holding(tier.categories, held) if tier.categories is not None else []
    return "、".join(name_zh(policy, c) for c in named) or tier.label_zh or tier.label


def name_zh(policy: Policy, category: Category) -> str:
    """A category's Chinese name: as the policy declares it, or the national list's."""
    declared = next((d.name_zh for d in policy.categories if d.code == category.value), None)
    return declared if declared is not None else category_name_zh(category)


# --- caps ----------------------------------------------------------------------------------------


def annual_cap(rule: Rule, tier: Tier, claim: DischargeClaim) -> Cap:
    """The annual cap that applies, with its name in English and Chinese (None: no cap)."""
    cap = _claim_free_cap(rule, tier)
    if cap is not None:
        return cap
    disease = major_disease_of(claim.dise_codg, claim.age)
    if disease is not None:
        return (
            rule.limits.major_disease_annual_cap,
            f"annual cap for the major disease {disease.name} ({disease.name_zh})",
            f"重大疾病（{disease.name_zh}）年度限额",
        )
    return rule.limits.annual_cap, "annual cap", "年度限额"


def _claim_free_cap(rule: Rule, tier: Tier) -> Cap | None:
    """The annual cap when it does not depend on the claim (read once per tier), else None."""
    if tier.uncapped:
        return None, "no cap (上不封顶)", "上不封顶"
    if tier.annual_cap is not None:
        return tier.annual_cap, "annual cap", "年度限额"
    if rule.limits.major_disease_annual_cap is not None:
        return None  # a major disease has a cap of its own
    return rule.limits.annual_cap, "annual cap", "年度限额"
