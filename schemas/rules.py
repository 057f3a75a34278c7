"""A payer of a policy file and its rules: which claims a rule covers (``when``), how its base is
counted, its limits and its schedules (tiers), one per group of categories (schemas/policy.py is the
file around them)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .codes import CATEGORY_GROUPS, Category, HospitalLevel, InsuType, MedType, Payer, categories_named, national
from .money import Money, Rate
from .nhsa import SetlinfoField

#: How close the place of treatment is to the insured place, from the division codes: county = the
#: same 6 digits, pooled_city = within the policy's pool (``pool``; by default the division codes it
#: is for — a pooled city's 4 digits), province = the same first 2.
Area = Literal["county", "pooled_city", "province", "anywhere"]

AREA_ORDER: tuple[str, ...] = ("county", "pooled_city", "province", "anywhere")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def category_pattern(pattern: str, info: ValidationInfo) -> str:
    """Patterns are category codes or group names of CATEGORY_GROUPS ("dibao*": every class of 低保),
    or codes the file declares under ``categories`` (the loader gives them as the validation's
    context, ``declared``, so that the error names the very line; Policy checks them again)."""
    declared = info.context.get("declared") if isinstance(info.context, dict) else None
    if declared is not None and not national(pattern) and pattern not in declared:
        raise ValueError(unknown_category(pattern, declared))
    categories_named(pattern)
    return pattern


def unknown_category(pattern: str, declared: Collection[str]) -> str:
    return (
        f"unknown category {pattern!r}: not a national category or group "
        f"({', '.join([c.value for c in Category] + list(CATEGORY_GROUPS))}), "
        f"and not declared under categories ({', '.join(declared) or 'none declared'})"
    )


class Conditions(Strict):
    """Claim conditions; every field given must hold. Absent fields do not restrict."""

    med_types: list[MedType] | None = None
    hosp_lv: list[HospitalLevel] | None = None
    insutype: list[InsuType] | None = None
    area: Area | None = Field(default=None, description="treated at least this close to the insured place")
    referral: bool | None = None
    emergency_unable_to_pay: bool | None = None
    discharged_from: date | None = None
    discharged_to: date | None = None
    contribution_tier: list[Annotated[int, Field(ge=1, le=9)]] | None = Field(
        default=None, description="the claim's contribution tier (参保缴费档次: 1 = 一档, 2 = 二档) is one of these"
    )
    age_from: int | None = Field(default=None, ge=0, le=150, description="aged at least this at admission")
    age_below: int | None = Field(default=None, ge=1, le=151, description="aged under this at admission (minors: 18)")


class When(Conditions):
    """Conditions, plus alternatives of which at least one must hold (e.g. level-1 or referred)."""

    any_of: list[Conditions] | None = None


class Segment(Strict):
    """From this cumulative base on (to the next segment's start), pay ``rate``."""

    from_: Money = Field(alias="from")
    rate: Rate


class Tier(Strict):
    """One schedule of a rule, for the people holding one of ``categories`` (None: everyone)."""

    label: str
    label_zh: str | None = Field(default=None, description="the label in Chinese, for the Chinese explanation")
    categories: list[str] | None = None
    when: Conditions | None = None
    segments: list[Segment] | None = None
    personal_share_ceiling: Rate | None = Field(
        default=None, description="pay what brings the personal share down to this share of the whole bill"
    )
    qualifies_at: Money | None = Field(
        default=None,
        description="pays nothing while the account's yearly base is below this; once the year reaches it, "
        "every claim of the year is paid by this schedule (the earlier ones by settling the year again)",
    )
    annual_cap: Money | None = None
    uncapped: bool = False
    source: str | None = None

    @field_validator("categories")
    @classmethod
    def _patterns(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        return None if value is None else [category_pattern(p, info) for p in value]

    @model_validator(mode="after")
    def _one_kind(self) -> "Tier":
        if (self.segments is None) == (self.personal_share_ceiling is None):
            raise ValueError(f"tier {self.label!r} needs exactly one of `segments` or `personal_share_ceiling`")
        if self.segments is not None:
            if not self.segments:
                raise ValueError(f"tier {self.label!r} has an empty segment list")
            starts = [s.from_ for s in self.segments]
            if starts != sorted(set(starts)):
                raise ValueError(f"tier {self.label!r}: segment starts must increase strictly, got {starts}")
        if self.uncapped and self.annual_cap is not None:
            raise ValueError(f"tier {self.label!r} cannot be both uncapped and capped")
        return self

    @property
    def deductible(self) -> Decimal:
        return self.segments[0].from_ if self.segments else Decimal(0)


#: The parts of a bill a base may count (schemas/events.py: DischargeClaim).
BasePart = Literal["inscp_scp_amt", "preselfpay_amt"]


class Limits(Strict):
    """Caps a rule applies besides its schedule."""

    annual_cap: Money | None = None
    shared_cap: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="a name for an annual cap several rules share (e.g. "
        "outpatient and inpatient assistance, each with its own account and threshold): the cap counts what every rule "
        "naming it paid this year; each gives the same annual_cap",
    )
    major_disease_annual_cap: Money | None = Field(
        default=None, description="the annual cap instead, when the claim's main diagnosis is a listed major disease"
    )
    per_claim: Money | None = None
    per_day: Money | None = None
    assisted_visits_per_month: int | None = Field(default=None, ge=1)


class Deferral(Strict):
    """Pay nothing at discharge while another account's yearly base (this claim included) is below a line."""

    account: str
    cumulative_base_below: Money
    explanation: str
    explanation_zh: str


class Rule(Strict):
    name: str
    source: str
    when: When = When()
    scope: Literal["per_claim", "annual"]
    base_of: str | None = Field(
        default=None,
        description="count base and yearly cumulative of this other account instead of this payer's remaining",
    )
    base_after: list[Payer] | None = Field(
        default=None,
        description="the base is the in-scope amount less what these payers paid on the claim (e.g. [basic]: "
        "the OOP after basic insurance), counted on this account's own yearly base; never pays more than the remaining",
    )
    base_parts: list[BasePart] = Field(
        default=["inscp_scp_amt"],
        min_length=1,
        description="the parts of the bill the base counts: the in-scope amount "
        "(inscp_scp_amt), and where a notice adds it the class-B own share (preselfpay_amt, 乙类先行自付)",
    )
    deduct_paid_this_year: bool = Field(
        default=False,
        description="pay F(yearly base after this claim) less what the account already paid this year, "
        "so a claim also pays what earlier claims of the year were owed but did not get",
    )
    account: str | None = None
    limits: Limits = Limits()
    defer_while: Deferral | None = None
    tiers: list[Tier]

    @model_validator(mode="after")
    def _sane(self) -> "Rule":
        if not self.tiers:
            raise ValueError(f"rule {self.name!r} has no tiers")
        if self.base_of and self.scope != "annual":
            raise ValueError(f"rule {self.name!r}: base_of needs scope annual")
        if self.base_of and self.base_after:
            raise ValueError(f"rule {self.name!r}: give base_of or base_after, not both")
        if "inscp_scp_amt" not in self.base_parts or len(set(self.base_parts)) != len(self.base_parts):
            raise ValueError(
                f"rule {self.name!r}: base_parts lists inscp_scp_amt, and preselfpay_amt where the notice adds "
                f"the class-B own share, each once; got {self.base_parts}"
            )
        if self.limits.shared_cap is not None and self.limits.annual_cap is None:
            raise ValueError(
                f"rule {self.name!r}: shared_cap {self.limits.shared_cap!r} needs the annual_cap it shares"
            )
        if self.deduct_paid_this_year and (self.scope != "annual" or self.base_of):
            raise ValueError(f"rule {self.name!r}: deduct_paid_this_year needs scope annual on the rule's own base")
        return self


#: The national platform's `setlinfo` field a payer's payment is counted in when the policy file
#: does not say (``setlinfo_field``): the ordinary insurance's defaults.
DEFAULT_SETLINFO_FIELD: dict[str, dict[str, SetlinfoField]] = {
    "basic": {"390": "hifp_pay", "310": "hifp_pay"},
    "critical": {"390": "hifmi_pay", "310": "hifob_pay"},
    "tilt": {"390": "hifmi_pay", "310": "hifob_pay"},
    "assistance": {"390": "maf_pay", "310": "maf_pay"},
    "secondary": {"390": "maf_pay", "310": "maf_pay"},
    "re_assistance": {"390": "maf_pay", "310": "maf_pay"},
}


class PayerPolicy(Strict):
    payer: Payer
    name_zh: str
    fund_pay_type: str | dict[InsuType, str]
    fund_name: str | dict[InsuType, str] | None = Field(
        default=None, description="the fund's name (fund_pay_type_name) on the national platform; default: name_zh"
    )
    setlinfo_field: SetlinfoField | dict[InsuType, SetlinfoField] | None = Field(
        default=None,
        description="the national platform's setlinfo field the payment is counted in (hifp_pay, hifmi_pay, "
        "hifob_pay, maf_pay, oth_pay, …); default: by payer (basic hifp_pay, critical hifmi_pay / hifob_pay, "
        "assistance maf_pay, others oth_pay)",
    )
    rules: list[Rule]

    def fund_code(self, insutype: InsuType) -> str:
        if isinstance(self.fund_pay_type, str):
            return self.fund_pay_type
        return self.fund_pay_type[insutype]

    def fund_name_for(self, insutype: InsuType) -> str:
        """The fund's name for the platform (fund_pay_type_name)."""
        if self.fund_name is None:
            return self.name_zh
        return self.fund_name if isinstance(self.fund_name, str) else self.fund_name.get(insutype, self.name_zh)

    def setlinfo_field_for(self, insutype: InsuType) -> SetlinfoField:
        """The platform's setlinfo field this payer's payment is counted in."""
        if isinstance(self.setlinfo_field, str):
            return self.setlinfo_field
        if isinstance(self.setlinfo_field, dict) and insutype in self.setlinfo_field:
            return self.setlinfo_field[insutype]
        return DEFAULT_SETLINFO_FIELD.get(self.payer.value, {}).get(insutype.value, "oth_pay")

    def account_of(self, rule: Rule) -> str:
        return rule.account or self.payer.value
