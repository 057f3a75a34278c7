"""The memory store: the idempotent ledger of store/interface.py in this process's memory, for tests.

It behaves as the PostgreSQL store (store/postgres/) does — the same statuses, reasons, records,
flags, queue rules and outbox, in the same order — only without SQL: each table is a dict keyed
by its primary key, and each method takes one asyncio lock for the whole store and runs as one
transaction (an undo log puts every change back if it raises, as a rollback would). What the
rows hold is what PostgreSQL would give back: events, snapshots and records are kept as
the JSON their columns hold and validated again when read; money columns are ``numeric(14,2)``
(two places); timestamps are UTC; sequence numbers are consumed when an insert finds its key
taken, as PostgreSQL's are. The order each person's inputs take effect in is store/life.py's, the
periods policies.periods', the check of a claim arriving at the ledger policies.soundness', and
what the PostgreSQL store decides in Python rather than SQL (a claim's content digest, the JSON its
columns hold, the wording of a refusal) is its own code, reused, so that both backends decide alike.

``memory://NAME`` names one store per process (``MemoryStore.named``), so a test's workers, each
opening the URL, share it; ``close()`` keeps it (the next opener finds it), ``forget(url)`` drops it.
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

import orjson

from policies.ledger import CancellationReceived, ChangeReceived, ClaimReceived, CloseReceived, Input
from policies.periods import periods_from
from policies.settle import Settled
from policies.soundness import checked
from schemas.events import (
    CategoryHeld, ClaimCancellation, DischargeClaim, EligibilityChange, HighCostAlert, Settlement, YearEndClose,
)
from schemas.keys import CHALLENGE_LIFETIME, KeyChallenge, KeyProof, ProofRefused, SigningKey, proof_refusal
from schemas.money import FEN
from schemas.personal import mask
from schemas.totals import AccountTotals, YearTotals, totals_from_json, totals_json
from schemas.wire import encode

from .columns import content_digest, dumps, totals_row
from .interface import Attach, Store
from .life import apply_ready
from .postgres.inputs import required_for_a_drop, without_nul
from .reasons import claim_named, not_received_to_correct
from .records import (
    LEDGER_WORKER, ArchivedInput, ArrivedClaim, Arrival, ClaimReceipt, DroppedParked, InputReceipt, Outbox, Parked, QueueItem,
    StalledClaim,
)

_KINDS = ("claim", "cancellation", "eligibility", "close", "other")  # inputs.kind's CHECK
_MISSING = object()


def _loads(data: bytes) -> Any:
    return orjson.loads(data)


def _numeric(value: Decimal) -> Decimal:
    """A value as a ``numeric(14,2)`` column keeps it (rounded half away from zero, as PostgreSQL does)."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def _utc(moment: datetime) -> datetime:
    """A moment as a ``timestamptz`` column gives it back: in UTC (a naive one read as local time, as asyncpg does)."""
    return moment.astimezone(timezone.utc)


# --- rows: what each table's columns hold -------------------------------------------------------


@dataclass(frozen=True)
class _Input:
    seq: int
    topic: str
    partition: int | None
    offset: int | None
    digest: str
    raw: bytes
    psn_no: str | None
    kind: str
    outcome: str
    reason: str | None
    received_at: datetime


@dataclass(frozen=True)
class _Claim:
    key: str  # claim_key: its hospital and id (schemas/ids.py)
    claim_id: str
    psn_no: str
    digest: str
    payload: bytes  # the claim as JSON (by alias)
    hospital: str | None  # payload ->> 'fixmedins_code'
    snapshot: bytes | None  # only the first receipt travels
    topic: str
    partition: int | None
    offset: int | None
    revision: int
    seq: int
    year: int
    region: str | None
    received_at: datetime


@dataclass(frozen=True)
class _Cancellation:
    key: str  # cancellation_key: its hospital and event_id (schemas/ids.py)
    event_id: str
    input_seq: int
    claim_key: str  # the claim it cancels: its own hospital's
    psn_no: str
    reason: str
    cancelled_at: datetime
    event: bytes
    status: str  # applied | waiting
    received_at: datetime


@dataclass(frozen=True)
class _Change:
    event_id: str
    psn_no: str
    category: str
    action: str
    valid_from: date
    valid_to: date | None
    authority: str
    recorded_at: datetime
    event: bytes
    seq: int
    received_at: datetime
    input_seq: int

    def folded(self) -> dict:
        """The columns policies.periods.periods_from reads."""
        return {"event_id": self.event_id, "action": self.action, "valid_from": self.valid_from, "valid_to": self.valid_to,
                "authority": self.authority, "recorded_at": self.recorded_at}


@dataclass(frozen=True)
class _Period:
    category: str
    valid_from: date
    valid_to: date | None
    authority: str
    event_id: str

    def held(self) -> CategoryHeld:
        return CategoryHeld(code=self.category, valid_from=self.valid_from, valid_to=self.valid_to, authority=self.authority,
                            event_id=self.event_id)


@dataclass(frozen=True)
class _Totals:
    base: Decimal
    paid: Decimal
    paid_by_day: bytes
    assisted_visits_by_month: bytes

    def account(self) -> AccountTotals:
        return AccountTotals.model_validate({
            "base": self.base, "paid": self.paid, "paid_by_day": _loads(self.paid_by_day),
            "assisted_visits_by_month": _loads(self.assisted_visits_by_month),
        })


@dataclass(frozen=True)
class _Record:
    seq: int
    settlement_id: str
    key: str  # the claim's key (or the year-end entry's id)
    claim_id: str
    kind: str
    psn_no: str
    record: bytes
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    psn_part_amt: Decimal
    year: int | None
    published: bool = False

    def settlement(self) -> Settlement:
        return Settlement.model_validate(_loads(self.record))


@dataclass(frozen=True)
class _Alert:
    seq: int
    alert_id: str
    psn_no: str
    alert: bytes
    published: bool = False


@dataclass(frozen=True)
class _Rejection:
    id: int
    topic: str
    reason: str
    original: str
    partition: int | None
    offset: int | None
    rejected_at: datetime


@dataclass(frozen=True)
class _Close:
    region: str
    year: int
    event_id: str
    input_seq: int
    closed_at: datetime


class _Undo:
    """Every change of one transaction, to put back if it raises."""

    def __init__(self) -> None:
        self.log: list[tuple[dict, Any, Any]] = []

    def set(self, table: dict, key: Any, value: Any) -> None:
        self.log.append((table, key, table.get(key, _MISSING)))
        table[key] = value

    def pop(self, table: dict, key: Any) -> None:
        if key in table:
            self.log.append((table, key, table[key]))
            del table[key]

    def rollback(self) -> None:
        for table, key, old in reversed(self.log):
            if old is _MISSING:
                table.pop(key, None)
            else:
                table[key] = old
        self.log.clear()


