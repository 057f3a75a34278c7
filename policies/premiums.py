"""Premium subsidies (参保资助, PARAMETERS.md "Premium subsidies"): the funds pay the resident-insurance
contribution of people in hardship — the first duty of every seed (000 一(一), 001 二(一),
002 三(一), 003 二(一), 004 一).

Pure. The region's rows (its policy file's ``premiums``) say who is subsidised, how much (the whole
contribution, a share, a fixed sum) and by whom; the year's contribution is shared data
(policies/data/contributions.yaml). :func:`subsidy_of` gives the subsidy of a person holding some
categories; :func:`entitlement` when a person is subsidised for a rolled year, from what is known
at one point of their order (their categories and enrollment as known then):

- at the roll: everyone insured in the region (resident insurance, 390) holding a subsidised
  category on 1 January, due 1 January; one whose category (or insurance) begins later in the
  year, known at the roll, due the first day of the month after it begins;
- later (a grant or an enrollment received after the roll): due the first day of the month after
  the category's start or the day the change was recorded, whichever is later (seed 002 三(一)4:
  纳入…系统后次月及时资助), never before 1 January;
- several categories: the earliest due, then the largest amount, then the fund listed first.

Once subsidised for a year, a person is never topped up or recovered for it (seed 002 三(一)4:
不再追补资助或追回资金): policies/ledger.py makes the entry once and keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from schemas.codes import CATEGORY_ZH, Category, InsuType, Payer, categories_named
from schemas.events import CategoryHeld, PaymentLine
from schemas.money import format_rate, format_yuan, round_to_fen
from schemas.policy import Contributions, Fixed, Policy, PremiumRow, Share

from .enrollment import Enrolled, resident_in
from .loader import load_contributions, load_policies
from .nhsa import CHINA

y = format_yuan


class NoPremiums(LookupError):
    """A region or year whose premium subsidies no policy (or no contribution) gives: the message says which."""


def premium_policy(region: str, year: int, policies: Iterable[Policy] | None = None) -> Policy:
    """The policy whose ``premiums`` subsidise ``region``'s ``year``: of those in force during the
    year with premiums from that year on, the one in force on 1 January, else the first to begin."""
    policies = list(load_policies() if policies is None else policies)
    regional = [p for p in policies if p.region == region]
    if not regional:
        raise NoPremiums(
            f"no policy of a region named {region!r}; known regions: {', '.join(sorted({p.region for p in policies}))}"
        )
    first, last = date(year, 1, 1), date(year, 12, 31)
    fitting = [
        p
        for p in regional
        if p.premiums is not None
        and p.premiums.first_year <= year
        and p.in_force_from <= last
        and (p.in_force_to is None or p.in_force_to >= first)
    ]
    if not fitting:
        years = ", ".join(f"{p.ref} from {p.premiums.first_year}" for p in regional if p.premiums is not None)
        raise NoPremiums(
            f"{region} subsidises no premiums of {year}"
            + (f" (premium subsidies: {years})" if years else ": its policy has no premiums section")
        )
    return min(fitting, key=lambda p: (not p.in_force_on(first), p.in_force_from))


def contribution_of(year: int, contributions: Contributions | None = None) -> Decimal:
    """The year's individual contribution (policies/data/contributions.yaml)."""
    contributions = contributions or load_contributions()
    if year not in contributions.years:
        known = ", ".join(str(y) for y in sorted(contributions.years))
        raise NoPremiums(
            f"no individual contribution is known for {year} (policies/data/contributions.yaml has {known})"
        )
    return contributions.years[year]


def roll_refusal(region: str, year: int) -> str | None:
    """Why ``region``'s ``year`` cannot be rolled (no policy subsidises it, or its contribution is
    not known); None when it can."""
    try:
        premium_policy(region, year)
        contribution_of(year)
    except NoPremiums as why:
        return str(why)
    return None


# --- what a person holding some categories is subsidised ------------------------------------------


