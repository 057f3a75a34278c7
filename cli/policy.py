"""`onestop policy …`: the pure rules as a calculator, with no broker and no database."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson
from pydantic import TypeAdapter, ValidationError

from policies.loader import (
    InForce,
    NoPolicy,
    PolicyFileError,
    in_force,
    load_contributions,
    load_policies,
    policy_named,
)
from policies.replay import as_expected, settle_case as _settle_case
from policies.settle import Settled
from schemas.cases import Case
from schemas.codes import Payer
from schemas.money import format_rate, format_yuan
from schemas.policy import Conditions, Policy, Rule, Share, Tier

_CASES = TypeAdapter(Case | list[Case])


def _read_cases(path: Path) -> tuple[list[Case], bool]:
    try:
        parsed = _CASES.validate_json(path.read_bytes())
    except ValidationError as error:
        raise click.ClickException(f"{path}: not a case file (../shared/cases/README.md):\n{error}") from None
    return (parsed, True) if isinstance(parsed, list) else ([parsed], False)


def settle_case(case: Case):
    """A case's claims settled, or a clear error naming the case when a claim has no policy."""
    try:
        return _settle_case(case)
    except NoPolicy as error:
        raise click.ClickException(f"case {case.name}: {error}") from None


@click.group()
def policy() -> None:
    """Settle worked cases and show the policies, with the pure rules only."""


@policy.command("settle")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="zh: the payers by their Chinese names in the policy (as a bureau's worked example prints them), "
    "the fields in Chinese: 基金支付, 个人负担",
)
def settle_command(file: Path, lang: str) -> None:
    """Settle a case file (or a JSON list of them) and print the payments in the shape of `expect`."""
    cases, is_list = _read_cases(file)
    shape = as_expected if lang == "en" else as_expected_zh
    results = [[shape(s) for s in settle_case(case)] for case in cases]
    output = results if is_list else results[0]
    sys.stdout.write(orjson.dumps(output, option=orjson.OPT_INDENT_2).decode() + "\n")


def as_expected_zh(settled: Settled) -> dict[str, object]:
    """A settlement as ``as_expected`` gives it, in Chinese: each payer by its name in the claim's
    policy (a name two payers share is told apart by the payer's place in the chain)."""
    names: dict[str, str] = {}
    for payer in settled.policy.payers:
        name = payer.name_zh
        names[payer.payer.value] = name if name not in names.values() else f"{name}（第{len(names) + 1}项）"
    shown = as_expected(settled)
    payments = shown["payments"]
    assert isinstance(payments, dict)
    return {
        "claim_id": shown["claim_id"],
        "基金支付": {names.get(p, p): amount for p, amount in payments.items()},
        "个人负担": shown["personal"],
    }


@policy.command("explain")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def explain_command(file: Path) -> None:
    """Print, per claim, each payment's arithmetic in Chinese and English."""
    cases, _ = _read_cases(file)
    for case in cases:
        click.echo(f"# {case.name} — {case.person.psn_no}")
        for settled in settle_case(case):
            claim = settled.claim
            click.echo(
                f"\n## {claim.claim_id}  {claim.begndate} – {claim.enddate}  "
                f"总额 total {format_yuan(claim.medfee_sumamt)}  "
                f"政策范围内 in-scope {format_yuan(claim.inscp_scp_amt)}  "
                f"policy {settled.policy.ref}"
            )
            for line in settled.lines:
                click.echo(f"- {line.payer.value} {format_yuan(line.amount)}  [{line.rule}]")
                click.echo(f"    {line.explanation_zh}")
                click.echo(f"    {line.explanation}")
            click.echo(
                f"= 基金支付 funds {format_yuan(settled.fund_pay_sumamt)}; "
                f"个人负担 personal {format_yuan(settled.psn_part_amt)}"
            )


@policy.command("show")
@click.argument("region")
def show_command(region: str) -> None:
    """Print a region's policies (name or pooled-city code) with the source of every value."""
    try:
        found = policy_named(region)
    except PolicyFileError as error:
        raise click.ClickException(str(error)) from None
    if not found:
        known = ", ".join(sorted({p.region for p in load_policies()}))
        raise click.ClickException(f"no policy for {region!r}; known regions: {known}")
    periods = sorted((in_force(item) for item in found), key=lambda p: (p.start, p.policy.ref))
    if len(periods) > 1:
        click.echo("in force, by date:")
        click.echo("\n".join(f"  {_period(p)}  {p.policy.ref}  ({', '.join(p.policy.codes)})" for p in periods) + "\n")
    for period in periods:
        click.echo(describe(period.policy, period))


def _period(period: InForce) -> str:
    return f"{period.start} – {period.end or 'open'}"


