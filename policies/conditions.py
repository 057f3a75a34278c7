"""Conditions on a claim (medical type, level, area, referral, dates, contribution tier, age at admission)
and on a person's categories."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import cache
from typing import NamedTuple

from schemas.codes import Category, categories_named
from schemas.events import DischargeClaim
from schemas.policy import AREA_ORDER, Conditions, When

AREA_ZH = {"county": "县域内", "pooled_city": "统筹区（市域）内", "province": "省内", "anywhere": "省外"}
MED_TYPE_ZH = {"21": "住院", "14": "门诊慢特病", "11": "普通门诊"}
INSUTYPE_ZH = {"390": "城乡居民医保", "310": "职工医保"}


class Reason(NamedTuple):
    """Why a condition does not hold, in English and in Chinese."""

    en: str
    zh: str


def area_of(claim: DischargeClaim, pool: tuple[str, ...] = ()) -> str:
    """How close the place of treatment is: county (the insured place itself), pooled_city (within
    ``pool``, the division-code prefixes of the policy's pooled area; none given: the insured place's
    first 4 digits), province (the same first 2) or anywhere."""
    insured, treated = claim.insuplc_admdvs, claim.mdtrtarea_admvs
    if insured == treated:
        return "county"
    if any(treated.startswith(prefix) for prefix in pool) if pool else insured[:4] == treated[:4]:
        return "pooled_city"
    if insured[:2] == treated[:2]:
        return "province"
    return "anywhere"


#: the claim's fields each condition reads, for whether it holds and for its words when it does not
FIELDS_READ: dict[str, tuple[str, ...]] = {
    "med_types": ("med_type",),
    "hosp_lv": ("hosp_lv",),
    "insutype": ("insutype",),
    "area": ("insuplc_admdvs", "mdtrtarea_admvs"),
    "referral": ("referral",),
    "emergency_unable_to_pay": ("emergency_unable_to_pay",),
    "discharged_from": ("enddate",),
    "discharged_to": ("enddate",),
    "contribution_tier": ("contribution_tier",),
    "age_from": ("age",),
    "age_below": ("age",),
}
if set(FIELDS_READ) != set(Conditions.model_fields):
    raise TypeError(
        f"say in FIELDS_READ which claim fields the conditions {set(Conditions.model_fields) - set(FIELDS_READ)} read"
    )


def fields_read(when: When | Conditions | None) -> set[str]:
    """The claim's fields that decide whether ``when`` holds, and what ``when_failures`` says."""
    if when is None:
        return set()
    alternatives = when.any_of if isinstance(when, When) else None
    return {
        name
        for conditions in [when, *(alternatives or [])]
        for condition, names in FIELDS_READ.items()
        if getattr(conditions, condition) is not None
        for name in names
    }


def _zh_list(values: Iterable[StrEnum], names: dict[str, str]) -> str:
    return "、".join(names.get(v.value, v.value) for v in values)


def failures(conditions: Conditions, claim: DischargeClaim, pool: tuple[str, ...] = ()) -> list[Reason]:
    """Each condition the claim does not meet, in words; empty when all hold. ``pool``: the policy's
    pooled area (area_of)."""
    missing = []
    if conditions.med_types is not None and claim.med_type not in conditions.med_types:
        missing.append(
            Reason(
                f"medical type {claim.med_type.value} is not one of {[m.value for m in conditions.med_types]}",
                f"医疗类别{MED_TYPE_ZH[claim.med_type.value]}不在{_zh_list(conditions.med_types, MED_TYPE_ZH)}之列",
            )
        )
    if conditions.hosp_lv is not None and claim.hosp_lv not in conditions.hosp_lv:
        missing.append(
            Reason(
                f"hospital level {claim.hosp_lv.value} is not one of {[h.value for h in conditions.hosp_lv]}",
                f"医院等级{claim.hosp_lv.value}级不在{'、'.join(h.value + '级' for h in conditions.hosp_lv)}之列",
            )
        )
    if conditions.insutype is not None and claim.insutype not in conditions.insutype:
        missing.append(
            Reason(
                f"insurance type {claim.insutype.value} is not one of {[i.value for i in conditions.insutype]}",
                f"险种{INSUTYPE_ZH[claim.insutype.value]}不在{_zh_list(conditions.insutype, INSUTYPE_ZH)}之列",
            )
        )
    if conditions.area is not None:
        area = area_of(claim, pool)
        if AREA_ORDER.index(area) > AREA_ORDER.index(conditions.area):
            missing.append(
                Reason(
                    f"treated {area} ({claim.mdtrtarea_admvs}), not within {conditions.area} of {claim.insuplc_admdvs}",
                    f"就医地{claim.mdtrtarea_admvs}属{AREA_ZH[area]}，不在参保地{claim.insuplc_admdvs}{AREA_ZH[conditions.area]}",
                )
            )
    if conditions.referral is not None and claim.referral != conditions.referral:
        missing.append(
            Reason("the stay was not referred", "未办理转诊")
            if conditions.referral
            else Reason("the stay was referred", "已办理转诊")
        )
    if (
        conditions.emergency_unable_to_pay is not None
        and claim.emergency_unable_to_pay != conditions.emergency_unable_to_pay
    ):
        missing.append(Reason("the claim is not flagged emergency_unable_to_pay", "非急诊无力支付"))
    if conditions.discharged_from is not None and claim.enddate < conditions.discharged_from:
        missing.append(
            Reason(
                f"discharged {claim.enddate}, before {conditions.discharged_from}",
                f"出院日期{claim.enddate}早于{conditions.discharged_from}",
            )
        )
    if conditions.discharged_to is not None and claim.enddate > conditions.discharged_to:
        missing.append(
            Reason(
                f"discharged {claim.enddate}, after {conditions.discharged_to}",
                f"出院日期{claim.enddate}晚于{conditions.discharged_to}",
            )
        )
    missing += _person_failures(conditions, claim)
    return missing


