"""Code lists of the contracts (CONTRACTS.md) and the domain (DOMAIN.md)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, StringConstraints, WithJsonSchema


class InsuType(StrEnum):
    resident = "390"  # 城乡居民基本医疗保险
    employee = "310"  # 职工基本医疗保险


class MedType(StrEnum):
    inpatient = "21"  # 住院
    chronic_outpatient = "14"  # 门诊慢特病
    general_outpatient = "11"  # 普通门诊


class HospitalLevel(StrEnum):
    first = "1"
    second = "2"
    third = "3"


class Category(StrEnum):
    tekun = "tekun"  # 特困人员
    orphan = "orphan"  # 孤儿
    dibao = "dibao"  # 低保对象（类别不明）
    dibao_rural_1 = "dibao_rural_1"
    dibao_rural_2 = "dibao_rural_2"
    dibao_rural_3 = "dibao_rural_3"
    dibao_rural_4 = "dibao_rural_4"
    dibao_urban_full = "dibao_urban_full"
    dibao_urban_partial = "dibao_urban_partial"
    dibao_edge = "dibao_edge"  # 低保边缘家庭成员
    illness_impoverished = "illness_impoverished"  # 因病致贫重病患者
    poverty_registered = "poverty_registered"  # 建档立卡贫困人口
    returned_to_poverty = "returned_to_poverty"  # 农村返贫致贫人口
    at_risk = "at_risk"  # 农村易返贫致贫人口
    lifted_transition = "lifted_transition"  # 过渡期内已脱贫人口
    severe_disability = "severe_disability"  # 重度残疾人
    low_income_elderly = "low_income_elderly"
    low_income_minor = "low_income_minor"
    low_income_ill = "low_income_ill"
    entitled_group = "entitled_group"  # 优抚对象
    children_in_difficulty = "children_in_difficulty"  # 困境儿童
    worker_in_difficulty = "worker_in_difficulty"  # 特困职工
    retired_1960s = "retired_1960s"  # 60年代精减退职职工
    low_income_severe_mental = "low_income_severe_mental"
    low_income_serious_illness = "low_income_serious_illness"

    @classmethod
    def _missing_(cls, value: object) -> "Category | None":
        """A category a region's policy file declares (``categories``) is a Category too, made when
        first met: an eligibility change, a case or a stored identity may carry it (declared_categories)."""
        if isinstance(value, str) and value in declared_categories():
            return regional_category(value)
        return None


class Authority(StrEnum):
    civil_affairs = "civil_affairs"
    rural_revitalisation = "rural_revitalisation"
    poverty_alleviation = "poverty_alleviation"
    disabled_federation = "disabled_federation"
    trade_union = "trade_union"
    veterans_affairs = "veterans_affairs"
    medical_insurance = "medical_insurance"


class Payer(StrEnum):
    basic = "basic"
    critical = "critical"
    tilt = "tilt"
    supplementary = "supplementary"
    emergency_relief = "emergency_relief"
    assistance = "assistance"
    secondary = "secondary"
    re_assistance = "re_assistance"
    poverty_relief = "poverty_relief"
    # who pays a premium subsidy (参保资助, PARAMETERS.md) besides assistance: never on a claim
    finance = "finance"  # 财政
    finance_city = "finance_city"  # 市级财政
    finance_county = "finance_county"  # 县（市、区）级财政
    disabled_federation = "disabled_federation"  # 残疾人联合会


#: the payers that pay claims, in chain order: each has its worker and its topic (claims.pay.<payer>)
CLAIM_PAYERS: tuple[Payer, ...] = (
    Payer.basic,
    Payer.critical,
    Payer.tilt,
    Payer.supplementary,
    Payer.emergency_relief,
    Payer.assistance,
    Payer.secondary,
    Payer.re_assistance,
    Payer.poverty_relief,
)
#: the payers that pay only premium subsidies (no worker, no topic: the ledger records them)
PREMIUM_ONLY_PAYERS: tuple[Payer, ...] = tuple(p for p in Payer if p not in CLAIM_PAYERS)


@dataclass(frozen=True)
class DeclaredCategory:
    """A category a region declares in its policy file (``categories``), besides the national ones:
    e.g. a status the medical-insurance bureau keeps, such as 门特 (chronic special-disease status)."""

    code: str
    name: str
    name_zh: str
    authority: Authority


#: where the declared categories come from (policies.loader registers the policy files: declare_categories_from)
_DECLARED_BY: list[Callable[[], Mapping[str, DeclaredCategory]]] = []
#: the declared categories met, as members of Category (one per code: an Enum member is a singleton)
_REGIONAL: dict[str, Category] = {}


def declare_categories_from(source: Callable[[], Mapping[str, DeclaredCategory]]) -> None:
    """Say where the categories the regions declare come from (the policy files, read when first asked)."""
    _DECLARED_BY[:] = [source]


def declared_categories() -> Mapping[str, DeclaredCategory]:
    """The categories the regions' policy files declare, by code (none before policies are imported)."""
    return _DECLARED_BY[0]() if _DECLARED_BY else {}


