"""The patient's settlement slip (一站式结算单): one page saying what the bill was, what each fund
paid and by which rule, what the patient pays, where the year stands, and what changed later.

Pure: the claim's records (in the order recorded), the year's totals as known now and the
policy in; the slip's content out (render/ prints it as HTML and PDF).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from policies.diseases import major_disease_of
from policies.ledger import summed
from policies.nhsa import china_time, fund_of, policy_or_none
from schemas.events import DischargeClaim, Settlement
from schemas.money import ZERO
from schemas.policy import PayerPolicy, Policy, Rule, Tier
from schemas.totals import YearTotals

from . import labels


class SlipError(ValueError):
    pass


@dataclass(frozen=True)
class FundPaid:
    payer: str
    name_zh: str
    name_en: str
    fund_pay_type: str
    fund_name: str
    amount: Decimal
    rule: str  # the rule and schedule, e.g. "inpatient · resident level 1"
    explanation_zh: str
    explanation_en: str


@dataclass(frozen=True)
class RunningTotal:
    """One account of the claim's year, as known now: how far the year went, what is left."""

    account: str
    name_zh: str
    name_en: str
    yearly_base: Decimal
    paid: Decimal
    deductible: Decimal | None  # the schedule's deductible (起付线)
    per_stay: bool  # the deductible applies to each stay, not to the year
    cap: Decimal | None  # the annual cap (年度限额); None: none known
    uncapped: bool

    @property
    def deductible_left(self) -> Decimal | None:
        """What of a yearly deductible is still to be reached (0: met); None for a per-stay one."""
        if self.deductible is None or self.per_stay:
            return None
        return max(self.deductible - self.yearly_base, ZERO)

    @property
    def cap_left(self) -> Decimal | None:
        return None if self.cap is None else max(self.cap - self.paid, ZERO)


@dataclass(frozen=True)
class LaterRecord:
    settlement_id: str
    kind: str
    settled_at: datetime
    reason: str
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    psn_part_amt: Decimal
    by_payer: dict[str, Decimal]


@dataclass(frozen=True)
class Slip:
    claim_id: str
    setl_id: str
    psn_no: str
    insuplc_admdvs: str
    region_name: str
    region_name_en: str
    document: str
    hospital_code: str | None
    hospital_name: str | None
    med_type: str | None
    begndate: date | None
    enddate: date | None
    settled_at: datetime
    categories: list[str]
    bill: dict[str, Decimal | None]
    funds: list[FundPaid]
    fund_pay_sumamt: Decimal
    psn_part_amt: Decimal
    year: int | None
    totals: list[RunningTotal]
    later: list[LaterRecord]
    now: Settlement  # what the claim's records add up to
    generated_at: datetime

    @property
    def changed(self) -> bool:
        return bool(self.later)


RULE_REF = re.compile(r"#(?P<payer>\w+)\.(?P<rule>[^\[]+)(\[(?P<tier>.*)\])?$")


def _rule_of(policy: Policy | None, rule_ref: str) -> tuple[PayerPolicy | None, Rule | None, Tier | None]:
    match = RULE_REF.search(rule_ref)
    if policy is None or match is None:
        return None, None, None
    payer = next((p for p in policy.payers if p.payer.value == match["payer"]), None)
    rule = next((r for r in payer.rules if r.name == match["rule"]), None) if payer else None
    tier = next((t for t in rule.tiers if t.label == match["tier"]), None) if rule else None
    return payer, rule, tier


def _rule_words(rule_ref: str) -> str:
    match = RULE_REF.search(rule_ref)
    if match is None:
        return rule_ref
    return f"{match['rule'].replace('_', ' ')}" + (f" · {match['tier']}" if match["tier"] else "")


