"""What every store does: the contract the workers rely on, whatever keeps the records.

Two backends implement it: PostgreSQL (store/postgres/, the real one) and memory
(store/memory/, for fast tests of the workers' handlers and of the flow). One suite of
contract tests (tests/store/) runs against both, the way the ``eventsourcing`` library runs one
recorder test case per backend.

Every input is archived as received, in one transaction with its effect; every effect is
recorded once under its key; each person's inputs take effect in the order received (store/life.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from policies.enrollment import Enrolled
from policies.received import Input
from schemas.events import (
    CategoryHeld,
    ClaimCancellation,
    DischargeClaim,
    EligibilityChange,
    EnrollmentChange,
    PremiumRoll,
    Settlement,
    YearEndClose,
)
from schemas.keys import CHALLENGE_LIFETIME, KeyChallenge, KeyProof, SigningKey
from schemas.totals import YearTotals

from .records import (
    START,
    ArchivedInput,
    Arrival,
    ArrivedClaim,
    ClaimReceipt,
    DroppedParked,
    InputReceipt,
    Outbox,
    Parked,
    Place,
    QueueItem,
    StalledClaim,
)

#: attach(claim, every period the person holds a category) -> the snapshot the claim travels with
Attach = Callable[[DischargeClaim, list[CategoryHeld]], dict]


class Store(ABC):
    """The idempotent ledger."""

    #: the life of the topics inputs are placed in (``begin_life``): part of each input's place
    life: int = 0

    async def __aenter__(self) -> "Store":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abstractmethod
    async def close(self) -> None:
        """Let go of the store's resources."""

    def terminate(self) -> None:  # noqa: B027 - a backend with nothing to drop at once keeps this
        """Let go at once, without waiting (after the backend went away)."""

    @abstractmethod
    async def migrate(self) -> list[int]:
        """Bring the schema up to date; the versions applied by this call."""

    # --- inputs: each archived (raw bytes, topic, partition, offset) with its effect, in one transaction

    @abstractmethod
    async def receive_claims(self, arrivals: list[Arrival[DischargeClaim]], attach: Attach) -> list[ClaimReceipt]:
        """Per discharge event: a new claim (``attach`` gives the snapshot it travels with, from
        every period its person holds, taken under the person's lock with its place in the
        person's order; ``basis`` its year's totals as the ledger has them now), the same as before,
        a corrected bill of the same hospital's claim (queued: the ledger settles it in order, once
        woken), or refused with the reason. Nothing here records money."""

    @abstractmethod
    async def receive_cancellations(self, arrivals: list[Arrival[ClaimCancellation]]) -> list[InputReceipt]:
        """Per cancellation: queued in its person's order (``applied``: the ledger reverses the claim
        once woken), waiting for its claim, a repeat, or refused. Only the cancelling hospital's own
        claims are cancelled (a cancellation is its hospital's and its event_id)."""

    @abstractmethod
    async def record_changes(self, arrivals: list[Arrival[EligibilityChange]]) -> list[InputReceipt]:
        """Per eligibility change: recorded (periods folded again; a person with claims gets it in
        their queue, and the ledger settles their years again once woken) or a repeat of an
        (authority, event_id) received before."""

    @abstractmethod
    async def receive_close(self, arrival: Arrival[YearEndClose]) -> InputReceipt:
        """A year-end close, once per region and year; ``persons`` to wake so their queues apply it."""

    @abstractmethod
    async def record_enrollments(self, arrivals: list[Arrival[EnrollmentChange]]) -> list[InputReceipt]:
        """Per enrollment change: recorded (the person's periods of insurance folded again; a person
        whose order holds a roll, or who has claims, gets it in their queue — after any rolled year it
        may now subsidise them for, which is put in their order first) or a repeat of a person's
        event_id received before."""

    @abstractmethod
    async def receive_roll(self, arrival: Arrival[PremiumRoll]) -> InputReceipt:
        """A premium roll, once per region and year, put in the order of every person it may subsidise
        (insured with resident insurance in the region during the year, holding a category the region
        subsidises then); ``persons`` to wake so their queues apply it. An eligibility grant recorded
        later (``record_changes``) puts a rolled year it may subsidise its person for in their order
        first, as an enrollment change does."""

    @abstractmethod
    async def begin_life(self, bootstrap: str) -> int:
        """The topics were made afresh (``store.life`` is the life inputs are placed in): a new life."""

    @abstractmethod
    async def reject(self, arrival: Arrival, kind: str, reason: str, psn_no: str | None = None) -> bool:
        """Archive a refused input with its reason; True the first time this place is refused."""

    @abstractmethod
    async def inputs(self, *, after: Place = START, limit: int = 10_000) -> list[ArchivedInput]:
        """The archive after the place ``after``: each person's inputs in the order they take effect
        (persons in order of their numbers; "", inputs that name no one person, first)."""

    # --- the ledger: the one writer of money

    @abstractmethod
    async def arrive(
        self, claims: list[ArrivedClaim], now: datetime, woken: Sequence[str] = ()
    ) -> tuple[Outbox, list[str | None]]:
        """Claims in flight that passed their payers take effect in their persons' order, and the
        ``woken`` persons' queues are applied. A claim is taken only when intake recorded it for
        that person at that place and its lines are what the rules give for it on the basis it
        carried; per claim, None or the reason it was refused (it changes nothing)."""

    @abstractmethod
    async def apply(self, persons: list[str], now: datetime) -> Outbox:
        """Apply whatever the persons' queues hold that is ready."""

    @abstractmethod
    async def ready_persons(self, queued_before: datetime, limit: int = 500) -> list[str]:
        """Persons whose queue starts with an input ready to take effect since before ``queued_before``
        (its wake-up was lost, or never sent): the ledger applies them."""

    @abstractmethod
    async def mark_published(self, records: Sequence[tuple[str, str]], alerts: Sequence[tuple[str, str]] = ()) -> None:
        """Mark records and alerts, each named by (psn_no, id), as published (unknown ones ignored)."""

    # --- parking

    @abstractmethod
    async def park(
        self,
        worker: str,
        topic: str,
        partition: int | None,
        offset: int | None,
        key: bytes | None,
        value: bytes | None,
        error: str,
        behind: bool,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> int:
        """Keep a message a worker could not handle, or one waiting behind such a message of its
        person, with its headers (a signed input is verified again when it runs again). The same
        place parked again keeps its id and takes the new error. A NUL in the error is kept as
        the six characters ``\\u0000`` (PostgreSQL's text holds none)."""

    @abstractmethod
    async def parked_keys(self, worker: str) -> set[bytes]:
        """The keys (persons) with something parked for this worker."""

    @abstractmethod
    async def parked(self, worker: str | None = None) -> list[Parked]:
        """What is parked, in the order parked."""

    @abstractmethod
    async def unpark(self, parked_id: int) -> None:
        """Forget a parked message (after it was handled)."""

    @abstractmethod
    async def drop_parked(self, parked_id: int, reason: str, by: str) -> DroppedParked:
        """An operator resolves a parked message without handling it: it leaves ``parked`` and is
        kept, whole, among the dropped ones with ``reason``, ``by`` (the operator) and the time, in
        one transaction. LookupError when nothing is parked under that id; ValueError for a blank
        reason or operator (a drop is never silent). Running the person's later messages that
        waited behind it is the caller's (workers/parking.py)."""

    @abstractmethod
    async def dropped(self, worker: str | None = None) -> list[DroppedParked]:
        """The parked messages operators dropped (for one worker, or all), in the order dropped."""

    # --- the registry of signing keys

    @abstractmethod
    async def key_challenge(self, now: datetime, lifetime: timedelta = CHALLENGE_LIFETIME) -> KeyChallenge:
        """A new random challenge for registering one key, good once until ``now + lifetime``."""

    @abstractmethod
    async def add_key(self, key: SigningKey, proof: KeyProof, now: datetime) -> bool:
        """Register a public key on its holder's proof of having the private half (a challenge of
        this registry, unused and unexpired, signed by the key for its id, signer and public key:
        schemas/keys.py ``proof_refusal``); the challenge is used up. True if new, False the same
        key again; ProofRefused for a missing, wrong, reused or expired proof, ValueError for
        another key or signer under the same id, each with its reason."""

    @abstractmethod
    async def revoke_key(self, key_id: str, at: datetime) -> SigningKey:
        """Refuse the key's events received from ``at`` on."""

    @abstractmethod
    async def signing_keys(self) -> dict[str, SigningKey]:
        """Every registered key by id."""

    # --- read side

    @abstractmethod
    async def identities(self, wanted: list[tuple[str, date, date]]) -> list[list[CategoryHeld]]:
        """Per (psn_no, begin, end): the categories held on at least one day of [begin, end]."""

    @abstractmethod
    async def identity_history(self, psn_no: str) -> tuple[list[CategoryHeld], list[EligibilityChange]]:
        """A person's current periods (by code, start) and the events as received, in the order applied."""

    @abstractmethod
    async def identity_as_known(self, psn_no: str, known_at: datetime) -> list[CategoryHeld]:
        """A person's periods from only the events received by ``known_at``."""

    @abstractmethod
    async def enrollment_history(
        self, psn_no: str, known_at: datetime | None = None
    ) -> tuple[list[Enrolled], list[EnrollmentChange]]:
        """A person's periods of insurance (from the changes received by ``known_at``, when given) and
        the changes as received, in the order applied."""

    @abstractmethod
    async def rolls(self) -> list[PremiumRoll]:
        """Every premium roll received (one per region and year), in the order rolled."""

    @abstractmethod
    async def premium_records(self, region: str, year: int) -> list[Settlement]:
        """The premium records of a region's year, one per subsidised person, by person."""

    @abstractmethod
    async def holders(self, authority: str, categories: list[str], on: date) -> list[tuple[str, str]]:
        """(psn_no, category) of everyone holding one of ``categories`` from ``authority`` on ``on``."""

    @abstractmethod
    async def settlements(
        self, *, after: Place = START, limit: int = 1000, psn_no: str | None = None
    ) -> list[tuple[Place, Settlement]]:
        """Up to ``limit`` records after the place ``after``, each person's in the order recorded
        (persons in order of their numbers)."""

    @abstractmethod
    async def record_documents(self, *, after: Place = START, limit: int = 1000) -> list[tuple[Place, dict]]:
        """The records as stored, unvalidated (an auditor reads even a damaged ledger)."""

    @abstractmethod
    async def person_history(self, psn_no: str) -> list[Input]:
        """Every input a person's ledger is built from (its year-end closes and premium rolls among them), in
        its order — for settling what-if (pre-settlement) by the pure rules, recording nothing."""

    @abstractmethod
    async def records_of(self, claim_key: str) -> list[Settlement]:
        """Every record of a claim (by its key, schemas/ids.py) or year-end entry, in the order recorded."""

    @abstractmethod
    async def queued(self, psn_no: str | None = None) -> list[QueueItem]:
        """Inputs waiting to take effect, in order."""

    @abstractmethod
    async def stalled_claims(self, received_before: datetime, limit: int = 500) -> list[StalledClaim]:
        """Claims received before ``received_before`` that have not reached the ledger (queued, not
        ready), oldest first, with what they travel with — not a claim that, sent again, would only
        be parked: one whose person has a message parked for a worker the claim passes through
        (the worker of each payer of its route, named by the payer, and ``ledger``), where it waits
        behind that message instead. Whatever else of its person is parked (a change, a
        cancellation, a claim at intake, or at a payer not on its route) holds it up not at all."""

    @abstractmethod
    async def waiting_cancellations(self) -> list[ClaimCancellation]:
        """Cancellations still waiting for their claim."""

    @abstractmethod
    async def year_totals(self, psn_no: str, year: int) -> YearTotals:
        """A person's totals of one year, per account."""

    @abstractmethod
    async def years_of(self, psn_no: str) -> list[int]:
        """The years a person has totals for."""

    @abstractmethod
    async def counts(self) -> dict[str, int]:
        """How many inputs, claims, payments, records, rejections, events, cancellations, queued, parked."""

    @abstractmethod
    async def check_ledger(self) -> list[str]:
        """The ledger's invariant violations in words (person numbers masked); empty when all hold."""