def regional_category(code: str) -> Category:
    """The Category member of a code a region declares (a policy file checks its own declarations; an
    input's code is checked against declared_categories first, by Category itself)."""
    found = _REGIONAL.get(code)
    if found is None:
        found = str.__new__(Category, code)
        found._name_, found._value_ = code, code
        found = _REGIONAL.setdefault(code, found)
    return found


def category_name_zh(category: Category) -> str:
    """A category's Chinese name: the national list's, or what the region declaring it says."""
    known = CATEGORY_ZH.get(category)
    if known is not None:
        return known
    declared = declared_categories().get(category.value)
    return declared.name_zh if declared is not None else category.value


def issuing_authority(category: Category) -> Authority:
    """Who issues a category (DOMAIN.md): the national list's, or what the region declaring it says."""
    known = ISSUING_AUTHORITY.get(category)
    if known is not None:
        return known
    declared = declared_categories().get(category.value)
    if declared is None:
        raise KeyError(f"category {category.value!r} is neither national nor declared by a policy file")
    return declared.authority


#: a code a region may declare: lower-case letters, digits and "_", beginning with a letter
REGIONAL_CODE = re.compile(r"[a-z][a-z0-9_]{0,47}")


#: A six-digit administrative division code (行政区划代码).
DivisionCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
#: An ICD-10 code, e.g. "C34.9" or "K35".
Icd10 = Annotated[str, StringConstraints(pattern=r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?[+*]?$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


def printable(value: str) -> str:
    """Text as a person can read it: no control, format (e.g. a right-to-left override or a
    zero-width joiner), private-use or unassigned character, which could hide what a caseworker
    reads or break a report."""
    for char in value:
        if unicodedata.category(char)[0] == "C":
            raise ValueError(
                f"holds the character U+{ord(char):04X} ({unicodedata.category(char)}); "
                "only printable characters are accepted"
            )
    return value


#: the characters of an id that comes in (CONTRACTS.md): never "/", with which the system joins the
#: ids of its own records (``year-end/<region>/<year>/<psn_no>``, ``<claim_id>/adjustment/<cause>``),
#: so that no id that comes in can equal one the system makes
IDENTIFIER_CHARACTERS = "A–Z a–z 0–9 . _ : -"
IDENTIFIER_MAX = 64
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:\-]{1,%d}" % IDENTIFIER_MAX)


def identifier(value: str) -> str:
    """An id as it came in, or why it is not one (nothing is stripped: " C-1" is not "C-1")."""
    if _IDENTIFIER.fullmatch(value):
        return value
    printable(value)  # a control or invisible character is named as such
    rule = f"an id is 1 to {IDENTIFIER_MAX} characters of {IDENTIFIER_CHARACTERS}"
    if not value:
        raise ValueError(f"is empty; {rule}")
    if len(value) > IDENTIFIER_MAX:
        raise ValueError(f"is {len(value)} characters long; {rule}")
    position, char = next((i, c) for i, c in enumerate(value) if not _IDENTIFIER.fullmatch(c))
    shown = "a space" if char.isspace() else repr(char)
    raise ValueError(f'holds {shown} at position {position + 1}; {rule} (no spaces, no "/")')


#: An id on an input event (claim_id, event_id, psn_no, fixmedins_code, request_id, a close's region,
#: a key id): 1 to 64 characters of A–Z a–z 0–9 . _ : - (CONTRACTS.md).
Identifier = Annotated[
    str,
    AfterValidator(identifier),
    WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z0-9._:\-]{1,%d}$" % IDENTIFIER_MAX}),
]
#: Free text on an input event (a hospital's name, a reason): printable, at most 200 characters.
Text = Annotated[str, StringConstraints(max_length=200), AfterValidator(printable)]


