"""The policy-file format: one YAML file per region and policy period (policies/regions/).

A policy lists its payers in the order they pay. Each payer has rules; a rule says which claims
it covers (``when``), how its base is counted (per claim or cumulative in the year) and which
schedules (tiers) it pays by, one per group of categories. Every rule and tier names its source:
a seed document, or "assumed" with the reason, so `onestop policy show` can print it.
"""
from __future__ import annotations

from collections.abc import Collection
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from .codes import (
    CATEGORY_GROUPS,
    Authority,
    Category,
    DeclaredCategory,
    HospitalLevel,
    InsuType,
    MedType,
    Payer,
    categories_named,
    national,
)
from .money import Money, Rate
from .nhsa import SetlinfoField

#: How close the place of treatment is to the insured place, from the division codes: county = the
#: same 6 digits, pooled_city = within the policy's pool (``pool``; by default the division codes it
#: is for — a pooled city's 4 digits), province = the same first 2.
Area = Literal["county", "pooled_city", "province", "anywhere"]

#: The first digits of administrative division codes (行政区划代码): 2 a province, 4 a city, 6 a county.
DivisionPrefix = Annotated[str, StringConstraints(pattern=r"^\d{2,6}$")]
#: A policy's name in records: <region>/<period>/v<version>.
PolicyRefText = Annotated[str, StringConstraints(pattern=r"^[a-z_]+/[^/\s]+/v\d+$")]
AREA_ORDER: tuple[str, ...] = ("county", "pooled_city", "province", "anywhere")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_category_pattern(pattern: str, info: ValidationInfo) -> str:
    """Patterns are category codes or group names of CATEGORY_GROUPS ("dibao*": every class of 低保),
    or codes the file declares under ``categories`` (the loader gives them as the validation's
    context, ``declared``, so that the error names the very line; Policy checks them again)."""
    declared = info.context.get("declared") if isinstance(info.context, dict) else None
    if declared is not None and not national(pattern) and pattern not in declared:
        raise ValueError(unknown_category(pattern, declared))
    categories_named(pattern)
    return pattern


def unknown_category(pattern: str, declared: Collection[str]) -> str:
    return (f"unknown category {pattern!r}: not a national category or group "
            f"({', '.join([c.value for c in Category] + list(CATEGORY_GROUPS))}), "
            f"and not declared under categories ({', '.join(declared) or 'none declared'})")


class CategoryDeclaration(Strict):
    """A category the region declares, besides the national ones of schemas/codes.py: a status an
    authority keeps that a rule depends on (e.g. 门特, chronic special-disease status, kept by the
    medical-insurance bureau). People hold it as they hold any category: granted by an eligibility
    change of its authority."""

    code: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,47}$", description="lower-case letters, digits and _; not a national code"
    )
    name: str
    name_zh: str
    authority: Authority
    source: str

    @field_validator("code")
    @classmethod
    def _not_national(cls, value: str) -> str:
        if national(value):
            raise ValueError(f"{value!r} is a national category (or group) already: declare only the region's own")
        return value

    def declared(self) -> DeclaredCategory:
        return DeclaredCategory(self.code, self.name, self.name_zh, self.authority)


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
        return None if value is None else [_check_category_pattern(p, info) for p in value]

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