def build_slip(
    records: Sequence[Settlement],
    totals: YearTotals | None,
    generated_at: datetime,
    policy: Policy | None = None,
    claim: DischargeClaim | None = None,
) -> Slip:
    """The slip of one claim from its records in the order recorded (the first settled it; the
    later ones are listed under it), its year's totals as known now and (for the annual cap of a
    major disease) the claim itself."""
    if not records:
        raise SlipError("no records")
    first = records[0]
    if first.claim_id.startswith("year-end/"):
        raise SlipError(f"{first.claim_id} is a year-end payment to a person, not a claim: it has no settlement slip")
    policy = policy if policy is not None else policy_or_none(first)
    funds = []
    for line in first.payments:
        payer = next((p for p in policy.payers if p.payer == line.payer), None) if policy else None
        fund = fund_of(line.fund_pay_type, policy, line)
        funds.append(
            FundPaid(
                line.payer.value,
                payer.name_zh if payer else line.payer.value,
                labels.PAYER_EN.get(line.payer.value, line.payer.value),
                line.fund_pay_type,
                fund.name,
                line.amount,
                _rule_words(line.rule),
                line.explanation_zh,
                line.explanation,
            )
        )
    running = _running(first, totals or {}, policy, claim)
    later = [
        LaterRecord(
            r.settlement_id,
            r.kind,
            r.settled_at,
            r.reason or "",
            r.medfee_sumamt,
            r.fund_pay_sumamt,
            r.psn_part_amt,
            {line.payer.value: line.amount for line in r.payments if line.amount},
        )
        for r in records[1:]
    ]
    return Slip(
        claim_id=first.claim_id,
        setl_id=first.settlement_id,
        psn_no=first.psn_no,
        insuplc_admdvs=first.insuplc_admdvs,
        region_name=policy.name_zh if policy else first.policy.region,
        region_name_en=policy.name if policy else first.policy.region,
        document=policy.document if policy else "",
        hospital_code=first.fixmedins_code,
        hospital_name=first.fixmedins_name,
        med_type=first.med_type.value if first.med_type else None,
        begndate=first.begndate,
        enddate=first.enddate,
        settled_at=china_time(first.settled_at),
        categories=[labels.category(h.code.value) for h in first.identity],
        bill={part: getattr(first, part) for part, _, _ in labels.BILL_PARTS},
        funds=funds,
        fund_pay_sumamt=first.fund_pay_sumamt,
        psn_part_amt=first.psn_part_amt,
        year=first.year,
        totals=running,
        later=later,
        now=summed(list(records)),
        generated_at=china_time(generated_at),
    )


def _annual_cap(rule: Rule | None, tier: Tier | None, claim: DischargeClaim | None) -> Decimal | None:
    """The annual cap the claim's schedule runs under (as policies/payer.py chooses it)."""
    if tier is not None and tier.uncapped:
        return None
    if tier is not None and tier.annual_cap is not None:
        return tier.annual_cap
    if rule is None:
        return None
    if (
        rule.limits.major_disease_annual_cap is not None
        and claim is not None
        and major_disease_of(claim.dise_codg, claim.age)
    ):
        return rule.limits.major_disease_annual_cap
    return rule.limits.annual_cap


def _running(
    record: Settlement, totals: YearTotals, policy: Policy | None, claim: DischargeClaim | None
) -> list[RunningTotal]:
    out, seen = [], set()
    for line in record.payments:
        account = line.account or line.payer.value
        if account in seen:
            continue
        seen.add(account)
        payer, rule, tier = _rule_of(policy, line.rule)
        counted = rule.base_of if rule is not None and rule.base_of else account  # a base counted on another account
        so_far, counted_on = totals.get(account), totals.get(counted)
        cap = _annual_cap(rule, tier, claim)
        out.append(
            RunningTotal(
                account=account,
                name_zh=(payer.name_zh if payer else line.payer.value)
                + ("" if account == line.payer.value else f"（{account}）"),
                name_en=labels.PAYER_EN.get(line.payer.value, line.payer.value),
                yearly_base=counted_on.base if counted_on else ZERO,
                paid=so_far.paid if so_far else ZERO,
                deductible=tier.deductible if tier is not None and tier.segments else None,
                per_stay=rule is not None and rule.scope == "per_claim",
                cap=cap,
                uncapped=bool(tier and tier.uncapped),
            )
        )
    return out


def slip_facts(slip: Slip) -> list[tuple[str, str, str]]:
    """The slip's facts as (Chinese label, English label, value), in the order both renderings show them."""
    hospital = f"{slip.hospital_name or ''} ({slip.hospital_code})" if slip.hospital_code else "—"
    return [
        ("定点医药机构", "hospital", hospital),
        ("就诊ID", "claim (mdtrt_id)", slip.claim_id),
        ("人员编号", "person", slip.psn_no),
        ("结算ID", "settlement (setl_id)", slip.setl_id),
        ("医疗类别", "type of care", labels.med_type(slip.med_type)),
        ("参保地", "insured place", slip.insuplc_admdvs),
        ("入院 / 出院", "admitted / discharged", f"{slip.begndate or '—'} / {slip.enddate or '—'}"),
        ("结算时间", "settled", f"{slip.settled_at:%Y-%m-%d %H:%M}"),
        ("人员类别", "categories", "、".join(slip.categories) or "—"),
        ("年度", "policy year", str(slip.year or "—")),
    ]
