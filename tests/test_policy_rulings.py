"""The rulings PARAMETERS.md took from the seeds, on the real policy files, worked by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from policies.replay import settle_in_order
from schemas.codes import Category
from schemas.events import CategoryHeld

from .test_policy_rules import claim, line, paid

D = Decimal


def poor_since_2017() -> list[CategoryHeld]:
    return [CategoryHeld(code=Category.poverty_registered, valid_from=date(2017, 1, 1))]


def guangan(inscp: str, **fields):
    return claim(inscp, insured="511602", day="2018-04-15", **fields)


def test_guangan_emergency_relief_pays_a_resident_in_county_inpatient_stay():
    (r,) = settle_in_order([guangan("3000.00", hosp_lv="1", emergency=True)], poor_since_2017())
    # basic 90% × (3,000 − 200) = 2,520; left 480; critical 0 (below 8,000), tilt 0;
    # emergency relief 100% of the remaining 480 (at most 5,000): 480.00
    assert paid(r)["emergency_relief"] == D("480.00")


@pytest.mark.parametrize(
    "fields, why",
    [
        ({"insutype": "310"}, "insurance type 310 is not one of ['390']"),
        ({"treated": "511621"}, "not within county of 511602"),
        ({"med_type": "14"}, "medical type 14 is not one of ['21']"),
    ],
)
def test_guangan_emergency_relief_only_for_resident_in_county_inpatient_stays(fields, why):
    (r,) = settle_in_order([guangan("3000.00", hosp_lv="1", emergency=True, **fields)], poor_since_2017())
    relief = line(r, "emergency_relief")
    assert relief.amount == D("0.00")
    assert why in relief.explanation


def test_guangan_poverty_relief_holds_the_share_within_ten_percent_after_rounding():
    # a referred in-county stay of 1,234.55 (all in scope) at a level-2 hospital: basic 80% × (1,234.55 − 500)
    # = 587.64; critical, tilt: 0; assistance 70% × 646.91 = 452.837 → 452.84; left 194.07;
    # poverty relief: 194.07 − 10% × 1,234.55 (123.455) = 70.615 → 70.62; the patient pays 123.45 ≤ 123.455
    (r,) = settle_in_order([guangan("1234.55", hosp_lv="2", referral=True)], poor_since_2017())
    assert paid(r)["poverty_relief"] == D("70.62")
    assert r.psn_part_amt == D("123.45")
    assert r.psn_part_amt <= r.claim.medfee_sumamt * D("0.1")


@pytest.mark.parametrize("dise, assistance", [("C19", "76625.00"), ("C18.2", "76625.00"), ("K35.8", "50000.00")])
def test_zhangye_colorectal_cancer_includes_the_rectosigmoid_junction(dise, assistance):
    orphan = [CategoryHeld(code=Category.orphan, valid_from=date(2021, 1, 1))]
    (r,) = settle_in_order([claim("600000.00", insured="620702", hosp_lv="3", dise=dise, day="2022-08-01")], orphan)
    # basic 65% × 599,000 = 389,350, capped at 200,000; left 400,000;
    # critical tilt (orphan): 65% × 47,500 + 75% × 50,000 + 85% × 300,000 = 323,375.00; left 76,625;
    # assistance 100% × 76,625: within the major-disease cap 80,000 (C18–C20), else the ordinary 50,000
    assert paid(r)["basic"] == D("200000.00") and paid(r)["critical"] == D("323375.00")
    assert paid(r)["assistance"] == D(assistance)
