"""A generated year of claims: people of the five regions with their categories, and their bills.

Deterministic for a seed. Mixes inpatient stays (levels 1–3, mostly in the pooled city, some
referred elsewhere), chronic-disease outpatient and general outpatient visits, with realistic
shares of out-of-scope parts. Used by the engine and pipeline benchmarks and the chaos run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from schemas.codes import Category
from schemas.events import CategoryHeld, DischargeClaim

#: region -> (insured county, another county of the pooled city, a county elsewhere in the province, year)
REGIONS = {
    "zhengzhou": ("410102", "410105", "411002", 2018),
    "guangan": ("511602", "511621", "510104", 2018),
    "zhangye": ("620702", "620721", "620102", 2022),
    "taizhou": ("321202", "321203", "320102", 2018),
    "jining": ("370811", "370812", "370102", 2021),
}
CATEGORY_MIX = [
    [],
    [],
    [Category.dibao],
    [Category.tekun],
    [Category.dibao_rural_1],
    [Category.dibao_rural_3],
    [Category.dibao_edge],
    [Category.poverty_registered],
    [Category.orphan],
    [Category.low_income_serious_illness],
    [Category.severe_disability, Category.dibao],
    [Category.illness_impoverished],
    [Category.returned_to_poverty],
]
DIAGNOSES = ["K35.8", "I63.9", "C34.9", "J44.1", "N18.5", "E11.9", "S72.0", "I21.0"]


@dataclass(frozen=True)
class Person:
    psn_no: str
    region: str
    insutype: str
    insuplc_admdvs: str
    categories: tuple[CategoryHeld, ...]


def _fen(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def people(count: int, seed: int = 7, prefix: str = "B") -> list[Person]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        region = rng.choice(list(REGIONS))
        home, _, _, year = REGIONS[region]
        held = tuple(CategoryHeld(code=c, valid_from=date(year - 1, 1, 1)) for c in rng.choice(CATEGORY_MIX))
        out.append(Person(f"{prefix}{i:07d}", region, rng.choice(["390", "390", "390", "310"]), home, held))
    return out


def claim_for(person: Person, number: int, rng: random.Random) -> DischargeClaim:
    home, city, province, year = REGIONS[person.region]
    kind = rng.choices(["21", "14", "11"], weights=[5, 2, 3])[0]
    start = date(year, 7, 1) + timedelta(days=rng.randint(0, 170))
    if kind == "21":
        in_scope, stay = _fen(rng, 800, 120_000), rng.randint(1, 20)
    else:
        in_scope, stay = _fen(rng, 20, 3_000), 0
    out_of_scope = (in_scope * Decimal(rng.randint(0, 20)) / 100).quantize(Decimal("0.01"))
    pre_self = (in_scope * Decimal(rng.randint(0, 8)) / 100).quantize(Decimal("0.01"))
    place = rng.choices([home, city, province, "110105"], weights=[6, 2, 1, 1])[0]
    return DischargeClaim(
        claim_id=f"{person.psn_no}-{number:04d}",
        psn_no=person.psn_no,
        insutype=person.insutype,
        insuplc_admdvs=person.insuplc_admdvs,
        mdtrtarea_admvs=place,
        med_type=kind,
        hosp_lv=rng.choice("123"),
        referral=rng.random() < 0.3,
        emergency_unable_to_pay=rng.random() < 0.02,
        begndate=start,
        enddate=start + timedelta(days=stay),
        dise_codg=rng.choice(DIAGNOSES),
        medfee_sumamt=in_scope + out_of_scope + pre_self,
        fulamt_ownpay_amt=out_of_scope,
        overlmt_selfpay="0.00",
        preselfpay_amt=pre_self,
        inscp_scp_amt=in_scope,
    )


def year_of_claims(
    claims: int, persons: int | None = None, seed: int = 7, prefix: str = "B"
) -> tuple[list[Person], list[DischargeClaim]]:
    """``claims`` claims of ``persons`` people (default claims // 4; person numbers ``<prefix>NNNNNNN``),
    in discharge order per person."""
    rng = random.Random(seed)
    population = people(persons or max(1, claims // 4), seed, prefix)
    made = [claim_for(rng.choice(population), n, rng) for n in range(claims)]
    made.sort(key=lambda c: c.enddate)
    return population, made
