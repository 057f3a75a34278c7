"""What a hospital may see of a person's records (its pre-settlement answers, its records on
``settlements.nhsa.<fixmedins_code>``): the bill and what each fund pays for it, with the rule and
the arithmetic — never which categories the person holds, who granted them, since when, or the
grants' ids.

So in what a hospital is sent:
- a record's ``identity`` (the categories held, with their authority, validity and grant id) is empty;
- in a payment line's ``rule``, ``explanation``, ``explanation_zh`` and ``applied``, in a record's
  ``reason`` and in notes, every name a category goes by — its code, its Chinese name, the label of
  a policy tier open to categories (``[dibao, tekun]``, ``tilt for vulnerable residents``,
  ``困难群众``) — reads "category withheld" / "人员类别略", and the authorities' codes and the grants'
  ids "withheld";
- a record caused by an eligibility change gives as its reason only that the person's eligibility
  changed (the change's id, category, validity and authority are the grant's).

What stays: the funds and their codes and names, every amount, base, deductible, rate, cap and
yearly total, the policy and the rule's place in it. That a fund open only to some people pays says
as much as its amount does, and the hospital bills that fund for it: the amount is the hospital's
to know, the reason behind it is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import overload

from schemas.codes import CATEGORY_ZH, Authority, Category, InsuType
from schemas.events import PaymentLine, Settlement

from .loader import load_policies

WITHHELD = "category withheld"
WITHHELD_ZH = "人员类别略"
WITHHELD_ID = "withheld"
ELIGIBILITY_CHANGED = "a change of the person's eligibility"


@cache
def _names() -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern for every name to withhold and every fund name to keep as it is (a fund may be
    named after the people it serves: 困难群众大病补充医疗保险 keeps its name), longest first so that a
    label is replaced whole, not word by word; and what each match becomes."""
    instead: dict[str, str] = {}
    for policy in load_policies():
        for payer in policy.payers:
            for rule in payer.rules:
                for tier in rule.tiers:
                    if tier.categories is not None:
                        instead[tier.label] = WITHHELD
                        if tier.label_zh:
                            instead[tier.label_zh] = WITHHELD_ZH
    instead.update({c.value: WITHHELD for c in Category})
    instead.update({zh: WITHHELD_ZH for zh in CATEGORY_ZH.values()})
    for policy in load_policies():  # the categories regions declare, as the national ones
        for declared in policy.categories:
            instead.update({declared.code: WITHHELD, declared.name: WITHHELD, declared.name_zh: WITHHELD_ZH})
        for closing in policy.year_end:  # a top-up's label names the people it is for, as a tier's does
            if closing.top_up is not None and closing.top_up.categories is not None:
                instead[closing.top_up.label] = WITHHELD
                if closing.top_up.label_zh:
                    instead[closing.top_up.label_zh] = WITHHELD_ZH
    instead.update({a.value: WITHHELD_ID for a in Authority})
    for policy in load_policies():  # kept as they are, whatever they contain
        for payer in policy.payers:
            instead[payer.name_zh] = payer.name_zh
            for insutype in InsuType:
                instead[payer.fund_name_for(insutype)] = payer.fund_name_for(insutype)
    pattern = re.compile("|".join(re.escape(name) for name in sorted(instead, key=len, reverse=True)))
    return pattern, instead


_RUNS = re.compile(
    f"(?:{re.escape(WITHHELD)}|{re.escape(WITHHELD_ZH)})(?:\\s*[,、，]\\s*(?:{re.escape(WITHHELD)}|{re.escape(WITHHELD_ZH)}))+"
)


@overload
def withhold(text: str, ids: Iterable[str] = ()) -> str: ...
@overload
def withhold(text: None, ids: Iterable[str] = ()) -> None: ...
def withhold(text: str | None, ids: Iterable[str] = ()) -> str | None:
    """``text`` with every category's name, authority and one of ``ids`` (grants' ids) withheld."""
    if not text:
        return text
    for grant_id in ids:
        if grant_id:
            text = text.replace(grant_id, WITHHELD_ID)
    pattern, instead = _names()
    text = pattern.sub(lambda found: instead[found.group(0)], text)
    # "dibao, tekun" → one mark, not two: how many categories a person holds is theirs too
    return _RUNS.sub(lambda run: WITHHELD_ZH if run.group(0).startswith(WITHHELD_ZH) else WITHHELD, text)


def _line(line: PaymentLine, ids: tuple[str, ...]) -> PaymentLine:
    return line.model_copy(
        update={
            "rule": withhold(line.rule, ids),
            "explanation": withhold(line.explanation, ids),
            "explanation_zh": withhold(line.explanation_zh, ids),
            "applied": withhold(line.applied, ids),
        }
    )


def _reason(reason: str | None, ids: tuple[str, ...]) -> str | None:
    if reason is not None and reason.startswith(
        "eligibility change "
    ):  # policies.ledger.reason_of: the grant's own words
        return ELIGIBILITY_CHANGED
    return withhold(reason, ids)


def seen_by_hospital(record: Settlement, ids: Iterable[str] = ()) -> Settlement:
    """``record`` as a hospital may see it (the module's doc); ``ids``: grants' ids to withhold
    wherever they appear, besides those of the record's own identity."""
    every = tuple(dict.fromkeys([*ids, *(held.event_id for held in record.identity if held.event_id)]))
    return record.model_copy(
        update={
            "identity": [],
            "reason": _reason(record.reason, every),
            "payments": [_line(line, every) for line in record.payments],
        }
    )
