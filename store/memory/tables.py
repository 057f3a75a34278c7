"""The memory store's tables and its transactions.

Each table is a dict keyed by its PostgreSQL primary key (rows.py), with the indexes that stand in
for PostgreSQL's. The whole store is one lock: a method runs as one transaction, and an undo log
puts every change back if it raises, as a rollback would. A person's order is ``persons`` (their
last seq, as ``persons.last_seq``): taken in the transaction and put back with it. The serials of
the tables that keep one (``rejections.id``, ``parked.parked_id``) are consumed even when their row
is not inserted, and never put back, as PostgreSQL's sequences are."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timezone
from typing import Any

from policies.enrollment import Enrolled
from schemas.keys import KeyChallenge, SigningKey

from ..records import QueueItem
from .rows import (
    Alert,
    Archived,
    Cancellation,
    Change,
    Claim,
    Enrolment,
    Period,
    PersonClose,
    PersonRoll,
    Record,
    Rejection,
    Roll,
    Totals,
    YearClose,
)

_MISSING = object()


class Tables:
    """The tables, by primary key, and their indexes (an index maps to a dict used as an ordered set)."""

    def __init__(self) -> None:
        self.persons: dict[str, int] = {}  # persons: psn_no -> last_seq
        self.lives: dict[int, tuple[str, datetime]] = {}  # broker_lives: life -> (bootstrap, began_at)
        self.inputs: dict[tuple[str, int], Archived] = {}
        self.input_places: dict[tuple, int] = {}  # (psn_no, life, topic, partition, offset, digest) -> seq
        self.claims: dict[tuple[str, str], dict[int, Claim]] = {}  # (psn_no, claim_key) -> revision -> row
        self.person_claims: dict[str, dict[str, None]] = {}  # psn_no -> claim keys
        self.claim_owners: dict[str, str] = {}  # claim_key -> psn_no
        self.cancellations: dict[tuple[str, str, str], Cancellation] = {}  # (psn_no, fixmedins_code, event_id)
        self.claim_cancellations: dict[tuple[str, str], dict[tuple, None]] = {}  # (psn_no, claim_key) -> keys
        self.person_cancellations: dict[str, dict[tuple, None]] = {}
        self.changes: dict[tuple[str, str, str], Change] = {}  # identity_events (psn_no, authority, event_id)
        self.person_changes: dict[str, dict[tuple, None]] = {}
        self.periods: dict[str, dict[tuple[str, date], Period]] = {}  # identity_periods by person
        self.totals: dict[tuple[str, int, str], Totals] = {}  # year_totals (psn_no, year, account)
        self.person_totals: dict[str, dict[tuple[int, str], None]] = {}
        self.records: dict[tuple[str, str], Record] = {}  # settlements (psn_no, settlement_id)
        self.person_records: dict[str, dict[str, None]] = {}
        self.claim_records: dict[str, dict[tuple[str, str], None]] = {}  # claim_key -> settlements' keys
        self.alerts: dict[tuple[str, str], Alert] = {}  # (psn_no, alert_id)
        self.person_alerts: dict[str, dict[str, None]] = {}
        self.rejections: dict[tuple[str, int], Rejection] = {}
        self.rejection_places: dict[tuple, int] = {}  # (psn_no, life, topic, partition, offset) -> id
        self.closes: dict[tuple[str, int], YearClose] = {}  # year_closes (region, year)
        self.close_ids: dict[str, tuple[str, int]] = {}
        self.person_closes: dict[tuple[str, str, int], PersonClose] = {}  # (psn_no, region, year)
        self.persons_closes: dict[str, dict[tuple[str, int], None]] = {}
        self.enrolments: dict[tuple[str, str], Enrolment] = {}  # enrollment_events (psn_no, event_id)
        self.person_enrolments: dict[str, dict[tuple[str, str], None]] = {}
        self.enrolled: dict[str, dict[date, Enrolled]] = {}  # enrollment_periods by person, valid_from
        self.rolls: dict[tuple[str, int], Roll] = {}  # premium_rolls (region, year)
        self.person_rolls: dict[tuple[str, str, int], PersonRoll] = {}  # (psn_no, region, year)
        self.persons_rolls: dict[str, dict[tuple[str, int], None]] = {}
        self.queue: dict[str, dict[tuple[int, int], QueueItem]] = {}  # person_queue by person, (seq, sub)
        self.queued_at: dict[tuple[str, int, int], datetime] = {}  # person_queue.queued_at
        self.parked: dict[int, Any] = {}  # parked by parked_id (parking.py's rows)
        self.parked_places: dict[tuple, int] = {}  # (psn_no, worker, life, topic, partition, offset) -> parked_id
        self.dropped: dict[int, Any] = {}  # parked_dropped by dropped_id (parking.py's)
        self.keys: dict[str, SigningKey] = {}  # signing_keys
        self.challenges: dict[str, KeyChallenge] = {}  # key_challenges


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


class Memory:
    """The tables of one memory store and its transactions: ``async with memory.transaction() as m``
    holds the whole store; what the body changes through ``set``, ``pop`` and ``index`` is put back
    if it raises. ``now`` is the transaction's moment (PostgreSQL's ``now()``)."""

    def __init__(self) -> None:
        self.t = Tables()
        self.now = datetime.now(timezone.utc)
        self._serials: dict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._undo: _Undo | None = None

    def _locked(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:  # a lock belongs to one event loop
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Memory]:
        """The whole store locked; every change undone if the body raises (a rollback)."""
        async with self._locked():
            self._undo, self.now = _Undo(), datetime.now(timezone.utc)
            try:
                yield self
            except BaseException:
                self._undo.rollback()
                raise
            finally:
                self._undo = None

    def serial(self, name: str) -> int:
        """The next value of a table's sequence: consumed even when its row is not inserted (as in PostgreSQL)."""
        return next(self._serials[name])

    def next_seq(self, psn_no: str) -> int:
        """The person's next place in their order (``persons.last_seq``): every input, record and alert
        of a person takes one, also when its row is not inserted; a rollback gives them back."""
        seq = self.t.persons.get(psn_no, 0) + 1
        self.set(self.t.persons, psn_no, seq)
        return seq

    def set(self, table: dict, key: Any, value: Any) -> None:
        assert self._undo is not None, "a write outside a transaction"
        self._undo.set(table, key, value)

    def pop(self, table: dict, key: Any) -> None:
        assert self._undo is not None, "a write outside a transaction"
        self._undo.pop(table, key)

    def bucket(self, table: dict, key: Any) -> dict:
        """The dict ``table`` holds under ``key``, made (in the transaction) if there is none."""
        inner = table.get(key)
        if inner is None:
            inner = {}
            self.set(table, key, inner)
        return inner

    def index(self, index: dict, outer: Any, inner: Any) -> None:
        self.set(self.bucket(index, outer), inner, None)

    def unindex(self, index: dict, outer: Any, inner: Any) -> None:
        bucket = index.get(outer)
        if bucket is not None:
            self.pop(bucket, inner)

    # --- the person queue (``person_queue``), which every kind of input puts its place in

    def queue(
        self,
        psn_no: str,
        seq: int,
        sub: int,
        kind: str,
        ref: str,
        ready: bool,
        flagged: bool = False,
        *,
        if_new: bool = False,
    ) -> bool:
        """Put an input in its person's queue; its place (seq, sub) taken is an error (the primary key),
        or with ``if_new`` (ON CONFLICT DO NOTHING) nothing. True if it was put."""
        queue = self.t.queue.get(psn_no)
        if queue is not None and (seq, sub) in queue:
            if if_new:
                return False
            raise ValueError(f"person_queue already holds ({seq}, {sub}) of a person")
        self.set(self.bucket(self.t.queue, psn_no), (seq, sub), QueueItem(psn_no, seq, sub, kind, ref, ready, flagged))
        self.set(self.t.queued_at, (psn_no, seq, sub), self.now)
        return True

    def queue_of(self, psn_no: str) -> list[QueueItem]:
        """A person's queue, in order."""
        return sorted(self.t.queue.get(psn_no, {}).values(), key=lambda i: i.key)

    def blocked(self, psn_no: str) -> bool:
        """Anything but an unflagged claim waits in the person's queue: a claim received now must be
        settled by the rules (it is flagged)."""
        return any(not (item.kind == "claim" and not item.flagged) for item in self.t.queue.get(psn_no, {}).values())