class AlertRule(Strict):
    """Early warning: a single stay leaving more than ``threshold`` of in-scope personal share."""

    name: str
    source: str
    categories: list[str] | None = None
    med_types: list[MedType] = [MedType.inpatient]
    measured_after: list[Payer]
    threshold: Money

    @field_validator("categories")
    @classmethod
    def _patterns(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        return None if value is None else [_check_category_pattern(p, info) for p in value]


class Retroactive(Strict):
    """On-application categories that also cover costs before the application (valid_from) date.

    When such a category is granted, claims already settled in that earlier window are settled
    again from ``from_payer`` to the end of the chain, and the differences paid as adjustments.
    """

    categories: list[str]
    months_before: int = Field(ge=1, le=36)
    from_payer: Payer
    source: str

    @field_validator("categories")
    @classmethod
    def _patterns(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [_check_category_pattern(p, info) for p in value]


class TopUp(Strict):
    """A top-up at the year-end close: what brings the person's share of the in-scope costs of the
    year's claims that meet ``when`` down to ``personal_share_ceiling`` of them, paid once (e.g.
    个人自付费用超过政策范围内住院总费用10%的，超出部分由医疗救助资金年终一次性补偿)."""

    label: str
    label_zh: str | None = None
    categories: list[str] | None = Field(
        default=None,
        description="who (a category that counts for a claim makes the "
        "claim count); None: everyone the payer's chain reaches",
    )
    when: Conditions | None = Field(
        default=None, description='which claims count (e.g. {med_types: ["21"]}: inpatient)'
    )
    personal_share_ceiling: Rate
    annual_cap: Money | None = None

    @field_validator("categories")
    @classmethod
    def _patterns(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        return None if value is None else [_check_category_pattern(p, info) for p in value]


class YearEndRule(Strict):
    """A payer whose annual accounts the year-end close settles: F(the year's base) − what the
    account paid in the year, by the most favourable tier of the year's categories, within the
    annual cap and what the year's claims left (PARAMETERS.md, "Year-end close"); or, with
    ``top_up``, a top-up of another kind: the person's share held to a share of the year's costs."""

    payer: Payer
    source: str
    top_up: TopUp | None = None


class Policy(Strict):
    region: str = Field(pattern=r"^[a-z_]+$")
    name: str
    name_zh: str
    document: str
    seed: str
    source: str | None = Field(
        default=None, description="where the file's values come from when it is not a seed: the published notice or "
        "answer, its address, and the figures it quotes (the worked example a case in examples/published reproduces)")
    pooled_city: str | None = Field(
        default=None,
        pattern=r"^\d{4}$",
        description="a pooled city's 4 digits: the same as division_codes: [these four]",
    )
    division_codes: list[DivisionPrefix] | None = Field(
        default=None,
        min_length=1,
        description="the insured places this file is for, as division-code prefixes of any "
        'length ("5001": every district of Chongqing\'s city, "500112": one district); a claim is settled by the '
        "file whose prefix of its insured place is the longest, among those in force on its day",
    )
    pool: list[DivisionPrefix] | None = Field(
        default=None,
        min_length=1,
        description="the pooled area (统筹区) for the condition area: pooled_city — "
        "treated anywhere it lists; default: the division_codes (a county's own file names its city's pool here)",
    )
    period: str
    version: int = Field(ge=1)
    in_force_from: date
    in_force_to: date | None = None
    supersedes: PolicyRefText | None = Field(
        default=None,
        description="the policy (<region>/<period>/v<version>) this one replaces from its in_force_from: "
        "a newer notice of the same bureau; the older is in force until the day before, whatever its in_force_to",
    )
    payers: list[PayerPolicy]
    alerts: list[AlertRule] = []
    retroactive: list[Retroactive] = []
    year_end: list[YearEndRule] = []
    readings: list[str] = Field(default=[], description="where the seed was unclear: the reading taken")
    categories: list[CategoryDeclaration] = Field(
        default=[],
        description="categories the region declares besides the national ones (code, name, name_zh, authority, source)",
    )

    @model_validator(mode="after")
    def _chain(self) -> "Policy":
        if self.pooled_city is None and self.division_codes is None:
            raise ValueError(
                'give division_codes (the insured places this file is for, e.g. ["5001", "5002"]) '
                "or pooled_city (a pooled city's 4 digits)"
            )
        if self.pooled_city is not None and self.division_codes is not None:
            raise ValueError("give division_codes or pooled_city, not both")
        if self.in_force_to is not None and self.in_force_to < self.in_force_from:
            raise ValueError(f"in_force_to {self.in_force_to} is before in_force_from {self.in_force_from}")
        if self.supersedes is not None and not self.supersedes.startswith(f"{self.region}/"):
            raise ValueError(f"supersedes {self.supersedes}: a policy supersedes one of its own region, {self.region}")
        names = [p.payer for p in self.payers]
        if len(set(names)) != len(names):
            raise ValueError(f"a payer appears twice in the chain: {[n.value for n in names]}")
        accounts = {p.account_of(r) for p in self.payers for r in p.rules}
        for payer in self.payers:
            for rule in payer.rules:
                for ref in (rule.base_of, rule.defer_while.account if rule.defer_while else None):
                    if ref is not None and ref not in accounts:
                        raise ValueError(f"rule {payer.payer.value}.{rule.name} refers to unknown account {ref!r}")
        shared: dict[str, set[Decimal | None]] = {}
        for rule in (r for p in self.payers for r in p.rules if r.limits.shared_cap is not None):
            shared.setdefault(str(rule.limits.shared_cap), set()).add(rule.limits.annual_cap)
        for name, caps in shared.items():
            if len(caps) > 1:
                raise ValueError(
                    f"the rules sharing the cap {name!r} give different annual caps: {sorted(map(str, caps))}"
                )
        self._check_categories()
        for retro in self.retroactive:
            if retro.from_payer not in names:
                raise ValueError(f"retroactive.from_payer {retro.from_payer.value} is not in the chain")
        for closing in self.year_end:
            if closing.payer not in names:
                raise ValueError(f"year_end.payer {closing.payer.value} is not in the chain")
        return self

    def _check_categories(self) -> None:
        """Every category a pattern names is national or declared by this file, each declared once."""
        declared = [c.code for c in self.categories]
        if len(set(declared)) != len(declared):
            raise ValueError(f"a category is declared twice: {declared}")
        used = [
            p for payer in self.payers for rule in payer.rules for tier in rule.tiers for p in tier.categories or []
        ]
        used += [p for alert in self.alerts for p in alert.categories or []]
        used += [p for retro in self.retroactive for p in retro.categories]
        used += [p for closing in self.year_end if closing.top_up for p in closing.top_up.categories or []]
        unknown = sorted({p for p in used if not national(p) and p not in declared})
        if unknown:
            raise ValueError(unknown_category(unknown[0], declared))

    def payer(self, payer: Payer) -> PayerPolicy:
        return next(p for p in self.payers if p.payer == payer)

    @property
    def ref(self) -> str:
        return f"{self.region}/{self.period}/v{self.version}"

    @property
    def codes(self) -> tuple[str, ...]:
        """The division-code prefixes of the insured places this policy is for."""
        return tuple(self.division_codes) if self.division_codes is not None else (str(self.pooled_city),)

    @property
    def pooled_area(self) -> tuple[str, ...]:
        """The division-code prefixes of the pool, for the condition area: pooled_city."""
        return tuple(self.pool) if self.pool is not None else self.codes

    def in_force_on(self, day: date) -> bool:
        return self.in_force_from <= day and (self.in_force_to is None or day <= self.in_force_to)


class MajorDisease(Strict):
    name_zh: str
    name: str
    icd10_prefixes: list[str]
    max_age: int | None = None


class MajorDiseaseList(Strict):
    source: str
    diseases: list[MajorDisease]
