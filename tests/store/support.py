"""What the store contract tests share: events as they come off a topic (raw bytes and a place),
and the workers' part played by hand on one store — intake, each payer of a claim's route, the
ledger, and the wake-ups that make the ledger apply what the others queued — as workers/intake.py,
workers/payer.py, workers/ledger.py and the others do it."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

from pydantic import BaseModel

from policies import pay
from policies.audit import differences, replay_archive
from policies.ledger import replay
from policies.loader import policy_of
from schemas.codes import Payer
from schemas.events import (
    CategoryHeld,
    ClaimCancellation,
    ClaimInFlight,
    DischargeClaim,
    EligibilityChange,
    Settlement,
    YearEndClose,
)
from store import Arrival, ArrivedClaim, Attach, ClaimReceipt, InputReceipt, Outbox, Store
from streams.codecs import encode
from streams.flight import Flight
from streams.topics import CANCELLED, DISCHARGED, ELIGIBILITY, YEAR_END
from workers.intake import attach

from ..shared_cases import CASES_DIR, load_case

D = Decimal
NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)
TOPICS = {
    DischargeClaim: DISCHARGED,
    ClaimCancellation: CANCELLED,
    EligibilityChange: ELIGIBILITY,
    YearEndClose: YEAR_END,
}
_offsets = itertools.count(1)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def arrival(
    event: BaseModel, *, offset: int | None = None, partition: int | None = 0, topic: str | None = None
) -> Arrival:
    """The event as the store archives it: its bytes as a producer sends them, at a new place unless told."""
    return Arrival(
        topic or TOPICS[type(event)], partition, next(_offsets) if offset is None else offset, encode(event), event
    )


def case(name: str):
    return load_case(CASES_DIR / f"{name}.json")


def grants(of) -> list[EligibilityChange]:
    """A worked case's person's categories as grants (recorded at 09:00 UTC on their first day)."""
    person = of.person
    return [
        EligibilityChange.grant_of(
            person.psn_no,
            CategoryHeld(code=c.code, valid_from=c.valid_from, valid_to=c.valid_to),
            f"{c.code.value}.{c.valid_from:%Y%m%d}.{person.psn_no}",
        )
        for c in person.categories
    ]


def grant(
    psn_no: str,
    code: str,
    start: str,
    end: str | None = None,
    *,
    event_id: str | None = None,
    recorded_at: datetime = NOW,
) -> EligibilityChange:
    held = CategoryHeld(
        code=code, valid_from=date.fromisoformat(start), valid_to=date.fromisoformat(end) if end else None
    )
    return EligibilityChange.grant_of(psn_no, held, event_id or uid("grant"), recorded_at)


def revoke(psn_no: str, code: str, start: str, *, event_id: str, recorded_at: datetime = NOW) -> EligibilityChange:
    return EligibilityChange(
        event_id=event_id,
        psn_no=psn_no,
        category=code,
        action="revoke",
        valid_from=start,
        authority="civil_affairs",
        recorded_at=recorded_at,
    )


def cancellation(claim: DischargeClaim, event_id: str, reason: str = "billed in error", **fields) -> ClaimCancellation:
    values = dict(event_id=event_id, claim_id=claim.claim_id, psn_no=claim.psn_no, reason=reason, cancelled_at=NOW)
    return ClaimCancellation(**{**values, **fields})


def close(region: str, year: int, event_id: str | None = None) -> YearEndClose:
    return YearEndClose(event_id=event_id or f"year-end.{region}.{year}", region=region, year=year, closed_at=NOW)


def stay(claim_id: str, psn_no: str, insured: str, day: str, inscp: str, level: str = "1", **fields) -> DischargeClaim:
    """An inpatient stay of one day, its whole bill in scope."""
    values = dict(
        claim_id=claim_id,
        psn_no=psn_no,
        insutype="390",
        insuplc_admdvs=insured,
        mdtrtarea_admvs=insured,
        med_type="21",
        hosp_lv=level,
        referral=False,
        begndate=day,
        enddate=day,
        dise_codg="K35.8",
        medfee_sumamt=inscp,
        fulamt_ownpay_amt="0",
        overlmt_selfpay="0",
        preselfpay_amt="0",
        inscp_scp_amt=inscp,
    )
    return DischargeClaim(**{**values, **fields})


def corrected(claim: DischargeClaim, revision: int, **fields) -> DischargeClaim:
    return claim.model_copy(update={"revision": revision, **fields})


def paid(record: Settlement) -> dict[str, Decimal]:
    """What a record pays, per payer (payers paying nothing left out)."""
    return {line.payer.value: line.amount for line in record.payments if line.amount}


def by_id(records) -> dict[str, Settlement]:
    return {r.settlement_id: r for r in records}


def ids(records) -> list[str]:
    return [r.settlement_id for r in records]


async def receive_claims(
    store: Store, arrivals: list[Arrival], attach: Attach = attach
) -> tuple[list[ClaimReceipt], Outbox]:
    """Intake's part: the claims received, and what the ledger makes of the corrected bills once woken."""
    receipts = await store.receive_claims(arrivals, attach)
    return receipts, await store.apply(
        [a.event.psn_no for a, r in zip(arrivals, receipts) if r.status == "correction"], NOW
    )