class _Tables:
    """The tables (dicts by primary key) and the indexes that stand in for PostgreSQL's."""

    def __init__(self) -> None:
        self.inputs: dict[int, _Input] = {}
        self.input_places: dict[tuple, int] = {}  # (topic, partition, offset, digest) -> seq
        self.claims: dict[str, dict[int, _Claim]] = {}  # claim key -> revision -> row
        self.person_claims: dict[str, dict[tuple[str, int], None]] = {}
        self.cancellations: dict[str, _Cancellation] = {}  # by cancellation key
        self.claim_cancellations: dict[str, dict[str, None]] = {}  # claim key -> cancellation keys
        self.person_cancellations: dict[str, dict[str, None]] = {}
        self.changes: dict[tuple[str, str], _Change] = {}  # identity_events by (authority, event_id)
        self.person_changes: dict[str, dict[tuple[str, str], None]] = {}
        self.periods: dict[str, dict[tuple[str, date], _Period]] = {}  # identity_periods by person
        self.totals: dict[tuple[str, int, str], _Totals] = {}  # year_totals (psn_no, year, account)
        self.person_totals: dict[str, dict[tuple[int, str], None]] = {}
        self.records: dict[str, _Record] = {}  # settlements by settlement_id, in seq order
        self.claim_records: dict[str, dict[str, None]] = {}  # claim key -> settlement ids
        self.person_records: dict[str, dict[str, None]] = {}
        self.alerts: dict[str, _Alert] = {}
        self.person_alerts: dict[str, dict[str, None]] = {}
        self.rejections: dict[int, _Rejection] = {}
        self.rejection_places: dict[tuple, int] = {}
        self.closes: dict[tuple[str, int], _Close] = {}  # year_closes (region, year)
        self.close_ids: dict[str, tuple[str, int]] = {}
        self.queue: dict[str, dict[tuple[int, int], QueueItem]] = {}  # person_queue by person
        self.queued_at: dict[tuple[str, int, int], datetime] = {}  # person_queue.queued_at
        self.parked: dict[int, Parked] = {}
        self.parked_places: dict[tuple, int] = {}
        self.dropped: dict[int, DroppedParked] = {}  # parked_dropped by dropped_id
        self.keys: dict[str, SigningKey] = {}
        self.challenges: dict[str, KeyChallenge] = {}  # key_challenges


