"""Worked-case files (../shared/cases/README.md): one person's year, claims in arrival order, expectations."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from .codes import Category, DivisionCode, InsuType
from .events import DischargeClaim
from .money import Money


class CaseCategory(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: Category
    valid_from: date
    valid_to: date | None = None


class CasePerson(BaseModel):
    psn_no: str
    insutype: InsuType
    insuplc_admdvs: DivisionCode
    categories: list[CaseCategory] = []


class Expected(BaseModel):
    claim_id: str
    payments: dict[str, Money]
    personal: Money


class Case(BaseModel):
    name: str
    description: str = ""
    person: CasePerson
    claims: list[DischargeClaim]
    expect: list[Expected] = []
