"""The 30 major diseases, matched on the ICD-10 code of the claim's main diagnosis."""

from __future__ import annotations

from functools import cache, lru_cache
from importlib import resources

import yaml

from schemas.policy import MajorDisease, MajorDiseaseList


@cache
def major_diseases() -> MajorDiseaseList:
    text = resources.files("policies").joinpath("data/major_diseases.yaml").read_text(encoding="utf-8")
    return MajorDiseaseList.model_validate(yaml.safe_load(text))


@lru_cache(maxsize=4096)  # a few hundred diagnoses recur: the list is scanned once for each
def major_disease_of(dise_codg: str, age: int | None = None) -> MajorDisease | None:
    """The listed major disease this diagnosis is, or None."""
    for disease in major_diseases().diseases:
        if any(dise_codg.startswith(prefix) for prefix in disease.icd10_prefixes):
            if disease.max_age is not None and (age is None or age > disease.max_age):
                continue
            return disease
    return None