@dataclass(frozen=True)
class Subsidy:
    """What one row gives a person for a year: the amount, the category that earned it, the lines."""

    row: PremiumRow
    category: Category
    contribution: Decimal
    amount: Decimal
    lines: tuple[PaymentLine, ...]


def amount_of(row: PremiumRow, contribution: Decimal) -> Decimal:
    """A row's subsidy of ``contribution``: all of it, its share (rounded half up) or a fixed sum,
    never more than the contribution."""
    if isinstance(row.amount, Share):
        return round_to_fen(contribution * row.amount.share)
    if isinstance(row.amount, Fixed):
        return min(row.amount.fixed, contribution)
    return contribution


def _named(row: PremiumRow) -> list[Category]:
    return list(dict.fromkeys(c for pattern in row.categories for c in categories_named(pattern)))


def subsidised_categories(policy: Policy) -> set[Category]:
    """Every category some row of the policy subsidises."""
    return {c for row in (policy.premiums.rows if policy.premiums else ()) for c in _named(row)}


def subsidy_of(policy: Policy, year: int, contribution: Decimal, held: Iterable[Category]) -> Subsidy | None:
    """The subsidy of a person holding ``held``: the largest amount of the rows naming one of them
    (between equal amounts, the fund listed first); None when no row names any."""
    premiums = policy.premiums
    if premiums is None:
        return None
    held = set(held)
    order = [fund.payer for fund in premiums.funds]
    best: tuple[Decimal, int, int, PremiumRow, Category] | None = None
    for index, row in enumerate(premiums.rows):
        category = next((c for c in _named(row) if c in held), None)
        if category is None:
            continue
        candidate = (amount_of(row, contribution), -order.index(row.payers[0]), -index, row, category)
        if best is None or candidate[:3] > best[:3]:
            best = candidate
    if best is None:
        return None
    amount, _, _, row, category = best
    return Subsidy(row, category, contribution, amount, _lines(policy, year, row, category, contribution, amount))


def _how(row: PremiumRow) -> tuple[str, str]:
    if isinstance(row.amount, Share):
        return f"{format_rate(row.amount.share)} of it", f"按{format_rate(row.amount.share)}资助"
    if isinstance(row.amount, Fixed):
        return (
            f"a fixed {y(row.amount.fixed)}, never more than the contribution",
            f"定额资助 {y(row.amount.fixed)}（不超过个人缴费）",
        )
    return "in full", "全额资助"


def _lines(
    policy: Policy, year: int, row: PremiumRow, category: Category, contribution: Decimal, amount: Decimal
) -> tuple[PaymentLine, ...]:
    premiums = policy.premiums
    assert premiums is not None  # (subsidy_of asks only a policy with premiums)
    how_en, how_zh = _how(row)
    head_en = (
        f"premium subsidy (参保资助) for {year} of {category.value}: the year's individual contribution "
        f"{y(contribution)}, subsidised {how_en} = {y(amount)}"
    )
    head_zh = (
        f"{year}年城乡居民医保个人缴费资助（{CATEGORY_ZH[category]}）：个人缴费 {y(contribution)}，"
        f"{how_zh} = {y(amount)}"
    )
    parts: list[tuple[Payer, Decimal, str, str]] = []
    if isinstance(row.paid_by, Payer):
        name_zh = premiums.fund(row.paid_by).name_zh
        parts.append((row.paid_by, amount, f"paid by {row.paid_by.value}", f"由{name_zh}支付"))
    else:
        left = amount
        for part in row.paid_by:
            name_zh = premiums.fund(part.payer).name_zh
            if part.share is None:
                parts.append((part.payer, left, f"{part.payer.value} pays the rest", f"{name_zh}承担其余"))
            else:
                share = round_to_fen(amount * part.share)
                left -= share
                parts.append(
                    (
                        part.payer,
                        share,
                        f"{part.payer.value} pays {format_rate(part.share)} of {y(amount)}, rounded half up",
                        f"{name_zh}承担{format_rate(part.share)}（四舍五入到分）",
                    )
                )
    return tuple(
        PaymentLine(
            payer=payer,
            fund_pay_type=premiums.fund(payer).fund_pay_type,
            amount=paid,
            base=contribution,
            rule=f"{policy.ref}#premiums[{row.label}]",
            explanation=f"{head_en}; {en} → pays {y(paid)} ({row.source})",
            explanation_zh=f"{head_zh}；{zh} → 支付 {y(paid)}（{row.source}）",
            applied=category.value,
        )
        for payer, paid, en, zh in parts
    )


