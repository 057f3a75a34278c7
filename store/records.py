"""The records the store speaks, whatever its backend (PostgreSQL or memory)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from schemas.events import DischargeClaim, HighCostAlert, Settlement

E = TypeVar("E")


class Place(NamedTuple):
    """Where a row is in the store's order: its person, and its place in that person's order. Readers
    page by it (persons in order of their numbers, each person's rows in theirs)."""

    psn_no: str
    seq: int


#: before every place
START = Place("", 0)


@dataclass(frozen=True)
class Arrival(Generic[E]):
    """An input as it came off a topic: its raw bytes and position, and the event they parse to."""

    topic: str
    partition: int | None
    offset: int | None
    raw: bytes
    event: E


@dataclass(frozen=True)
class ClaimReceipt:
    """What intake's store made of one discharge event.

    ``new``: first receipt, to be paid (``snapshot`` attached now); ``same``: received before with
    the same content (``snapshot`` as stored); ``correction``: a higher revision of a known claim,
    settled again by the ledger; ``conflict`` / ``stale`` / ``refused``: not accepted, ``reason`` says why.
    """

    status: Literal["new", "same", "correction", "conflict", "stale", "refused"]
    seq: int
    snapshot: dict | None = None
    reason: str | None = None
    #: new / same: the claim's year as the ledger had it when intake took the claim (account → totals
    #: as JSON): what its payers compute on. The ledger does not believe it; it settles on its own
    basis: dict | None = None


@dataclass(frozen=True)
class InputReceipt:
    """What the store made of one cancellation, eligibility or enrollment change, year-end close or premium roll."""

    status: Literal["applied", "waiting", "repeat", "refused"]
    seq: int
    reason: str | None = None
    persons: tuple[str, ...] = ()  # whose queue it was put in (each gets a wake-up: the ledger applies it)


@dataclass(frozen=True)
class ArrivedClaim:
    """A claim in flight as it reached the ledger: which claim it says it is, and the lines its
    payers appended on the year's totals it carried (``basis``). Nothing of it is believed: the
    ledger compares it with what intake recorded, and settles by the rules on its own totals."""

    psn_no: str
    key: str  # the claim's key: its hospital and id (schemas/ids.py)
    seq: int
    lines: list  # the payers' lines, as JSON
    basis: Any  # account -> totals, as JSON


@dataclass(frozen=True)
class Outbox:
    """Records and alerts a step made (or found unpublished), to publish in this order."""

    records: list[Settlement] = field(default_factory=list)
    alerts: list[tuple[str, HighCostAlert]] = field(default_factory=list)  # (alert id, alert)
    #: settlement_id -> the record exactly as written (wire JSON), where the store serialised it
    #: already: each record is serialised once, for the ledger and the topic alike
    wire: dict[str, bytes] = field(default_factory=dict)

    def __add__(self, other: "Outbox") -> "Outbox":
        return Outbox([*self.records, *other.records], [*self.alerts, *other.alerts], {**self.wire, **other.wire})


#: the ledger's worker, the last a claim passes through after the workers of its route's payers (named
#: by the payer): what intake's resender must know of where a claim in flight can be parked
LEDGER_WORKER = "ledger"


@dataclass(frozen=True)
class StalledClaim:
    """A claim intake received and queued that has not reached the ledger: its message to a payer
    or to the ledger may have been lost on the way, so intake can send it again."""

    claim: DischargeClaim
    seq: int
    snapshot: dict  # what it travels with (identity, policy, route), as first attached
    basis: dict = field(default_factory=dict)  # its year's totals now (account -> totals as JSON)


@dataclass(frozen=True)
class QueueItem:
    """An input waiting to take effect in its person's ledger, in (seq, sub) order.

    kind: claim (ready when it reaches the ledger; ``flagged`` when its payers' lines cannot be
    trusted and the ledger must settle it by the rules), correction, cancellation, eligibility, close,
    enrollment, roll.
    """

    psn_no: str
    seq: int
    sub: int
    kind: Literal["claim", "correction", "cancellation", "eligibility", "close", "enrollment", "roll"]
    ref: str  # claim key, cancellation key, eligibility, enrollment, close or roll event_id
    ready: bool
    flagged: bool = False

    @property
    def key(self) -> tuple[int, int]:
        return (self.seq, self.sub)


@dataclass(frozen=True)
class Parked:
    """A message a worker could not handle, kept with the error; its person's later ones wait behind it."""

    parked_id: int
    worker: str
    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    value: bytes | None
    error: str
    parked_at: datetime
    behind: bool  # parked only because an earlier message of the same person is
    #: the record's headers as received (a signed input's key id and signature): sent again with it
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class DroppedParked:
    """A parked message an operator resolved without handling it (`onestop parked drop`): the
    message as it was parked, who dropped it, when and why. Kept for good (an audit reads them)."""

    dropped_id: int
    parked: Parked
    reason: str
    dropped_by: str  # the operator, as they named themselves
    dropped_at: datetime


@dataclass(frozen=True)
class ArchivedInput:
    """One input as the archive keeps it."""

    seq: int
    topic: str
    partition: int | None
    offset: int | None
    raw: bytes
    kind: str
    outcome: str
    reason: str | None
    received_at: datetime
    psn_no: str = ""  # whose order it is in ("" when it names no one person, or a close as received)
    life: int = 0  # the life of the topics it came from (a restarted embedded broker starts them again)

    @property
    def place(self) -> Place:
        return Place(self.psn_no, self.seq)