class MemoryStore(Store):
    """The store in memory: ``MemoryStore.named("memory://NAME")`` (one per name in a process), or ``MemoryStore()``."""

    _named: ClassVar[dict[str, "MemoryStore"]] = {}

    def __init__(self) -> None:
        self._t = _Tables()
        self._serials: dict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._undo: _Undo | None = None
        self._now = datetime.now(timezone.utc)
        #: an arrive's claims as settled on the basis they carried (store/life.py: the rules need not run twice)
        self._settled_on_arrival: dict[str, tuple[YearTotals, Settled]] = {}

    @classmethod
    def named(cls, url: str) -> "MemoryStore":
        """The store of this name in this process (a new, empty one the first time)."""
        store = cls._named.get(url)
        if store is None:
            store = cls._named[url] = cls()
        return store

    @classmethod
    def forget(cls, url: str) -> None:
        """Drop the store of this name: the next ``named(url)`` is a new, empty one."""
        cls._named.pop(url, None)

    async def close(self) -> None:
        """Nothing to let go of: the data stays for the name's other users (``forget`` drops it)."""

    async def migrate(self) -> list[int]:
        """No schema: nothing to apply."""
        return []

    # --- the machinery: one lock, one transaction per method --------------------------------------

    def _locked(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:  # a lock belongs to one event loop
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    @asynccontextmanager
    async def _transaction(self):
        """The whole store locked; every change undone if the body raises (a rollback)."""
        async with self._locked():
            self._undo, self._now = _Undo(), datetime.now(timezone.utc)
            try:
                yield
            except BaseException:
                self._undo.rollback()
                raise
            finally:
                self._undo = None

    def _next(self, serial: str) -> int:
        """The next value of a sequence: consumed even when its row is not inserted (as in PostgreSQL)."""
        return next(self._serials[serial])

    def _set(self, table: dict, key: Any, value: Any) -> None:
        assert self._undo is not None, "a write outside a transaction"
        self._undo.set(table, key, value)

    def _pop(self, table: dict, key: Any) -> None:
        assert self._undo is not None, "a write outside a transaction"
        self._undo.pop(table, key)

    def _index(self, index: dict, outer: Any, inner: Any) -> None:
        bucket = index.get(outer)
        if bucket is None:
            bucket = {}
            self._set(index, outer, bucket)
        self._set(bucket, inner, None)

    def _unindex(self, index: dict, outer: Any, inner: Any) -> None:
        bucket = index.get(outer)
        if bucket is not None:
            self._pop(bucket, inner)

    # --- the archive (archive.py) ---------------------------------------------------------------

    def _archive(self, arrival: Arrival, kind: str, psn_no: str | None, outcome: str = "accepted",
                 reason: str | None = None) -> tuple[int, bool]:
        """(seq, new): the input's place in the archive; an input delivered again keeps its first place."""
        seq = self._next("inputs")
        if kind not in _KINDS:
            raise ValueError(f"an input of kind {kind!r} violates the check on inputs.kind: one of {', '.join(_KINDS)}")
        digest = hashlib.sha256(arrival.raw).hexdigest()
        if arrival.partition is not None and arrival.offset is not None:
            place = (arrival.topic, arrival.partition, arrival.offset, digest)
            known = self._t.input_places.get(place)
            if known is not None:
                return known, False
            self._set(self._t.input_places, place, seq)
        self._set(self._t.inputs, seq, _Input(seq, arrival.topic, arrival.partition, arrival.offset, digest, bytes(arrival.raw),
                                              psn_no, kind, outcome, reason, self._now))
        return seq, True

    def _set_outcome(self, seq: int, outcome: str, reason: str | None = None) -> None:
        row = self._t.inputs.get(seq)
        if row is not None:
            self._set(self._t.inputs, seq, replace(row, outcome=outcome, reason=reason))

    # --- intake (claims.py) -----------------------------------------------------------------------

    async def receive_claims(self, arrivals: list[Arrival[DischargeClaim]], attach: Attach) -> list[ClaimReceipt]:
        """Archive each discharge event and say what it is: new (snapshot attached, queued for its
        payers, with its year's totals), the same as before, a corrected bill of the same hospital's
        claim (queued for the ledger), or refused."""
        if not arrivals:
            return []
        async with self._transaction():
            return [self._receive_claim(arrival, attach) for arrival in arrivals]

    def _receive_claim(self, arrival: Arrival[DischargeClaim], attach: Attach) -> ClaimReceipt:
        claim = arrival.event
        seq, new_position = self._archive(arrival, "claim", claim.psn_no)
        digest = content_digest(claim)
        revisions = sorted(self._t.claims.get(claim.key, {}).values(), key=lambda r: r.revision)
        receipt = self._decide_claim(claim, digest, seq, revisions, arrival, attach)
        if new_position and receipt.status not in ("new", "correction"):
            self._set_outcome(seq, "repeat" if receipt.status == "same" else "rejected", receipt.reason)
        return receipt

    def _decide_claim(self, claim: DischargeClaim, digest: str, seq: int, revisions: list[_Claim], arrival: Arrival,
                      attach: Attach) -> ClaimReceipt:
        if not revisions:
            if claim.revision:
                return ClaimReceipt("refused", seq, reason=not_received_to_correct(claim))
            return self._first_receipt(claim, digest, seq, arrival, attach)
        first, latest = revisions[0], revisions[-1]
        same = next((r for r in revisions if r.revision == claim.revision), None)
        if same is not None:
            if same.digest == digest:
                return ClaimReceipt("same", first.seq, _loads(first.snapshot) if first.snapshot is not None else None,
                                    basis=self._basis_of(claim))
            return ClaimReceipt("conflict", seq, reason=(
                f"{claim_named(claim)} revision {claim.revision} was already received with different "
                f"content; send a corrected bill with a revision above {latest.revision}"))
        if claim.revision < latest.revision:
            return ClaimReceipt("stale", seq, reason=(
                f"{claim_named(claim)} revision {claim.revision} arrived after revision "
                f"{latest.revision}; it changes nothing"))
        if first.psn_no != claim.psn_no:
            return ClaimReceipt("refused", seq, reason=(
                f"{claim_named(claim)} belongs to another person; a corrected bill keeps its psn_no"))
        cancelled = next((c.event_id for c in self._cancellations_of(claim.key) if c.status == "applied"), None)
        if cancelled is not None:
            return ClaimReceipt("refused", seq, reason=(
                f"{claim_named(claim)} was cancelled by {cancelled}; a cancelled claim is not corrected "
                "— send the bill as a new claim_id"))
        self._insert_claim(claim, digest, None, arrival, seq)
        self._queue(claim.psn_no, seq, 0, "correction", claim.key, True, False)
        return ClaimReceipt("correction", seq)

    def _first_receipt(self, claim: DischargeClaim, digest: str, seq: int, arrival: Arrival, attach: Attach) -> ClaimReceipt:
        snapshot = attach(claim, self._periods_of(claim.psn_no))
        region = snapshot["policy"]["region"]
        flagged = (any(not (item.kind == "claim" and not item.flagged) for item in self._t.queue.get(claim.psn_no, {}).values())
                   or (region, claim.year) in self._t.closes)
        basis = self._basis_of(claim)
        self._insert_claim(claim, digest, snapshot, arrival, seq)
        self._queue(claim.psn_no, seq, 0, "claim", claim.key, False, flagged)
        matched = []
        for waiting in self._cancellations_of(claim.key):
            if waiting.psn_no == claim.psn_no and waiting.status == "waiting":
                self._set(self._t.cancellations, waiting.key, replace(waiting, status="applied"))
                matched.append(waiting.key)
        for key in matched[:1]:
            self._queue(claim.psn_no, seq, 1, "cancellation", key, True, False)
        return ClaimReceipt("new", seq, snapshot, basis=basis)

    def _basis_of(self, claim: DischargeClaim) -> dict:
        """The claim's year as the ledger has it now, as it travels."""
        return totals_json(self._load_totals({(claim.psn_no, claim.year)})[(claim.psn_no, claim.year)])

    def _insert_claim(self, claim: DischargeClaim, digest: str, snapshot: dict | None, arrival: Arrival, seq: int) -> None:
        region = snapshot["policy"]["region"] if snapshot else next(
            (row.region for row in self._t.claims.get(claim.key, {}).values() if row.snapshot is not None), None)
        if claim.revision in self._t.claims.get(claim.key, {}):
            raise ValueError(f"claims_received already holds claim {claim.key} revision {claim.revision}")
        row = _Claim(claim.key, claim.claim_id, claim.psn_no, digest, dumps(claim.model_dump(mode="json", by_alias=True)),
                     claim.fixmedins_code, dumps(snapshot) if snapshot is not None else None, arrival.topic,
                     arrival.partition, arrival.offset, claim.revision, seq, claim.year, region, self._now)
        bucket = self._t.claims.get(claim.key)
        if bucket is None:
            bucket = {}
            self._set(self._t.claims, claim.key, bucket)
        self._set(bucket, claim.revision, row)
        self._index(self._t.person_claims, claim.psn_no, (claim.key, claim.revision))

    def _periods_of(self, psn_no: str) -> list[CategoryHeld]:
        """Every period the person holds a category, by code and start."""
        return [period.held() for _, period in sorted(self._t.periods.get(psn_no, {}).items())]

    def _queue(self, psn_no: str, seq: int, sub: int, kind: str, ref: str, ready: bool, flagged: bool = False,
               *, if_new: bool = False) -> bool:
        """Put an input in its person's queue; its place (seq, sub) taken is an error, or with ``if_new`` nothing."""
        queue = self._t.queue.get(psn_no)
        if queue is not None and (seq, sub) in queue:
            if if_new:
                return False
            raise ValueError(f"person_queue already holds ({seq}, {sub}) of a person")
        if queue is None:
            queue = {}
            self._set(self._t.queue, psn_no, queue)
        self._set(queue, (seq, sub), QueueItem(psn_no, seq, sub, kind, ref, ready, flagged))
        self._set(self._t.queued_at, (psn_no, seq, sub), self._now)
        return True

    # --- cancellations (cancellations.py) ---------------------------------------------------------

    async def receive_cancellations(self, arrivals: list[Arrival[ClaimCancellation]]) -> list[InputReceipt]:
        """Archive each cancellation and queue it in its person's order: applied, waiting for its
        claim, a repeat, or refused (another person's claim, already cancelled). It acts only on its
        own hospital's claim."""
        if not arrivals:
            return []
        async with self._transaction():
            return [self._receive_cancellation(arrival) for arrival in arrivals]

    async def waiting_cancellations(self) -> list[ClaimCancellation]:
        """Cancellations still waiting for their claim, oldest first."""
        async with self._transaction():
            waiting = sorted((c for c in self._t.cancellations.values() if c.status == "waiting"),
                             key=lambda c: (c.received_at, c.event_id))
            return [ClaimCancellation.model_validate(_loads(c.event)) for c in waiting]

    def _cancellations_of(self, claim_key: str) -> list[_Cancellation]:
        return [self._t.cancellations[e] for e in self._t.claim_cancellations.get(claim_key, {})]

    def _receive_cancellation(self, arrival: Arrival[ClaimCancellation]) -> InputReceipt:
        cancellation = arrival.event
        seq, new_position = self._archive(arrival, "cancellation", cancellation.psn_no)
        receipt = self._decide_cancellation(cancellation, seq)
        if new_position and receipt.status in ("repeat", "refused"):
            self._set_outcome(seq, "repeat" if receipt.status == "repeat" else "rejected", receipt.reason)
        return receipt

    def _decide_cancellation(self, cancellation: ClaimCancellation, seq: int) -> InputReceipt:
        known = self._t.cancellations.get(cancellation.key)
        if known is not None:
            return InputReceipt("repeat", known.input_seq, f"cancellation {cancellation.event_id} was received before")
        claim = cancellation.claim_id + (f" of hospital {cancellation.fixmedins_code}" if cancellation.fixmedins_code else "")
        revisions = sorted(self._t.claims.get(cancellation.claim_key, {}).values(), key=lambda r: r.revision)
        owner = revisions[0].psn_no if revisions else None
        if owner is not None and owner != cancellation.psn_no:
            return InputReceipt("refused", seq, f"claim {claim} belongs to another person; nothing was cancelled")
        status = "applied" if owner is not None else "waiting"
        earlier = next((c for c in self._cancellations_of(cancellation.claim_key)
                        if c.psn_no == cancellation.psn_no and c.status == status), None)
        if earlier is not None and status == "applied":
            return InputReceipt("refused", seq, (f"claim {claim} was already cancelled by {earlier.event_id} "
                                                 f"({earlier.cancelled_at:%Y-%m-%d %H:%M}); this cancellation changes nothing"))
        if earlier is not None:
            return InputReceipt("refused", seq, (f"cancellation {earlier.event_id} of claim {claim} is already waiting "
                                                 "for the claim; this one changes nothing"))
        self._set(self._t.cancellations, cancellation.key, _Cancellation(
            cancellation.key, cancellation.event_id, seq, cancellation.claim_key, cancellation.psn_no, cancellation.reason,
            _utc(cancellation.cancelled_at), dumps(cancellation.model_dump(mode="json", by_alias=True)), status, self._now))
        self._index(self._t.claim_cancellations, cancellation.claim_key, cancellation.key)
        self._index(self._t.person_cancellations, cancellation.psn_no, cancellation.key)
        if status == "applied":
            self._queue(cancellation.psn_no, seq, 0, "cancellation", cancellation.key, True)
        return InputReceipt(status, seq)

    # --- eligibility (identity.py) ----------------------------------------------------------------

    async def record_changes(self, arrivals: list[Arrival[EligibilityChange]]) -> list[InputReceipt]:
        """Archive and record eligibility changes (an authority's repeated ``event_id`` changes nothing),
        fold the touched (person, category) periods again from all their events, and queue the change
        for persons with claims (the ledger settles their years again once woken)."""
        if not arrivals:
            return []
        async with self._transaction():
            receipts, touched = [], set()
            for arrival in arrivals:
                receipt = self._record_change(arrival)
                if receipt.status == "applied":
                    touched.add((arrival.event.psn_no, arrival.event.category.value))
                receipts.append(receipt)
            if touched:
                self._recompute_periods(sorted(touched))
        return receipts

    def _record_change(self, arrival: Arrival[EligibilityChange]) -> InputReceipt:
        change = arrival.event
        seq, new_position = self._archive(arrival, "eligibility", change.psn_no)
        event_seq = self._next("identity_events")
        key = (change.authority.value, change.event_id)
        known = self._t.changes.get(key)
        if known is not None:
            if new_position and known.input_seq != seq:
                self._set_outcome(seq, "repeat", f"event {change.event_id} was received before")
            return InputReceipt("repeat", known.input_seq)
        self._set(self._t.changes, key, _Change(
            change.event_id, change.psn_no, change.category.value, change.action, change.valid_from, change.valid_to,
            change.authority.value, _utc(change.recorded_at), dumps(change.model_dump(mode="json", by_alias=True)),
            event_seq, self._now, seq))
        self._index(self._t.person_changes, change.psn_no, key)
        queued = bool(self._t.person_claims.get(change.psn_no)) and self._queue(
            change.psn_no, seq, 0, "eligibility", change.event_id, True, if_new=True)
        return InputReceipt("applied", seq, persons=(change.psn_no,) if queued else ())

    def _recompute_periods(self, touched: list[tuple[str, str]]) -> None:
        """Replace the periods of the touched (person, category) pairs by those of all their events."""
        for psn_no, category in touched:
            events = [c.folded() for c in (self._t.changes[e] for e in self._t.person_changes.get(psn_no, {}))
                      if c.category == category]
            periods = self._t.periods.get(psn_no)
            if periods is None:
                periods = {}
                self._set(self._t.periods, psn_no, periods)
            for key in [key for key in periods if key[0] == category]:
                self._pop(periods, key)
            for p in periods_from(events):
                self._set(periods, (category, p.start), _Period(category, p.start, p.end, p.authority, p.event_id))

    async def identities(self, wanted: list[tuple[str, date, date]]) -> list[list[CategoryHeld]]:
        """Per ``(psn_no, begin, end)``: the categories in force on at least one day of [begin, end], by code and start."""
        if not wanted:
            return []
        async with self._transaction():
            return [[p.held() for _, p in sorted(self._t.periods.get(psn_no, {}).items())
                     if p.valid_from <= last and (p.valid_to is None or p.valid_to >= first)]
                    for psn_no, first, last in wanted]

    async def identity_history(self, psn_no: str) -> tuple[list[CategoryHeld], list[EligibilityChange]]:
        """A person's current periods (by code, start), and the events as received, in the order applied."""
        async with self._transaction():
            held = self._periods_of(psn_no)
            events = sorted(self._changes_of(psn_no), key=lambda c: (c.recorded_at, c.event_id))
            return held, [EligibilityChange.model_validate(_loads(c.event)) for c in events]

    async def identity_as_known(self, psn_no: str, known_at: datetime) -> list[CategoryHeld]:
        """A person's periods from only the events received by ``known_at``."""
        async with self._transaction():
            by_category: dict[str, list[dict]] = {}
            for change in self._changes_of(psn_no):
                if change.received_at <= _utc(known_at):
                    by_category.setdefault(change.category, []).append(change.folded())
        held = [CategoryHeld(code=category, valid_from=p.start, valid_to=p.end, authority=p.authority, event_id=p.event_id)
                for category, events in by_category.items() for p in periods_from(events)]
        return sorted(held, key=lambda h: (h.code.value, h.valid_from))

    async def holders(self, authority: str, categories: list[str], on: date) -> list[tuple[str, str]]:
        """(psn_no, category) of everyone holding one of ``categories`` from ``authority`` on ``on``."""
        wanted = {getattr(c, "value", c) for c in categories}
        authority = getattr(authority, "value", authority)
        async with self._transaction():
            found = {(psn_no, p.category) for psn_no, periods in self._t.periods.items() for p in periods.values()
                     if p.authority == authority and p.category in wanted and p.valid_from <= on
                     and (p.valid_to is None or p.valid_to >= on)}
        return sorted(found)

    def _changes_of(self, psn_no: str) -> list[_Change]:
        return [self._t.changes[e] for e in self._t.person_changes.get(psn_no, {})]

    # --- year-end closes (closes.py) --------------------------------------------------------------

    async def receive_close(self, arrival: Arrival[YearEndClose]) -> InputReceipt:
        """Record a close once per region and year (closing again changes nothing, and says when it
        was closed); the persons it settles are returned, each to be woken."""
        close = arrival.event
        async with self._transaction():
            seq, new_position = self._archive(arrival, "close", None)
            earlier = self._t.closes.get((close.region, close.year))
            if earlier is not None:
                reason = (f"{close.region} {close.year} was closed by {earlier.event_id} on "
                          f"{earlier.closed_at:%Y-%m-%d}; closing again changes nothing")
                if new_position and earlier.input_seq != seq:
                    self._set_outcome(seq, "repeat", reason)
                persons = sorted({psn_no for psn_no, queue in self._t.queue.items() for item in queue.values()
                                  if item.kind == "close" and item.ref == earlier.event_id})
                return InputReceipt("repeat", earlier.input_seq, reason, tuple(persons))
            if close.event_id in self._t.close_ids:
                raise ValueError(f"year_closes already holds event_id {close.event_id} (of another region or year)")
            self._set(self._t.closes, (close.region, close.year),
                      _Close(close.region, close.year, close.event_id, seq, _utc(close.closed_at)))
            self._set(self._t.close_ids, close.event_id, (close.region, close.year))
            persons = sorted({row.psn_no for bucket in self._t.claims.values() for row in bucket.values()
                              if row.region == close.region and row.year == close.year})
            woken = [psn_no for psn_no in persons if self._queue(psn_no, seq, 0, "close", close.event_id, True, if_new=True)]
        return InputReceipt("applied", seq, persons=tuple(woken))

    async def closes(self) -> list[YearEndClose]:
        """Every close, in the order received."""
        async with self._transaction():
            rows = sorted(self._t.closes.values(), key=lambda c: c.input_seq)
        return [YearEndClose(event_id=c.event_id, region=c.region, year=c.year, closed_at=c.closed_at) for c in rows]

    # --- rejections, the archive, parking (inputs.py) ---------------------------------------------

    async def reject(self, arrival: Arrival, kind: str, reason: str, psn_no: str | None = None) -> bool:
        """Archive a refused input and keep it with its reason; True the first time this place is refused."""
        original = without_nul(arrival.raw.decode("utf-8", errors="backslashreplace"))
        reason = without_nul(reason)
        async with self._transaction():
            self._archive(arrival, kind, psn_no, "rejected", reason)
            rejection_id = self._next("rejections")
            place = (arrival.topic, arrival.partition, arrival.offset)
            if arrival.partition is not None and arrival.offset is not None:
                if place in self._t.rejection_places:
                    return False
                self._set(self._t.rejection_places, place, rejection_id)
            self._set(self._t.rejections, rejection_id, _Rejection(rejection_id, arrival.topic, reason, original,
                                                                   arrival.partition, arrival.offset, self._now))
            return True

    async def inputs(self, *, after_seq: int = 0, limit: int = 10_000) -> list[ArchivedInput]:
        """The archive in the order inputs take effect, after ``after_seq``."""
        async with self._transaction():
            rows = sorted((row for seq, row in self._t.inputs.items() if seq > after_seq), key=lambda r: r.seq)[:limit]
        return [ArchivedInput(r.seq, r.topic, r.partition, r.offset, r.raw, r.kind, r.outcome, r.reason, r.received_at)
                for r in rows]

    async def park(self, worker: str, topic: str, partition: int | None, offset: int | None, key: bytes | None,
                   value: bytes | None, error: str, behind: bool, headers: Sequence[tuple[str, bytes]] = ()) -> int:
        """Keep a message a worker could not handle (or one waiting behind such a message of its person),
        with its headers; the same place parked again keeps its id and takes the new error."""
        error = without_nul(error)
        async with self._transaction():
            parked_id = self._next("parked")
            if partition is not None and offset is not None:
                place = (worker, topic, partition, offset)
                known = self._t.parked_places.get(place)
                if known is not None:
                    self._set(self._t.parked, known, replace(self._t.parked[known], error=error))
                    return known
                self._set(self._t.parked_places, place, parked_id)
            self._set(self._t.parked, parked_id, Parked(
                parked_id, worker, topic, partition, offset, bytes(key) if key is not None else None,
                bytes(value) if value is not None else None, error, self._now, behind,
                tuple((str(name), bytes(data)) for name, data in headers)))
            return parked_id

    async def parked_keys(self, worker: str) -> set[bytes]:
        """The message keys (persons) that have something parked for this worker."""
        async with self._transaction():
            return {p.key for p in self._t.parked.values() if p.worker == worker and p.key is not None}

    async def parked(self, worker: str | None = None) -> list[Parked]:
        """What is parked (for one worker, or all), in the order parked."""
        async with self._transaction():
            return [p for _, p in sorted(self._t.parked.items()) if worker is None or p.worker == worker]

    async def unpark(self, parked_id: int) -> None:
        async with self._transaction():
            parked = self._t.parked.get(parked_id)
            if parked is None:
                return
            self._forget_parked(parked)

    def _forget_parked(self, parked: Parked) -> None:
        self._pop(self._t.parked, parked.parked_id)
        place = (parked.worker, parked.topic, parked.partition, parked.offset)
        if self._t.parked_places.get(place) == parked.parked_id:
            self._pop(self._t.parked_places, place)

    async def drop_parked(self, parked_id: int, reason: str, by: str) -> DroppedParked:
        """Resolve a parked message without handling it: kept, whole, among the dropped ones with why and by whom."""
        reason, by = required_for_a_drop("a reason", reason), required_for_a_drop("the operator's name", by)
        async with self._transaction():
            parked = self._t.parked.get(parked_id)
            if parked is None:
                raise LookupError(f"nothing is parked as #{parked_id} (`onestop parked` lists what is)")
            self._forget_parked(parked)
            dropped = DroppedParked(self._next("parked_dropped"), parked, reason, by, self._now)
            self._set(self._t.dropped, dropped.dropped_id, dropped)
            return dropped

    async def dropped(self, worker: str | None = None) -> list[DroppedParked]:
        """The parked messages operators dropped, in the order dropped."""
        async with self._transaction():
            return [d for _, d in sorted(self._t.dropped.items()) if worker is None or d.parked.worker == worker]

    # --- year totals (totals.py) -----------------------------------------------------------------

    def _load_totals(self, keys: set[tuple[str, int]]) -> dict[tuple[str, int], YearTotals]:
        """{(psn_no, year): {account: totals}}."""
        totals: dict[tuple[str, int], YearTotals] = {key: {} for key in keys}
        for psn_no, year in sorted(keys):
            for row_year, account in sorted(self._t.person_totals.get(psn_no, {})):
                if row_year == year:
                    totals[(psn_no, year)][account] = self._t.totals[(psn_no, year, account)].account()
        return totals

    def _upsert_totals(self, psn_no: str, year: int, account: str, base: Decimal, paid: Decimal, paid_by_day: bytes,
                       visits: bytes) -> None:
        """A row as totals_row makes it (its JSON columns as JSON bytes)."""
        self._set(self._t.totals, (psn_no, year, account), _Totals(_numeric(base), _numeric(paid), paid_by_day, visits))
        self._index(self._t.person_totals, psn_no, (year, account))

    async def year_totals(self, psn_no: str, year: int) -> YearTotals:
        """A person's totals of one year, per account (empty when nothing was paid)."""
        async with self._transaction():
            return self._load_totals({(psn_no, year)})[(psn_no, year)]

    async def years_of(self, psn_no: str) -> list[int]:
        """The years a person has totals for."""
        async with self._transaction():
            return sorted({year for year, _ in self._t.person_totals.get(psn_no, {})})

    # --- the ledger (ledger.py) -------------------------------------------------------------------

    async def arrive(self, claims: list[ArrivedClaim], now: datetime,
                     woken: Sequence[str] = ()) -> tuple[Outbox, list[str | None]]:
        """Claims that passed their payers, each checked against what intake recorded, take effect in
        their persons' order with whatever they held up; the ``woken`` persons' queues applied too."""
        persons = {c.psn_no for c in claims} | set(woken)
        if not persons:
            return Outbox(), []
        async with self._transaction():
            self._settled_on_arrival = {}
            refused = [self._take(claim) for claim in claims]
            return await self._settle_in_order(persons, now), refused

    def _take(self, arrived: ArrivedClaim) -> str | None:
        """None when the claim holds against what intake recorded (its queue item is then ready), else why not."""
        first = next((row for row in self._t.claims.get(arrived.key, {}).values() if row.snapshot is not None), None)
        if first is None:
            return f"intake recorded no claim {arrived.key}: a claim reaches the ledger only from intake"
        if (first.psn_no, first.seq) != (arrived.psn_no, arrived.seq):
            return (f"claim {arrived.key} arrived as person {mask(arrived.psn_no)} at place {arrived.seq}, but intake recorded it "
                    f"for another person or place")
        try:
            basis = totals_from_json(arrived.basis)
            why, settled = checked(DischargeClaim.model_validate(_loads(first.payload)), _loads(first.snapshot), arrived.lines,
                                   basis)
        except (ValueError, TypeError, KeyError) as error:
            why = f"its lines or basis cannot be read: {type(error).__name__}: {error}"
        if why is not None:
            return f"claim {arrived.key} arrived with lines that are not the rules' for what intake recorded: {why}"
        self._settled_on_arrival[arrived.key] = (basis, settled)
        queue = self._t.queue.get(first.psn_no, {})
        for key, item in list(queue.items()):
            if item.kind == "claim" and item.ref == arrived.key and not item.ready:
                self._set(queue, key, replace(item, ready=True))
        return None

    async def apply(self, persons: list[str], now: datetime) -> Outbox:
        """Apply whatever the persons' queues hold that is ready."""
        outbox, _ = await self.arrive([], now, persons)
        return outbox

    async def ready_persons(self, queued_before: datetime, limit: int = 500) -> list[str]:
        """Persons whose queue starts with an input ready since before ``queued_before``."""
        async with self._transaction():
            heads = [min(queue.values(), key=lambda i: i.key) for queue in self._t.queue.values() if queue]
            late = [(self._t.queued_at[(i.psn_no, i.seq, i.sub)], i.psn_no) for i in heads
                    if i.ready and self._t.queued_at[(i.psn_no, i.seq, i.sub)] < _utc(queued_before)]
        return [psn_no for _, psn_no in sorted(late)[:limit]]

    async def _settle_in_order(self, persons: Iterable[str], now: datetime) -> Outbox:
        """Apply every person's ready inputs in order; the outbox of what they (and earlier runs
        that did not get to publish) left unpublished. Inside a transaction."""
        persons = sorted(set(persons))
        access = _MemoryPersonAccess(self)
        for psn_no in persons:
            await apply_ready(access, psn_no, now)
        return self._unpublished(persons)

    def _unpublished(self, persons: list[str]) -> Outbox:
        if not persons:
            return Outbox()
        records = sorted((self._t.records[s] for p in persons for s in self._t.person_records.get(p, {})
                          if not self._t.records[s].published), key=lambda r: r.seq)
        alerts = sorted((self._t.alerts[a] for p in persons for a in self._t.person_alerts.get(p, {})
                         if not self._t.alerts[a].published), key=lambda a: a.seq)
        return Outbox([r.settlement() for r in records],
                      [(a.alert_id, HighCostAlert.model_validate(_loads(a.alert))) for a in alerts])

    def _write_records(self, records: Sequence[Settlement]) -> None:
        """Records once each (a settlement_id already recorded is left as it is), in the order given."""
        for record in records:
            seq = self._next("settlements")
            if record.settlement_id in self._t.records:
                continue
            if record.kind == "settlement" and not 0 <= record.fund_pay_sumamt <= record.medfee_sumamt:
                raise ValueError(f"settlement {record.settlement_id} violates settlements_first_within_bill")
            self._set(self._t.records, record.settlement_id, _Record(
                seq, record.settlement_id, record.key, record.claim_id, record.kind, record.psn_no,
                encode(record), _numeric(record.medfee_sumamt),
                _numeric(record.fund_pay_sumamt), _numeric(record.psn_part_amt), record.year))
            self._index(self._t.claim_records, record.key, record.settlement_id)
            self._index(self._t.person_records, record.psn_no, record.settlement_id)

    def _write_alerts(self, alerts: Sequence[tuple[str, HighCostAlert]]) -> None:
        for alert_id, alert in alerts:
            seq = self._next("alerts")
            if alert_id in self._t.alerts:
                continue
            self._set(self._t.alerts, alert_id, _Alert(seq, alert_id, alert.psn_no, alert.model_dump_json().encode()))
            self._index(self._t.person_alerts, alert.psn_no, alert_id)

    async def mark_published(self, settlement_ids: list[str], alert_ids: list[str] = ()) -> None:
        """Mark records (and alerts) as published; unknown ids are ignored."""
        async with self._transaction():
            for settlement_id in settlement_ids:
                record = self._t.records.get(settlement_id)
                if record is not None and not record.published:
                    self._set(self._t.records, settlement_id, replace(record, published=True))
            for alert_id in alert_ids:
                alert = self._t.alerts.get(alert_id)
                if alert is not None and not alert.published:
                    self._set(self._t.alerts, alert_id, replace(alert, published=True))

    def _records_in_order(self, psn_no: str | None = None) -> list[_Record]:
        if psn_no is None:
            rows = self._t.records.values()
        else:
            rows = (self._t.records[s] for s in self._t.person_records.get(psn_no, {}))
        return sorted(rows, key=lambda r: r.seq)

    async def settlements(self, *, after_seq: int = 0, limit: int = 1000,
                          psn_no: str | None = None) -> list[tuple[int, Settlement]]:
        """Up to ``limit`` records with ``seq`` greater than ``after_seq``, in the order recorded."""
        async with self._transaction():
            rows = [r for r in self._records_in_order(psn_no) if r.seq > after_seq][:limit]
        return [(r.seq, r.settlement()) for r in rows]

    async def record_documents(self, *, after_seq: int = 0, limit: int = 1000) -> list[tuple[int, dict]]:
        """The records as stored, unvalidated (an auditor reads even a damaged ledger)."""
        async with self._transaction():
            rows = [r for r in self._records_in_order() if r.seq > after_seq][:limit]
        return [(r.seq, _loads(r.record)) for r in rows]

    async def person_history(self, psn_no: str) -> list[Input]:
        """Every input a person's ledger is built from (and every year-end close), in seq order."""
        async with self._transaction():
            return self._history(psn_no)

    def _history(self, psn_no: str) -> list[Input]:
        t = self._t
        claims = [t.claims[c][r] for c, r in t.person_claims.get(psn_no, {})]
        inputs: list[Input] = [ClaimReceived(row.seq, DischargeClaim.model_validate(_loads(row.payload))) for row in claims]
        inputs += [CancellationReceived(t.cancellations[e].input_seq, ClaimCancellation.model_validate(_loads(t.cancellations[e].event)))
                   for e in t.person_cancellations.get(psn_no, {})]
        inputs += [ChangeReceived(c.input_seq, EligibilityChange.model_validate(_loads(c.event))) for c in self._changes_of(psn_no)]
        inputs += [CloseReceived(c.input_seq, YearEndClose(event_id=c.event_id, region=c.region, year=c.year, closed_at=c.closed_at))
                   for c in t.closes.values()]
        return sorted(inputs, key=lambda i: i.seq)

    async def records_of(self, claim_key: str) -> list[Settlement]:
        """Every record of a claim (by its key: its hospital and id) or year-end entry, in the order recorded."""
        async with self._transaction():
            rows = sorted((self._t.records[s] for s in self._t.claim_records.get(claim_key, {})), key=lambda r: r.seq)
        return [r.settlement() for r in rows]

    async def queued(self, psn_no: str | None = None) -> list[QueueItem]:
        """Inputs waiting to take effect (of one person, or everyone's), in order."""
        async with self._transaction():
            if psn_no is not None:
                return sorted(self._t.queue.get(psn_no, {}).values(), key=lambda i: i.key)
            return sorted((i for queue in self._t.queue.values() for i in queue.values()), key=lambda i: (i.seq, i.sub, i.psn_no))

    async def stalled_claims(self, received_before: datetime, limit: int = 500) -> list[StalledClaim]:
        """Claims received before ``received_before`` still on their way to the ledger, oldest first."""
        async with self._transaction():
            parked = {(p.key, p.worker) for p in self._t.parked.values() if p.key is not None}
            stalled = []
            for item in (i for queue in self._t.queue.values() for i in queue.values()):
                if item.kind != "claim" or item.ready:
                    continue
                first = next(row for row in self._t.claims[item.ref].values() if row.snapshot is not None)
                if first.received_at >= received_before:
                    continue
                snapshot = _loads(first.snapshot)
                # sent again, it would only be parked behind a message of its person at a worker it passes through
                if any((item.psn_no.encode(), worker) in parked for worker in [*snapshot["route"], LEDGER_WORKER]):
                    continue
                claim = DischargeClaim.model_validate(_loads(first.payload))
                stalled.append(StalledClaim(claim, item.seq, snapshot, self._basis_of(claim)))
            return sorted(stalled, key=lambda s: s.seq)[:limit]

    # --- signing keys (keys.py) -------------------------------------------------------------------

    async def key_challenge(self, now: datetime, lifetime: timedelta = CHALLENGE_LIFETIME) -> KeyChallenge:
        """A new random challenge for registering one key, good once until ``now + lifetime``."""
        async with self._transaction():
            issued = KeyChallenge.issue(_utc(now), lifetime)
            self._set(self._t.challenges, issued.challenge, issued)
            return issued

    async def add_key(self, key: SigningKey, proof: KeyProof, now: datetime) -> bool:
        """Register a public key on its holder's proof; True if new. The same id with another key or signer is refused."""
        async with self._transaction():
            refusal = proof_refusal(key, proof, self._t.challenges.get(proof.challenge), _utc(now))
            if refusal:
                raise ProofRefused(refusal)
            self._set(self._t.challenges, proof.challenge,
                      self._t.challenges[proof.challenge].model_copy(update={"used_at": _utc(now), "key_id": key.key_id}))
            known = self._t.keys.get(key.key_id)
            if known is not None:
                if (known.signer_kind, known.signer, known.public_key) != (key.signer_kind, key.signer, key.public_key):
                    raise ValueError(f"key id {key.key_id} is registered for another key or signer; choose another id")
                return False
            self._set(self._t.keys, key.key_id, SigningKey(
                key_id=key.key_id, signer_kind=key.signer_kind, signer=key.signer, public_key=key.public_key,
                valid_from=_utc(key.valid_from), valid_to=_utc(key.valid_to) if key.valid_to else None,
                revoked_at=_utc(key.revoked_at) if key.revoked_at else None))
            return True

    async def revoke_key(self, key_id: str, at: datetime) -> SigningKey:
        """Refuse the key's events received from ``at`` on (earlier ones stay valid)."""
        async with self._transaction():
            known = self._t.keys.get(key_id)
            if known is None:
                raise LookupError(f"no key {key_id!r} in the registry")
            revoked = min(known.revoked_at or _utc(at), _utc(at))
            self._set(self._t.keys, key_id, known.model_copy(update={"revoked_at": revoked}))
            return self._t.keys[key_id]

    async def signing_keys(self) -> dict[str, SigningKey]:
        async with self._transaction():
            return {key_id: self._t.keys[key_id] for key_id in sorted(self._t.keys)}

    # --- checks (checks.py) -----------------------------------------------------------------------

    async def counts(self) -> dict[str, int]:
        """How many inputs, claims received, records, rejections, events, cancellations, queued, parked."""
        async with self._transaction():
            t = self._t
            return {
                "inputs": len(t.inputs), "claims_received": sum(len(b) for b in t.claims.values()),
                "settlements": len(t.records), "rejections": len(t.rejections),
                "identity_events": len(t.changes), "cancellations": len(t.cancellations),
                "queued": sum(len(q) for q in t.queue.values()), "parked": len(t.parked),
            }

    async def check_ledger(self) -> list[str]:
        """The ledger's invariant violations, in words (person numbers masked); empty when all hold —
        the same invariants, in the same order and words, as the PostgreSQL store's checks."""
        async with self._transaction():
            records = self._records_in_order()
            documents = [(r, _loads(r.record)) for r in records]
            totals = dict(self._t.totals)
        # year totals against the lines of the records
        lines: dict[tuple, Decimal] = {}
        for record, document in documents:
            for line in document.get("payments") or ():
                if line.get("account") is not None:
                    key = (record.psn_no, record.year, line["account"])
                    lines[key] = lines[key] + Decimal(line["amount"]) if key in lines else Decimal(line["amount"])
        out = []
        for key in sorted(set(totals) | set(lines), key=lambda k: (k[0], k[1] is None, k[1] or 0, k[2])):
            paid = totals[key].paid if key in totals else Decimal(0)
            amount = lines.get(key, Decimal(0))
            if paid != amount:
                out.append(f"year_totals of {mask(key[0])} {key[1]} account {key[2]}: paid {paid} but its lines sum to {amount}")
        loose = sorted((record.key, line.get("payer"), Decimal(line["amount"])) for record, document in documents
                       if record.kind == "settlement" for line in document.get("payments") or ()
                       if line.get("account") is None and Decimal(line["amount"]) != 0)
        out += [f"payment of claim {claim} by {payer}: {amount} counted in no account" for claim, payer, amount in loose]
        out += [f"settlement {r.settlement_id}: fund_pay_sumamt {r.fund_pay_sumamt} + psn_part_amt {r.psn_part_amt} "
                f"!= medfee_sumamt {r.medfee_sumamt}" for r in records if r.fund_pay_sumamt + r.psn_part_amt != r.medfee_sumamt]
        settlements = Counter(r.key for r in records if r.kind == "settlement")
        out += [f"claim {claim_id} has {n} settlements of kind settlement" for claim_id, n in sorted(settlements.items()) if n > 1]
        twice = sorted((record.settlement_id, payer, n) for record, document in documents
                       for payer, n in Counter(line.get("payer") for line in document.get("payments") or ()).items() if n > 1)
        out += [f"record {settlement_id} has {n} lines of {payer}" for settlement_id, payer, n in twice]
        firsts = {r.key for r in records if r.kind in ("settlement", "year_end")}
        out += [f"record {r.settlement_id} corrects a claim that has no first record" for r in records
                if r.kind in ("adjustment", "reversal") and r.key not in firsts]
        return out


class _MemoryPersonAccess:
    """store/life.py's view of one person's ledger, inside the store's transaction."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.t = store._t

    async def queue(self, psn_no: str) -> list[QueueItem]:
        return sorted(self.t.queue.get(psn_no, {}).values(), key=lambda i: i.key)

    async def history(self, psn_no: str) -> list[Input]:
        return self.store._history(psn_no)

    async def records(self, psn_no: str) -> list[Settlement]:
        return [r.settlement() for r in self.store._records_in_order(psn_no)]

    async def first_receipt(self, claim_key: str) -> tuple[DischargeClaim, dict]:
        row = next(r for r in self.t.claims[claim_key].values() if r.snapshot is not None)
        return DischargeClaim.model_validate(_loads(row.payload)), _loads(row.snapshot)

    async def totals(self, psn_no: str, year: int) -> YearTotals:
        return self.store._load_totals({(psn_no, year)})[(psn_no, year)]

    def settled_before(self, claim_key: str, totals: YearTotals) -> Settled | None:
        known = self.store._settled_on_arrival.pop(claim_key, None)
        return known[1] if known is not None and known[0] == totals else None

    async def set_totals(self, psn_no: str, year: int, totals: YearTotals) -> None:
        for account, account_totals in sorted(totals.items()):
            self.store._upsert_totals(*totals_row(psn_no, year, account, account_totals))

    async def write(self, records: list[Settlement], alerts: list[tuple[str, HighCostAlert]]) -> None:
        self.store._write_records(records)
        self.store._write_alerts(alerts)

    async def replace_totals(self, psn_no: str, totals: dict[int, YearTotals]) -> None:
        for year, account in list(self.t.person_totals.get(psn_no, {})):
            if year in totals:
                self.store._pop(self.t.totals, (psn_no, year, account))
                self.store._unindex(self.t.person_totals, psn_no, (year, account))
        for year, accounts in sorted(totals.items()):
            for account, account_totals in sorted(accounts.items()):
                self.store._upsert_totals(*totals_row(psn_no, year, account, account_totals))

    async def done(self, item: QueueItem) -> None:
        queue = self.t.queue.get(item.psn_no)
        if queue is not None:
            self.store._pop(queue, (item.seq, item.sub))
            self.store._pop(self.t.queued_at, (item.psn_no, item.seq, item.sub))

    async def flag_claims(self, psn_no: str) -> None:
        queue = self.t.queue.get(psn_no, {})
        for key, item in list(queue.items()):
            if item.kind == "claim" and not item.flagged:
                self.store._set(queue, key, replace(item, flagged=True))