async def receive_cancellations(store: Store, arrivals: list[Arrival]) -> tuple[list[InputReceipt], Outbox]:
    """The cancellation worker's part, and what the ledger makes of them once woken."""
    receipts = await store.receive_cancellations(arrivals)
    return receipts, await store.apply(
        [a.event.psn_no for a, r in zip(arrivals, receipts) if r.status == "applied"], NOW
    )


async def record_changes(store: Store, arrivals: list[Arrival]) -> tuple[list[InputReceipt], Outbox]:
    """The eligibility worker's part, and what the ledger makes of the changes once woken."""
    receipts = await store.record_changes(arrivals)
    return receipts, await store.apply([p for r in receipts for p in r.persons], NOW)


def arrived(flight: bytes) -> ArrivedClaim:
    """A claim in flight as the ledger worker hands it to the store."""
    read = Flight.read(flight)
    return ArrivedClaim(read.psn_no, read.key, read.seq, read.data.get("lines", []), read.data.get("basis", {}))


class Workers:
    """The workers' part on one store, by hand: intake attaches the snapshot (workers.intake.attach)
    and the year's totals, each payer of the route computes its line on them (as workers.payer
    does: by the rules, recording nothing), the ledger takes the claim in its person's order. Each
    call returns what the store returned; claims the ledger refused are kept in ``refused``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.flights: dict[str, bytes] = {}  # each claim's record in flight, as on the wire, by claim key
        self.refused: dict[str, str] = {}  # claim key -> why the ledger refused it

    async def changes(self, *changes: EligibilityChange) -> tuple[list[InputReceipt], Outbox]:
        return await record_changes(self.store, [arrival(c) for c in changes])

    async def receive(self, *claims: DischargeClaim) -> tuple[list[ClaimReceipt], Outbox]:
        receipts, outbox = await receive_claims(self.store, [arrival(c) for c in claims])
        for claim, receipt in zip(claims, receipts):
            if receipt.status == "new" or (receipt.status == "same" and not claim.revision):  # as intake sends it
                self.flights[claim.key] = encode(
                    ClaimInFlight(claim=claim, seq=receipt.seq, basis=receipt.basis or {}, **receipt.snapshot)
                )
        return receipts, outbox

    async def pay(self, claim_id: str, payers: list[Payer] | None = None, mark: str = "") -> None:
        """The claim through the payers of its route (or the ones named), as their workers compute;
        ``mark`` is added to each line's explanation (a payer that lies: the ledger must refuse it)."""
        key = self._key(claim_id)
        route = [Payer(p) for p in Flight.read(self.flights[key]).data["route"]]
        for payer in payers if payers is not None else route:
            flight = Flight.for_payer(payer, self.flights[key])
            policy = policy_of(flight.policy)
            rules = next(p for p in policy.payers if p.payer == payer)
            paid = pay(flight.claim, flight.held, flight.prior, flight.totals, policy, rules)
            line = paid.line
            if line is not None and mark:
                line = line.model_copy(update={"explanation": line.explanation + mark})
            self.flights[key] = flight.with_line(payer, line, paid.accounts)

    async def arrive(self, *claim_ids: str) -> Outbox:
        keys = [self._key(c) for c in claim_ids]
        outbox, refused = await self.store.arrive([arrived(self.flights[k]) for k in keys], NOW)
        self.refused.update({k: why for k, why in zip(keys, refused) if why is not None})
        return outbox

    def _key(self, claim_id: str) -> str:
        """A claim's key from its id or its key (the tests' claims are of one hospital each)."""
        if claim_id in self.flights:
            return claim_id
        found = [key for key in self.flights if key.rpartition("/")[2] == claim_id]
        assert len(found) == 1, f"claim {claim_id}: {found or 'never received'}"
        return found[0]

    async def settle(self, *claims: DischargeClaim) -> Outbox:
        """Each claim received, paid by its route and arrived at the ledger, one after the other;
        everything published. The outbox of the last arrival."""
        outbox = Outbox()
        for claim in claims:
            receipts, _ = await self.receive(claim)
            assert receipts[0].status in ("new", "same"), receipts[0]
            await self.pay(claim.key)
            outbox = await self.arrive(claim.key)
            await self.publish(outbox)
        return outbox

    async def publish(self, outbox: Outbox) -> None:
        """What a worker does once the broker has the outbox: mark it published."""
        await self.store.mark_published(
            [(r.psn_no, r.settlement_id) for r in outbox.records], [(alert.psn_no, a) for a, alert in outbox.alerts]
        )


async def records(store: Store, psn_no: str | None = None) -> list[Settlement]:
    return [r for _, r in await store.settlements(limit=1_000_000, psn_no=psn_no)]


async def as_replayed(store: Store, psn_no: str) -> list[str]:
    """How the person's records differ from policies.ledger.replay of the inputs the store holds
    (person_history), and from an auditor's replay of the archive's raw bytes (policies.audit),
    settled_at aside, in words; also when the order differs. Empty when all three are the same."""
    found = await records(store, psn_no)
    problems = []
    for where, expected in (
        ("history", replay(await store.person_history(psn_no), NOW)),
        ("archive", [r for r in replay_archive(await store.inputs(limit=1_000_000)).records if r.psn_no == psn_no]),
    ):
        differ = differences(expected, found, f"store against the replay of its {where}")
        if not differ and ids(found) != ids(expected):
            differ = [
                f"records in another order than the replay of the {where}: {ids(found)} instead of {ids(expected)}"
            ]
        problems += differ
    return problems