# --- when a person is subsidised for a rolled year ------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A person's premium subsidy for one region's year, as the rules give it at one point."""

    region: str
    year: int
    policy: Policy
    subsidy: Subsidy
    due_date: date
    insuplc_admdvs: str  # where the person is insured when the subsidy begins
    identity: tuple[CategoryHeld, ...]  # the categories held in the year, as known then


def first_of_next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def known_on(moment: datetime) -> date:
    """The day something was recorded, in China Standard Time (the regions' own)."""
    return moment.astimezone(CHINA).date()


def entitlement(
    policy: Policy,
    year: int,
    contribution: Decimal,
    identity: Sequence[CategoryHeld],
    enrolled: Sequence[Enrolled],
    recorded: date | None,
) -> Due | None:
    """The person's subsidy for ``policy``'s region and ``year``, from their ``identity`` and
    ``enrolled`` periods as known at one point: at the roll (``recorded`` None), or at a change
    recorded on ``recorded`` after it. None when they are not subsidised (yet)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    subsidised = subsidised_categories(policy)
    insured = [p for p in enrolled if p.insutype == InsuType.resident and p.insuplc_admdvs.startswith(policy.codes)]
    candidates: list[tuple[date, CategoryHeld, Enrolled]] = []
    for held in identity:
        if held.code not in subsidised:
            continue
        for period in insured:
            # the category's own start counts (a grant valid from before the year, recorded in December
            # and received after the roll, is due 1 January); insurance only once it begins in the year
            start = held.valid_from if period.start <= first else max(held.valid_from, period.start)
            end = min(d for d in (held.valid_to, period.end, last) if d is not None)
            if start > end or end < first:
                continue
            if recorded is None:
                due = first if start <= first else first_of_next_month(start)
            elif max(start, recorded) > last:
                continue  # known only after the year ended: that year is not subsidised after the fact
            else:
                due = max(first, first_of_next_month(max(start, recorded)))
            candidates.append((due, held, period))
    if not candidates:
        return None
    due_date = min(due for due, _, _ in candidates)
    earliest = [(held, period) for due, held, period in candidates if due == due_date]
    subsidy = subsidy_of(policy, year, contribution, {held.code for held, _ in earliest})
    assert subsidy is not None  # (every candidate's category is a subsidised one)
    place = next(period for held, period in earliest if held.code == subsidy.category).insuplc_admdvs
    in_year = tuple(h for h in identity if h.valid_from <= last and (h.valid_to is None or h.valid_to >= first))
    return Due(policy.region, year, policy, subsidy, due_date, place, in_year)


def may_subsidise(region: str, year: int, identity: Iterable[CategoryHeld], enrolled: Iterable[Enrolled]) -> bool:
    """Whether a roll of ``region``'s ``year`` may subsidise a person (so the stores put it in their
    order): insured with resident insurance in the region during the year, holding a category it
    subsidises then. The rules decide, in the person's order, whether and when it does."""
    try:
        policy = premium_policy(region, year)
    except NoPremiums:  # (a roll is accepted only with its policy: one a later release dropped subsidises no one)
        return False
    first, last = date(year, 1, 1), date(year, 12, 31)
    categories = subsidised_categories(policy)
    return bool(resident_in(enrolled, policy.codes, first, last)) and any(
        held.code in categories and held.in_force_during(first, last) for held in identity
    )


def roll_scope(region: str, year: int) -> tuple[list[str], list[str]]:
    """The insured places a roll looks in (division-code prefixes) and the categories it looks for
    (their codes, sorted)."""
    policy = premium_policy(region, year)
    return list(policy.codes), sorted(c.value for c in subsidised_categories(policy))