def describe(policy: Policy, period: InForce | None = None) -> str:
    """A policy in words, every value with its source; ``period``: when it is in force, with the
    newer policy that supersedes it."""
    period = period or InForce(policy, policy.in_force_from, policy.in_force_to)
    when = f"in force {_period(period)}"
    if period.superseded_by is not None:
        when += (
            f" (superseded from {period.superseded_by.in_force_from} by {period.superseded_by.ref}; "
            f"its own period {policy.in_force_from} – {policy.in_force_to or 'open'})"
        )
    if policy.supersedes:
        when += f"; supersedes {policy.supersedes} from {policy.in_force_from}"
    place = f"insured places {', '.join(policy.codes)}"
    if policy.pooled_area != policy.codes:
        place += f"; pool {', '.join(policy.pooled_area)}"
    out = [
        f"{policy.name_zh} {policy.name} — policy {policy.ref}, {when}",
        f"document: {policy.document} (seed {policy.seed}); {place}",
        *([f"source: {policy.source}"] if policy.source else []),
        "chain: " + " → ".join(p.payer.value for p in policy.payers),
    ]
    for payer in policy.payers:
        funds = (
            payer.fund_pay_type
            if isinstance(payer.fund_pay_type, str)
            else ", ".join(f"{insutype.value}: {code}" for insutype, code in payer.fund_pay_type.items())
        )
        out.append(f"\n[{payer.payer.value}] {payer.name_zh}, fund {funds}")
        for rule in payer.rules:
            out.extend(_describe_rule(rule, payer.account_of(rule)))
    if policy.categories:
        out.append("\ncategories the region declares:")
        out.extend(
            f"  {c.code} {c.name_zh} ({c.name}), issued by {c.authority.value}  — source: {c.source}"
            for c in policy.categories
        )
    for alert in policy.alerts:
        out.append(
            f"\n[alert {alert.name}] {alert.categories or 'everyone else'}: in-scope personal share after "
            f"{', '.join(p.value for p in alert.measured_after)} above {format_yuan(alert.threshold)}  "
            f"— source: {alert.source}"
        )
    for closing in policy.year_end:
        top_up = closing.top_up
        if top_up is None:
            what = "pays F(the year's base) − what each annual account paid in the year"
        else:
            what = (
                f"tops up ({top_up.label}) [{', '.join(top_up.categories) if top_up.categories else 'everyone'}]: "
                f"the person's share of the in-scope costs of the year's claims ({_conditions(top_up.when)}) "
                f"held to {format_rate(top_up.personal_share_ceiling)} of them"
            )
        out.append(f"\n[year end] {closing.payer.value} {what}  — source: {closing.source}")
    out.extend(describe_premiums(policy))
    if policy.readings:
        out.append("\nreadings taken where the seed is silent or unclear:")
        out.extend(f"  - {reading}" for reading in policy.readings)
    return "\n".join(out)


def _conditions(when: Conditions | None) -> str:
    if when is None:
        return "any claim"
    fields = {k: v for k, v in when.model_dump(exclude_none=True, mode="json").items() if k != "any_of"}
    text = ", ".join(f"{k}={v}" for k, v in fields.items()) or "any claim"
    alternatives = getattr(when, "any_of", None)
    if alternatives:
        text += "; and one of: " + " | ".join(_conditions(a) for a in alternatives)
    return text


def _describe_rule(rule: Rule, account: str) -> list[str]:
    limits = {k: v for k, v in rule.limits.model_dump(exclude_none=True, mode="json").items()}
    lines = [
        f"  rule {rule.name} ({rule.scope}, account {account}) — source: {rule.source}",
        f"    when: {_conditions(rule.when)}",
    ]
    if rule.base_of:
        lines.append(f"    base and yearly cumulative: those of {rule.base_of}")
    if limits:
        lines.append(f"    limits: {limits}")
    if rule.defer_while:
        d = rule.defer_while
        lines.append(
            f"    deferred while {d.account} yearly base < {format_yuan(d.cumulative_base_below)}: {d.explanation}"
        )
    lines.extend(_describe_tier(tier, rule) for tier in rule.tiers)
    return lines


def _describe_tier(tier: Tier, rule: Rule) -> str:
    who = ", ".join(tier.categories) if tier.categories else "everyone"
    if tier.personal_share_ceiling is not None:
        what = f"personal share held to {format_rate(tier.personal_share_ceiling)} of the bill"
    else:
        what = "; ".join(f"from {format_yuan(s.from_)} {format_rate(s.rate)}" for s in tier.segments or [])
    extras = []
    if tier.when:
        extras.append(f"when {_conditions(tier.when)}")
    if tier.qualifies_at is not None:
        extras.append(f"only once the yearly base reaches {format_yuan(tier.qualifies_at)}")
    if tier.annual_cap is not None:
        extras.append(f"annual cap {format_yuan(tier.annual_cap)}")
    if tier.uncapped:
        extras.append("no cap")
    source = f"  — source: {tier.source}" if tier.source else "  (source: the rule's)"
    return f"    · {tier.label} [{who}]: {what}{'; ' + '; '.join(extras) if extras else ''}{source}"


def describe_premiums(policy: Policy) -> list[str]:
    """A policy's premium subsidies (参保资助) in words, row by row as the seed states them, with the
    year's contribution and its source (policies/data/contributions.yaml)."""
    premiums = policy.premiums
    if premiums is None:
        return []
    contributions = load_contributions()
    years = ", ".join(
        f"{year} {format_yuan(amount)}"
        for year, amount in sorted(contributions.years.items())
        if year >= premiums.first_year
    )
    out = [
        f"\n[premium subsidies 参保资助] from {premiums.first_year} — source: {premiums.source}",
        f"  the year's individual contribution: {years} — source: {contributions.source}",
        "  paid by (between equal amounts, the first listed): "
        + "; ".join(
            f"{fund.payer.value} {fund.name_zh}, fund {fund.fund_pay_type} — source: {fund.source}"
            for fund in premiums.funds
        ),
    ]
    for row in premiums.rows:
        if isinstance(row.amount, Share):
            amount = f"{format_rate(row.amount.share)} of the contribution"
        elif isinstance(row.amount, str):
            amount = "the whole contribution"
        else:
            amount = f"a fixed {format_yuan(row.amount.fixed)}, at most the contribution"
        payers = (
            row.paid_by.value
            if isinstance(row.paid_by, Payer)
            else ", ".join(
                f"{part.payer.value} {format_rate(part.share)} (rounded half up)"
                if part.share is not None
                else f"{part.payer.value} the rest"
                for part in row.paid_by
            )
        )
        out.append(
            f"    · {row.label} / {row.label_zh} [{', '.join(row.categories)}]: {amount}, paid by {payers}"
            f"  — source: {row.source}"
        )
    return out
