"""The policy-file format: one YAML file per region and policy period (policies/regions/).

A policy lists its payers in the order they pay (schemas/rules.py: each payer's rules, their
conditions, limits and schedules). Every rule and tier names its source: a seed document or a
published notice, or "assumed" with the reason, so `onestop policy show` can print it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from .codes import (
    CLAIM_PAYERS,
    Authority,
    DeclaredCategory,
    MedType,
    Payer,
    national,
)
from .money import Money, Rate

# (the rules' models, imported from here as from their own module)
from .rules import (
    AREA_ORDER,
    DEFAULT_SETLINFO_FIELD,
    Area,
    BasePart,
    Conditions,
    Deferral,
    Limits,
    PayerPolicy,
    Rule,
    Segment,
    Strict,
    Tier,
    When,
    category_pattern,
    unknown_category,
)

__all__ = [
    "AREA_ORDER",
    "DEFAULT_SETLINFO_FIELD",
    "AlertRule",
    "Area",
    "BasePart",
    "CategoryDeclaration",
    "Conditions",
    "Deferral",
    "DivisionPrefix",
    "Limits",
    "MajorDisease",
    "MajorDiseaseList",
    "PayerPolicy",
    "Policy",
    "PolicyRefText",
    "Retroactive",
    "Rule",
    "Segment",
    "Strict",
    "Tier",
    "TopUp",
    "When",
    "YearEndRule",
]


#: The first digits of administrative division codes (行政区划代码): 2 a province, 4 a city, 6 a county.
DivisionPrefix = Annotated[str, StringConstraints(pattern=r"^\d{2,6}$")]
#: A policy's name in records: <region>/<period>/v<version>.
PolicyRefText = Annotated[str, StringConstraints(pattern=r"^[a-z_]+/[^/\s]+/v\d+$")]


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
        return None if value is None else [category_pattern(p, info) for p in value]


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
        return [category_pattern(p, info) for p in value]


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
        return None if value is None else [category_pattern(p, info) for p in value]


class YearEndRule(Strict):
    """A payer whose annual accounts the year-end close settles: F(the year's base) − what the
    account paid in the year, by the most favourable tier of the year's categories, within the
    annual cap and what the year's claims left (PARAMETERS.md, "Year-end close"); or, with
    ``top_up``, a top-up of another kind: the person's share held to a share of the year's costs."""

    payer: Payer
    source: str
    top_up: TopUp | None = None


class PremiumFund(Strict):
    """Who pays premium subsidies in a region (PARAMETERS.md, "Premium subsidies"): the payer, the
    fund its lines name, and where that comes from. Listed in the order that breaks ties between
    equal amounts (the payer listed first in the seed's row)."""

    payer: Payer
    name_zh: str
    fund_pay_type: str
    source: str


class Share(Strict):
    """A share of the year's individual contribution (Guang'an's urban dibao: 50%)."""

    share: Rate


class Fixed(Strict):
    """A fixed sum a year, never more than the contribution (Zhangye's 220 / 160 / 100 yuan)."""

    fixed: Money


class SplitPart(Strict):
    """One payer's part of a subsidy shared between payers: ``share`` of the amount, rounded half up;
    the last part takes the rest (Zhengzhou: the city half, the county the rest)."""

    payer: Payer
    share: Rate | None = None


class PremiumRow(Strict):
    """Who is subsidised (``categories``), how much (the whole contribution, a share or a fixed sum)
    and by whom (one payer, or a split between payers), with the seed's clause."""

    label: str
    label_zh: str
    categories: list[str]
    amount: Literal["full"] | Share | Fixed
    paid_by: Payer | list[SplitPart]
    source: str

    @field_validator("categories")
    @classmethod
    def _patterns(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [category_pattern(p, info) for p in value]

    @model_validator(mode="after")
    def _split(self) -> "PremiumRow":
        if isinstance(self.paid_by, list):
            if len(self.paid_by) < 2:
                raise ValueError(f"premium row {self.label!r}: a split names two payers or more; else give one payer")
            if any(part.share is None for part in self.paid_by[:-1]) or self.paid_by[-1].share is not None:
                raise ValueError(
                    f"premium row {self.label!r}: every part of a split but the last gives its share; "
                    "the last takes the rest"
                )
        return self

    @property
    def payers(self) -> list[Payer]:
        return [self.paid_by] if isinstance(self.paid_by, Payer) else [part.payer for part in self.paid_by]


class PremiumPolicy(Strict):
    """A region's premium subsidies (参保资助): the rows, the funds paying them, the first year they
    subsidise; the year's contribution is shared data (policies/data/contributions.yaml)."""

    source: str
    first_year: int = Field(ge=2000, le=2100)
    funds: list[PremiumFund]
    rows: list[PremiumRow]

    @model_validator(mode="after")
    def _funds(self) -> "PremiumPolicy":
        named = [fund.payer for fund in self.funds]
        if len(set(named)) != len(named):
            raise ValueError(f"a premium fund is listed twice: {[p.value for p in named]}")
        for row in self.rows:
            unknown = [p.value for p in row.payers if p not in named]
            if unknown:
                raise ValueError(f"premium row {row.label!r} is paid by {unknown}, not among the funds listed")
        return self

    def fund(self, payer: Payer) -> PremiumFund:
        return next(f for f in self.funds if f.payer == payer)


class Contributions(Strict):
    """The year's individual contribution to resident insurance (城乡居民医保个人缴费), per year."""

    source: str
    assumed: bool
    years: dict[int, Money]


class Policy(Strict):
    region: str = Field(pattern=r"^[a-z_]+$")
    name: str
    name_zh: str
    document: str
    seed: str
    source: str | None = Field(
        default=None,
        description="where the file's values come from when it is not a seed: the published notice or "
        "answer, its address, and the figures it quotes (the worked example a case in examples/published reproduces)",
    )
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
    premiums: PremiumPolicy | None = None
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
        premium_only = [n.value for n in names if n not in CLAIM_PAYERS]
        if premium_only:
            raise ValueError(f"{premium_only} pay only premium subsidies (premiums.funds), never on a claim's chain")
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
