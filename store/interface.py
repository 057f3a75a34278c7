"""What every store does: the contract the workers rely on, whatever keeps the records.

Two backends implement it: PostgreSQL (store/postgres/, the real one) and memory
(store/memory.py, for fast tests of the workers' handlers and of the pure flow). One suite of
contract tests (tests/store/) runs against both, the way the ``eventsourcing`` library runs one
recorder test case per backend.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import date, datetime

from policies.payer import Paid
from schemas.events import CategoryHeld, EligibilityChange, PaymentLine, Settlement
from schemas.totals import YearTotals

from .records import PayerWork, Received, ReceivedClaim, Resettlement, SettledClaim


class Store(ABC):
    """The idempotent ledger: every effect recorded once under its key, with its bookkeeping."""

    async def __aenter__(self) -> "Store":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abstractmethod
    async def close(self) -> None:
        """Let go of the store's resources."""

    def terminate(self) -> None:
        """Let go at once, without waiting (after the backend went away)."""

    @abstractmethod
    async def migrate(self) -> list[int]:
        """Bring the schema up to date; the versions applied by this call."""

    # --- intake
    @abstractmethod
    async def receive_claims(self, items: list[ReceivedClaim]) -> list[Received]:
        """Record claims at first receipt; for each: new, the same as before, or a conflict
        (its id used by other content). The snapshot returned is always the first one stored."""

    @abstractmethod
    async def identities(self, wanted: list[tuple[str, date, date]]) -> list[list[CategoryHeld]]:
        """Per (psn_no, begin, end): the categories held on at least one day of [begin, end],
        each with its authority and granting event, ordered by code, then start."""

    # --- eligibility
    @abstractmethod
    async def record_changes(self, changes: list[EligibilityChange]) -> list[bool]:
        """Record eligibility changes; True for each one new (a repeated event_id changes nothing).
        The periods of each touched (person, category) are folded again from all its events."""

    @abstractmethod
    async def identity_history(self, psn_no: str) -> tuple[list[CategoryHeld], list[EligibilityChange]]:
        """A person's current periods (by code, start) and the events as received, in the order applied."""

    @abstractmethod
    async def identity_as_known(self, psn_no: str, known_at: datetime) -> list[CategoryHeld]:
        """A person's periods from only the events received by ``known_at``."""

    @abstractmethod
    async def holders(self, authority: str, categories: list[str], on: date) -> list[tuple[str, str]]:
        """(psn_no, category) of everyone holding one of ``categories`` from ``authority`` on ``on``."""

    # --- payers
    @abstractmethod
    async def pay_batch(
        self, payer: str, work: Sequence[PayerWork], compute: Callable[[PayerWork, YearTotals], Paid]
    ) -> list[PaymentLine | None]:
        """Pay a batch for ``payer``: a claim already paid by it gets its recorded line back;
        each new one, in order, ``compute(item, its person's totals of its year)``, recorded
        with the totals. One line (or None) per item; nothing is paid twice."""

    @abstractmethod
    async def resettle(
        self, psn_no: str, grant_event_id: str, decide: Callable[[list[SettledClaim]], Resettlement]
    ) -> list[Settlement]:
        """Settle a person's claims again after a grant, once per grant: ``decide`` gets the
        settled claims (net lines, latest identity) in settlement order; its adjustments and
        totals are recorded together. Returns the adjustments still to publish."""

    # --- ledger
    @abstractmethod
    async def record_settlements(self, settlements: list[Settlement]) -> list[bool]:
        """Record settlements once each; True for each still to publish."""

    @abstractmethod
    async def mark_published(self, settlement_ids: list[str]) -> None:
        """Mark settlements as published (unknown ids ignored)."""

    @abstractmethod
    async def settlements(self, *, after_seq: int = 0, limit: int = 1000) -> list[tuple[int, Settlement]]:
        """Up to ``limit`` settlements after ``after_seq``, in the order recorded."""

    @abstractmethod
    async def record_rejection(self, topic: str, reason: str, original: str, partition: int | None, offset: int | None) -> None:
        """Keep a rejected input with where it came from and why."""

    # --- read side
    @abstractmethod
    async def year_totals(self, psn_no: str, year: int) -> YearTotals:
        """A person's totals of one year, per account."""

    @abstractmethod
    async def years_of(self, psn_no: str) -> list[int]:
        """The years a person has totals for."""

    @abstractmethod
    async def payments_of(self, claim_id: str) -> list[PaymentLine]:
        """The payment lines recorded for a claim, in the order paid."""

    @abstractmethod
    async def counts(self) -> dict[str, int]:
        """How many claims received, payments, settlements, rejections and identity events."""

    @abstractmethod
    async def check_ledger(self) -> list[str]:
        """The ledger's invariant violations in words (person numbers masked); empty when all hold."""
