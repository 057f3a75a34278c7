"""A settlement record in the national platform's shape (its 2207 answer: `setlinfo` + `setldetail`).

Pure: the record and its policy in, the form out. Each payment line belongs to a fund, named by
its ``fund_pay_type`` code; the region's policy file says which fund a code is (``fund_name``) and
which `setlinfo` field counts it (``setlinfo_field``; defaults in schemas/policy.py). Payers
paying from one fund (Guang'an's tilt from the critical-illness fund, Zhangye's secondary
assistance from the assistance fund) make one `setldetail` line together. So for every record:
the `setlinfo` fund fields, the `setldetail` lines and ``fund_pay_sumamt`` add up to the same
amount (schemas.nhsa.NhsaSettlement checks it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from schemas.codes import InsuType
from schemas.events import PaymentLine, Settlement
from schemas.money import ZERO
from schemas.nhsa import SETLINFO_FIELDS, NhsaSettlement, SetlDetail, SetlInfo
from schemas.policy import DEFAULT_SETLINFO_FIELD, Policy

from .loader import NoPolicy, load_policies, policy_of

#: China Standard Time: record times are shown, and months and days counted, in it (no DST)
CHINA = timezone(timedelta(hours=8), "CST")
#: the platform's length of setl_proc_info
PROC_INFO_MAX = 4000


@dataclass(frozen=True)
class Fund:
    """One fund of a region: its code (fund_pay_type), its name and the setlinfo field counting it."""

    code: str
    name: str
    field: str


@dataclass
class _Detail:
    """One fund's `setldetail` line, as the record's lines of that fund add to it."""

    fund: Fund
    left: Decimal | None  # what of the in-scope bill was left when the fund's first line came
    amount: Decimal = ZERO
    info: list[str] = field(default_factory=list)  # each line's explanation


class FundConflict(ValueError):
    """Two payers of one policy give one fund code different names or setlinfo fields."""


def funds_of(policy: Policy) -> dict[str, Fund]:
    """Every fund a policy's payers pay from, by code (FundConflict when two payers disagree about one)."""
    funds: dict[str, tuple[Fund, str]] = {}
    for payer in policy.payers:
        for insutype in InsuType:
            fund = Fund(payer.fund_code(insutype), payer.fund_name_for(insutype), payer.setlinfo_field_for(insutype))
            known = funds.get(fund.code)
            if known is not None and known[0] != fund:
                raise FundConflict(
                    f"policy {policy.ref}: fund {fund.code} is {known[0].name} counted in {known[0].field} for payer "
                    f"{known[1]}, but {fund.name} counted in {fund.field} "
                    f"for payer {payer.payer.value} ({insutype.value}); "
                    "give both payers the same fund_name and setlinfo_field"
                )
            funds.setdefault(fund.code, (fund, payer.payer.value))
    for premium in policy.premiums.funds if policy.premiums else ():  # a fund of the chain keeps its own words
        field = DEFAULT_SETLINFO_FIELD.get(premium.payer.value, {}).get("390", "oth_pay")
        fund = Fund(premium.fund_pay_type, premium.name_zh, field)
        funds.setdefault(fund.code, (fund, premium.payer.value))
    return {code: fund for code, (fund, _) in funds.items()}


def fund_of(code: str, policy: Policy | None, line: PaymentLine | None = None) -> Fund:
    """The fund a code names under ``policy``; a code the policy does not know (or no policy) gets
    the name any loaded policy gives it and the payer's default setlinfo field."""
    if policy is not None:
        found = funds_of(policy).get(code)
        if found is not None:
            return found
    for other in load_policies():
        found = funds_of(other).get(code)
        if found is not None:
            return found
    payer = line.payer.value if line is not None else ""
    return Fund(code, code, DEFAULT_SETLINFO_FIELD.get(payer, {}).get("390", "oth_pay"))


def policy_or_none(record: Settlement) -> Policy | None:
    try:
        return policy_of(record.policy)
    except NoPolicy:
        return None


def china_time(moment: datetime) -> datetime:
    """A timestamp in China Standard Time (naive ones are taken as UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(CHINA)


def insutype_of(record: Settlement, policy: Policy | None) -> InsuType | None:
    """The insurance type, read off a line whose payer's fund code differs between the types."""
    if policy is None:
        return None
    for line in record.payments:
        payer = next((p for p in policy.payers if p.payer == line.payer), None)
        if payer is not None and isinstance(payer.fund_pay_type, dict):
            types = [t for t, code in payer.fund_pay_type.items() if code == line.fund_pay_type]
            if len(types) == 1:
                return InsuType(types[0])
    return None


def nhsa_form(record: Settlement, policy: Policy | None = None) -> NhsaSettlement:
    """The record as the platform's 2207 answer: `setlinfo` with the fund fields derived from the
    lines, and one `setldetail` line per fund in payment order (zero lines included: they say why)."""
    policy = policy if policy is not None else policy_or_none(record)
    details: dict[str, _Detail] = {}
    fields = dict.fromkeys(SETLINFO_FIELDS, ZERO)
    paid_before = ZERO
    for line in record.payments:
        fund = fund_of(line.fund_pay_type, policy, line)
        detail = details.get(fund.code)
        if detail is None:
            left = None if record.inscp_scp_amt is None else record.medfee_sumamt - paid_before
            detail = details[fund.code] = _Detail(fund, left)
        detail.amount += line.amount
        detail.info.append(line.explanation_zh or line.explanation)
        fields[fund.field] += line.amount
        paid_before += line.amount
    setldetail = [
        SetlDetail(
            fund_pay_type=code,
            fund_pay_type_name=d.fund.name,
            inscp_scp_amt=record.inscp_scp_amt,
            crt_payb_lmt_amt=d.left,
            fund_payamt=d.amount,
            setl_proc_info=_proc_info(d.info),
        )
        for code, d in details.items()
    ]
    setlinfo = SetlInfo(
        setl_id=record.settlement_id,
        mdtrt_id=record.claim_id,
        psn_no=record.psn_no,
        insutype=insutype_of(record, policy),
        insuplc_admdvs=record.insuplc_admdvs,
        clr_optins=record.insuplc_admdvs,
        med_type=record.med_type,
        begndate=record.begndate,
        enddate=record.enddate,
        setl_time=china_time(record.settled_at).strftime("%Y-%m-%d %H:%M:%S"),
        fixmedins_code=record.fixmedins_code,
        fixmedins_name=record.fixmedins_name,
        medfee_sumamt=record.medfee_sumamt,
        fulamt_ownpay_amt=record.fulamt_ownpay_amt,
        overlmt_selfpay=record.overlmt_selfpay,
        preselfpay_amt=record.preselfpay_amt,
        inscp_scp_amt=record.inscp_scp_amt,
        **fields,
        fund_pay_sumamt=record.fund_pay_sumamt,
        psn_part_amt=record.psn_part_amt,
        psn_cash_pay=record.psn_part_amt,
        setl_type=record.kind,
        reason=record.reason,
        year=record.year,
        policy=f"{record.policy.region}/{record.policy.period}/v{record.policy.version}",
    )
    return NhsaSettlement(setlinfo=setlinfo, setldetail=setldetail)


def _proc_info(parts: Iterable[str]) -> str:
    text = "\n".join(p for p in parts if p)
    return text if len(text) <= PROC_INFO_MAX else text[: PROC_INFO_MAX - 1] + "…"


def fund_totals(form: NhsaSettlement) -> dict[str, Decimal]:
    """The setlinfo fund fields of a form, by field name."""
    return {name: getattr(form.setlinfo, name) for name in SETLINFO_FIELDS}