#: Names of groups of categories that policy files may use besides single codes.
#: "dibao*" is every class of 低保 but not 低保边缘 (dibao_edge), which is a category of its own.
CATEGORY_GROUPS: dict[str, tuple[Category, ...]] = {
    "dibao*": (
        Category.dibao,
        Category.dibao_rural_1,
        Category.dibao_rural_2,
        Category.dibao_rural_3,
        Category.dibao_rural_4,
        Category.dibao_urban_full,
        Category.dibao_urban_partial,
    ),
    "dibao_rural*": (Category.dibao_rural_1, Category.dibao_rural_2, Category.dibao_rural_3, Category.dibao_rural_4),
    "dibao_urban*": (Category.dibao_urban_full, Category.dibao_urban_partial),
    "low_income*": (Category.low_income_elderly, Category.low_income_minor, Category.low_income_ill),
}

CATEGORY_ZH: dict[Category, str] = {
    Category.tekun: "特困人员",
    Category.orphan: "孤儿",
    Category.dibao: "低保对象",
    Category.dibao_rural_1: "农村一类低保",
    Category.dibao_rural_2: "农村二类低保",
    Category.dibao_rural_3: "农村三类低保",
    Category.dibao_rural_4: "农村四类低保",
    Category.dibao_urban_full: "城市全额低保",
    Category.dibao_urban_partial: "城市差额低保",
    Category.dibao_edge: "低保边缘家庭成员",
    Category.illness_impoverished: "因病致贫重病患者",
    Category.poverty_registered: "建档立卡贫困人口",
    Category.returned_to_poverty: "农村返贫致贫人口",
    Category.at_risk: "农村易返贫致贫人口",
    Category.lifted_transition: "过渡期内已脱贫人口",
    Category.severe_disability: "重度残疾人",
    Category.low_income_elderly: "低收入家庭60岁以上老人",
    Category.low_income_minor: "低收入家庭未成年人",
    Category.low_income_ill: "低收入家庭重病患者",
    Category.entitled_group: "优抚对象",
    Category.children_in_difficulty: "困境儿童",
    Category.worker_in_difficulty: "特困职工",
    Category.retired_1960s: "60年代精减退职职工",
    Category.low_income_severe_mental: "低收入家庭重度精神病患者",
    Category.low_income_serious_illness: "低收入家庭大重病患者",
}


def national(pattern: str) -> bool:
    """Whether a policy-file pattern is a national category code or a group of them."""
    return pattern in CATEGORY_GROUPS or pattern in Category._value2member_map_


def categories_named(pattern: str) -> tuple[Category, ...]:
    """The categories a policy-file pattern stands for: a code (national, or one a region declares:
    its policy file checks that), or a group of CATEGORY_GROUPS."""
    if pattern in CATEGORY_GROUPS:
        return CATEGORY_GROUPS[pattern]
    found = Category._value2member_map_.get(pattern)
    if isinstance(found, Category):
        return (found,)
    if REGIONAL_CODE.fullmatch(pattern):
        return (regional_category(pattern),)
    known = ", ".join([c.value for c in Category] + list(CATEGORY_GROUPS))
    raise ValueError(f"unknown category {pattern!r}; known: {known}, or a code the file declares under categories")


#: Who issues each category (DOMAIN.md, "People and their categories").
ISSUING_AUTHORITY: dict[Category, Authority] = {
    **{c: Authority.civil_affairs for c in Category},
    Category.poverty_registered: Authority.poverty_alleviation,
    Category.returned_to_poverty: Authority.rural_revitalisation,
    Category.at_risk: Authority.rural_revitalisation,
    Category.lifted_transition: Authority.rural_revitalisation,
    Category.severe_disability: Authority.disabled_federation,
    Category.entitled_group: Authority.veterans_affairs,
    Category.worker_in_difficulty: Authority.trade_union,
}
