"""The worked premium-subsidy cases (tests/cases_premiums/*.json), worked by hand from PARAMETERS.md
"Premium subsidies", one file per region.

Each file is a region's year as the bureau and the authorities send it, in the order received:

```
{ "name", "description",
  "inputs": [ {"enrollment": <enrollment.changes event>} | {"eligibility": <eligibility.changes event>}
              | {"roll": <premiums.rolls event>} ... ],
  "expect": [ {"claim_id": "premium/<region>/<year>/<psn_no>", "category", "due_date",
               "payments": {"<payer>": "<amount>"}, "personal": "<amount>", "reason"} ... ] }
```

Every premium record the inputs make is expected, and nothing else: a person missing from
``expect`` is subsidised by no record. A roll takes effect in the order of every person (it names
no one); the other inputs in the order of the person they name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.received import ChangeReceived, EnrollmentReceived, Input, RollReceived
from schemas.events import EligibilityChange, EnrollmentChange, PremiumRoll

PREMIUM_CASES_DIR = Path(__file__).parent / "cases_premiums"
MODELS = {"enrollment": EnrollmentChange, "eligibility": EligibilityChange, "roll": PremiumRoll}


@dataclass(frozen=True)
class PremiumCase:
    name: str
    description: str
    events: list[tuple[str, Any]]  # (kind, event) in the order received
    expect: list[dict[str, Any]]

    def persons(self) -> list[str]:
        return sorted(dict.fromkeys(e.psn_no for kind, e in self.events if kind != "roll"))

    def inputs_of(self) -> dict[str, list[Input]]:
        """Each person's inputs in their order: their own events, and every roll, as received."""
        out: dict[str, list[Input]] = {psn_no: [] for psn_no in self.persons()}
        for seq, (kind, event) in enumerate(self.events, start=1):
            for psn_no in out if kind == "roll" else [event.psn_no]:
                out[psn_no].append(_received(kind, seq, event))
        return out


def _received(kind: str, seq: int, event: Any) -> Input:
    if kind == "enrollment":
        return EnrollmentReceived(seq, event)
    if kind == "eligibility":
        return ChangeReceived(seq, event)
    return RollReceived(seq, event)


def load_premium_case(path: Path) -> PremiumCase:
    data = json.loads(path.read_text(encoding="utf-8"))
    events = []
    for item in data["inputs"]:
        [(kind, fields)] = item.items()
        events.append((kind, MODELS[kind].model_validate(fields)))
    return PremiumCase(data["name"], data["description"], events, data["expect"])


def premium_cases() -> list[PremiumCase]:
    return [load_premium_case(path) for path in sorted(PREMIUM_CASES_DIR.glob("*.json"))]