def _person_failures(conditions: Conditions, claim: DischargeClaim) -> list[Reason]:
    """The conditions on the person as the claim describes them (contribution tier, age) it does not meet."""
    missing = []
    tiers = conditions.contribution_tier
    if tiers is not None and claim.contribution_tier not in tiers:
        if claim.contribution_tier is None:
            missing.append(
                Reason(
                    "the claim does not say the contribution tier the person is insured in (contribution_tier)",
                    "本次就医未注明参保缴费档次",
                )
            )
        else:
            missing.append(
                Reason(
                    f"contribution tier {claim.contribution_tier} is not one of {tiers}",
                    f"参保缴费{claim.contribution_tier}档不在{'、'.join(f'{t}档' for t in tiers)}之列",
                )
            )
    if (conditions.age_from is not None or conditions.age_below is not None) and claim.age is None:
        missing.append(Reason("the claim does not give the patient's age at admission (age)", "本次就医未注明入院年龄"))
    elif conditions.age_from is not None and claim.age is not None and claim.age < conditions.age_from:
        missing.append(
            Reason(
                f"aged {claim.age} at admission, under {conditions.age_from}",
                f"入院年龄{claim.age}岁，未满{conditions.age_from}岁",
            )
        )
    elif conditions.age_below is not None and claim.age is not None and claim.age >= conditions.age_below:
        missing.append(
            Reason(
                f"aged {claim.age} at admission, not under {conditions.age_below}",
                f"入院年龄{claim.age}岁，不在{conditions.age_below}岁以下",
            )
        )
    return missing


def holds(conditions: Conditions, claim: DischargeClaim, pool: tuple[str, ...] = ()) -> bool:
    """True when the claim meets every condition (``failures`` says why not, in words)."""
    return (
        (conditions.med_types is None or claim.med_type in conditions.med_types)
        and (conditions.hosp_lv is None or claim.hosp_lv in conditions.hosp_lv)
        and (conditions.insutype is None or claim.insutype in conditions.insutype)
        and (conditions.area is None or AREA_ORDER.index(area_of(claim, pool)) <= AREA_ORDER.index(conditions.area))
        and (conditions.referral is None or claim.referral == conditions.referral)
        and (
            conditions.emergency_unable_to_pay is None
            or claim.emergency_unable_to_pay == conditions.emergency_unable_to_pay
        )
        and (conditions.discharged_from is None or claim.enddate >= conditions.discharged_from)
        and (conditions.discharged_to is None or claim.enddate <= conditions.discharged_to)
        and (conditions.contribution_tier is None or claim.contribution_tier in conditions.contribution_tier)
        and (conditions.age_from is None or (claim.age is not None and claim.age >= conditions.age_from))
        and (conditions.age_below is None or (claim.age is not None and claim.age < conditions.age_below))
    )


def when_holds(when: When | Conditions | None, claim: DischargeClaim, pool: tuple[str, ...] = ()) -> bool:
    """True when ``when`` and at least one of its alternatives (if any) hold."""
    if when is None:
        return True
    alternatives = when.any_of if isinstance(when, When) else None  # (a missing attribute is slow on a model)
    return holds(when, claim, pool) and (not alternatives or any(holds(alt, claim, pool) for alt in alternatives))


def when_failures(when: When | Conditions | None, claim: DischargeClaim, pool: tuple[str, ...] = ()) -> list[Reason]:
    """Like ``failures``, with ``any_of``: at least one alternative must hold as well."""
    if when is None:
        return []
    missing = failures(when, claim, pool)
    alternatives = when.any_of if isinstance(when, When) else None
    if alternatives:
        per_alternative = [failures(alt, claim, pool) for alt in alternatives]
        if all(per_alternative):
            missing.append(
                Reason(
                    "none of the alternatives holds: "
                    + "; or ".join(", ".join(r.en for r in f) for f in per_alternative),
                    "以下条件均不满足：" + "；或".join("，".join(r.zh for r in f) for f in per_alternative),
                )
            )
    return missing


@cache
def _named(patterns: tuple[str, ...]) -> tuple[Category, ...]:
    return tuple(dict.fromkeys(c for p in patterns for c in categories_named(p)))  # the tier's own order


def holding(patterns: list[str] | None, held: Iterable[Category]) -> list[Category]:
    """The person's categories that a tier's patterns name (all of them, for a tier open to everyone)."""
    held = set(held)
    if patterns is None:
        return sorted(held)
    return [c for c in _named(tuple(patterns)) if c in held]


def open_to(patterns: list[str] | None, held: Iterable[Category]) -> bool:
    return patterns is None or not set(_named(tuple(patterns))).isdisjoint(held)
