"""The records the store speaks, whatever its backend (PostgreSQL or memory)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from schemas.events import CategoryHeld, DischargeClaim, PaymentLine, PolicyRef, Settlement
from schemas.totals import AccountTotals


@dataclass(frozen=True)
class SettledClaim:
    """A settled claim of a person as the ledger has it now, for settling it again."""

    claim: DischargeClaim
    identity: list[CategoryHeld]  # the latest used: the intake snapshot, or the last adjustment's
    policy: PolicyRef
    lines: list[PaymentLine]  # one per payer, its amount net of every adjustment so far


@dataclass(frozen=True)
class Resettlement:
    """What a re-settlement decided: adjustment settlements and the redone accounts' new totals."""

    adjustments: list[Settlement]
    totals: dict[tuple[int, str], AccountTotals]  # (year, account) -> replaces the recorded row


@dataclass(frozen=True)
class ReceivedClaim:
    """A claim as intake received it: its digest, payload and the identity snapshot attached."""

    claim_id: str
    psn_no: str
    digest: str
    payload: dict
    snapshot: dict
    topic: str
    partition: int | None
    offset: int | None


@dataclass(frozen=True)
class Received:
    """Whether a claim was new, the same as before, or a different claim under a used id.

    ``snapshot`` is the one stored at first receipt (also for a conflict).
    """

    status: Literal["new", "same", "conflict"]
    snapshot: dict


@dataclass(frozen=True)
class PayerWork:
    """One claim for a payer; ``item`` is opaque to the store and passed to ``compute``."""

    claim_id: str
    psn_no: str
    year: int
    item: Any
