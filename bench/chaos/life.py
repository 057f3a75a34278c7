"""The ledger's life in the chaos run: corrected bills, cancellations and revocations that reach
back, published while the claims they change are still travelling (issue 13).

- A corrected bill is the same claim_id with revision 1 and 10% less in scope (the total falls by
  as much), placed among the discharge events some time after its original.
- A cancellation (claims.cancelled) is published after the slice of discharge events that holds
  its claim, so it may reach intake before its claim does (then it waits for it) or after.
- A revocation withdraws one of a person's categories from its first day, after the first slice:
  what was paid on its grounds is recovered from the claims already settled, and the claims still
  travelling are settled by the rules.

The final truth of every person is the same whatever the interleaving, so the fault run's net per
claim must equal the reference run's, and each run's records must be what the audit replay of its
own archived inputs makes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

import orjson

from bench.generator import Person
from schemas.codes import ISSUING_AUTHORITY
from schemas.ids import claim_key

#: when the revocations and cancellations say they were recorded (fixed: both runs publish the same bytes)
DECIDED_AT = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)


@dataclass
class LifeEvents:
    corrections: list[tuple[float, bytes]] = field(default_factory=list)  # (position among the claims, raw)
    cancellations: list[tuple[float, bytes]] = field(default_factory=list)  # (position of its claim, raw)
    revocations: list[bytes] = field(default_factory=list)
    cancelled: set[str] = field(default_factory=set)  # claim keys (schemas/ids.py)
    corrected: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)  # psn_no


def corrected_bill(claim: dict) -> dict:
    """The same claim as revision 1: 10% less in scope, the total less by as much."""
    inscp = Decimal(claim["inscp_scp_amt"])
    less = (inscp / 10).quantize(Decimal("0.01"))
    return {
        **claim,
        "revision": 1,
        "inscp_scp_amt": f"{inscp - less:.2f}",
        "medfee_sumamt": f"{Decimal(claim['medfee_sumamt']) - less:.2f}",
    }


def cancellation_of(claim: dict, number: int) -> dict:
    return {
        "event_id": f"CXL{number:06d}",
        "claim_id": claim["claim_id"],
        "psn_no": claim["psn_no"],
        "psn_name": claim["psn_name"],
        "reason": "结算有误，撤销重结 (billed in error)",
        "cancelled_at": DECIDED_AT.isoformat(),
        "fixmedins_code": claim.get("fixmedins_code"),
    }


def revocation_of(person: Person, number: int, name: str) -> dict:
    held = person.categories[0]
    return {
        "event_id": f"RVK{number:06d}",
        "psn_no": person.psn_no,
        "psn_name": name,
        "category": held.code.value,
        "action": "revoke",
        "valid_from": held.valid_from.isoformat(),
        "authority": ISSUING_AUTHORITY[held.code].value,
        "recorded_at": DECIDED_AT.isoformat(),
    }


def make_life(
    dicts: list[dict], people: list[Person], names: dict[str, str], share: float, rng: random.Random
) -> LifeEvents:
    """``share`` of the claims corrected, as many cancelled (other claims), and ``share`` of the people
    with a category lose their first one from its first day."""
    life = LifeEvents()
    count = round(len(dicts) * share)
    chosen = rng.sample(range(len(dicts)), min(len(dicts), 2 * count))
    for index in chosen[:count]:
        claim = dicts[index]
        life.corrections.append((rng.uniform(index + 0.6, len(dicts) + 0.5), orjson.dumps(corrected_bill(claim))))
        life.corrected.add(claim_key(claim.get("fixmedins_code"), claim["claim_id"]))
    for number, index in enumerate(chosen[count:]):
        claim = dicts[index]
        life.cancellations.append((float(index), orjson.dumps(cancellation_of(claim, number))))
        life.cancelled.add(claim_key(claim.get("fixmedins_code"), claim["claim_id"]))
    holders = [p for p in people if p.categories]
    for number, person in enumerate(rng.sample(holders, min(len(holders), round(len(holders) * share)))):
        life.revocations.append(orjson.dumps(revocation_of(person, number, names[person.psn_no])))
        life.revoked.add(person.psn_no)
    return life
