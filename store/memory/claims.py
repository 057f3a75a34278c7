"""Intake's writes in memory (store/postgres/claims.py): every discharge event archived; a claim
recorded once per revision, its first receipt with the identity snapshot it travels with, and its
place in its person's queue.

A claim is its person's, of its hospital, with its id (its key, schemas/ids.py): a claim id sent
for a second person is refused (``claim_owners``), a corrected bill corrects only the sending
hospital's own claim of that person. A claim of a year its region has closed, of a person the
close did not reach yet, has the close put before it in the person's order. Nothing here records
money: a corrected bill is queued, and the ledger settles it once woken."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from policies.loader import NoPolicy, policy_for
from schemas.events import CategoryHeld, DischargeClaim
from schemas.totals import totals_json

from ..columns import content_digest, dumps
from ..interface import Attach
from ..reasons import another_persons, claim_named, not_received_to_correct
from ..records import LEDGER_WORKER, Arrival, ClaimReceipt, StalledClaim
from .archive import archive_all, set_outcome
from .closes import Close, close_of, take_close
from .rows import Cancellation, Claim, loads
from .tables import Memory
from .totals import load_totals


class Claims:
    _m: Memory
    life: int

    async def receive_claims(self, arrivals: list[Arrival[DischargeClaim]], attach: Attach) -> list[ClaimReceipt]:
        """Archive each discharge event and say what it is: a new claim (snapshot attached, queued
        for its payers, with its year's totals as the ledger has them), the same as before, a
        corrected bill of the same hospital's claim (queued for the ledger), or refused with the
        reason. The closes the batch's claims are owed come first in their persons' orders."""
        if not arrivals:
            return []
        async with self._m.transaction() as m:
            claims = [a.event for a in arrivals]
            for person, close in closes_owed(m, claims):
                take_close(m, self.life, close, [person])
            places = archive_all(m, self.life, arrivals, "claim", [c.psn_no for c in claims])
            return [_receive(m, arrival, place, attach) for arrival, place in zip(arrivals, places)]

    async def stalled_claims(self, received_before: datetime, limit: int = 500) -> list[StalledClaim]:
        """Claims received before ``received_before`` still on their way to the ledger, oldest first,
        each with its year's totals as the ledger has them now — not one whose person has a message
        parked for a worker the claim passes through (its route's payers, then the ledger): sent
        again, it would only be parked behind that message."""
        async with self._m.transaction() as m:
            parked = {(row.psn_no, row.worker) for row in m.t.parked.values()}
            stalled = []
            for psn_no, queue in m.t.queue.items():
                for item in queue.values():
                    first = first_receipt_of(m, psn_no, item.ref) if item.kind == "claim" and not item.ready else None
                    if first is None or first.snapshot is None or first.received_at >= received_before:
                        continue
                    passes = [*loads(first.snapshot)["route"], LEDGER_WORKER]
                    if not any((psn_no, worker) in parked for worker in passes):
                        stalled.append((first.received_at, psn_no, item.seq, first))
            stalled = sorted(stalled, key=lambda s: s[:3])[:limit]
            claims = [DischargeClaim.model_validate(loads(first.payload)) for *_, first in stalled]
            totals = load_totals(m, {(c.psn_no, c.year) for c in claims})
        return [
            StalledClaim(claim, seq, loads(first.snapshot), totals_json(totals[(claim.psn_no, claim.year)]))
            for claim, (_, _, seq, first) in zip(claims, stalled)
        ]


def closes_owed(m: Memory, claims: list[DischargeClaim]) -> list[tuple[str, Close]]:
    """(person, close) for each close a claim's year has had that its person has not taken: the
    close comes before the claim in the person's order (it was received before)."""
    owed, taken = [], set()
    for claim in claims:
        try:
            region = policy_for(claim.insuplc_admdvs, claim.enddate).region
        except NoPolicy:
            continue
        close = close_of(m, region, claim.year)
        place = (claim.psn_no, region, claim.year)
        if close is not None and place not in m.t.person_closes and place not in taken:
            taken.add(place)
            owed.append((claim.psn_no, close))
    return owed


def revisions_of(m: Memory, psn_no: str, claim_key: str) -> list[Claim]:
    """A person's claim's revisions, in order."""
    return sorted(m.t.claims.get((psn_no, claim_key), {}).values(), key=lambda r: r.revision)


def first_receipt_of(m: Memory, psn_no: str, claim_key: str) -> Claim | None:
    """The revision the claim travels with (the only one with a snapshot)."""
    return next((r for r in m.t.claims.get((psn_no, claim_key), {}).values() if r.snapshot is not None), None)


def basis_of(m: Memory, claim: DischargeClaim) -> dict:
    """The claim's year as the ledger has it now, as it travels."""
    return totals_json(load_totals(m, {(claim.psn_no, claim.year)})[(claim.psn_no, claim.year)])


def _receive(m: Memory, arrival: Arrival[DischargeClaim], place: tuple[int, bool], attach: Attach) -> ClaimReceipt:
    claim = arrival.event
    seq, new_position = place
    archived = m.t.inputs[(claim.psn_no, seq)]
    if not new_position and archived.outcome == "rejected":  # delivered again: refused then, refused now
        return ClaimReceipt("refused", seq, reason=archived.reason)
    digest = content_digest(claim)
    receipt = _decide(m, claim, digest, seq, arrival, attach)
    if new_position and receipt.status not in ("new", "correction"):
        set_outcome(m, claim.psn_no, seq, "repeat" if receipt.status == "same" else "rejected", receipt.reason)
    return receipt


def _decide(m: Memory, claim: DischargeClaim, digest: str, seq: int, arrival: Arrival, attach: Attach) -> ClaimReceipt:
    revisions = revisions_of(m, claim.psn_no, claim.key)
    if not revisions:
        if m.t.claim_owners.get(claim.key, claim.psn_no) != claim.psn_no:
            return ClaimReceipt("refused", seq, reason=another_persons(claim))
        if claim.revision:
            return ClaimReceipt("refused", seq, reason=not_received_to_correct(claim))
        return _first_receipt(m, claim, digest, seq, arrival, attach)
    first, latest = revisions[0], revisions[-1]
    same = next((r for r in revisions if r.revision == claim.revision), None)
    if same is not None:
        if same.digest == digest:
            snapshot = loads(first.snapshot) if first.snapshot is not None else None
            return ClaimReceipt("same", first.seq, snapshot, basis=basis_of(m, claim))
        return ClaimReceipt(
            "conflict",
            seq,
            reason=(
                f"{claim_named(claim)} revision {claim.revision} was already received with different "
                f"content; send a corrected bill with a revision above {latest.revision}"
            ),
        )
    if claim.revision < latest.revision:
        return ClaimReceipt(
            "stale",
            seq,
            reason=(
                f"{claim_named(claim)} revision {claim.revision} arrived after revision "
                f"{latest.revision}; it changes nothing"
            ),
        )
    cancelled = next((c.event_id for c in _cancellations_of(m, claim) if c.status == "applied"), None)
    if cancelled is not None:
        return ClaimReceipt(
            "refused",
            seq,
            reason=(
                f"{claim_named(claim)} was cancelled by {cancelled}; a cancelled claim is not corrected "
                "— send the bill as a new claim_id"
            ),
        )
    region = loads(first.snapshot)["policy"]["region"] if first.snapshot is not None else None
    _insert(m, claim, digest, None, region, arrival, seq)
    m.queue(claim.psn_no, seq, 0, "correction", claim.key, True, False)
    return ClaimReceipt("correction", seq)


def _first_receipt(
    m: Memory, claim: DischargeClaim, digest: str, seq: int, arrival: Arrival, attach: Attach
) -> ClaimReceipt:
    snapshot = attach(claim, _periods_of(m, claim.psn_no))
    region = snapshot["policy"]["region"]
    flagged = m.blocked(claim.psn_no) or (claim.psn_no, region, claim.year) in m.t.person_closes
    _insert(m, claim, digest, snapshot, region, arrival, seq)
    m.queue(claim.psn_no, seq, 0, "claim", claim.key, False, flagged)
    waiting = [c for c in _cancellations_of(m, claim) if c.status == "waiting"]
    for cancellation in waiting:  # one at most: a second cancellation waiting for the claim is refused
        m.set(
            m.t.cancellations,
            (cancellation.psn_no, cancellation.hospital, cancellation.event_id),
            replace(cancellation, status="applied"),
        )
    for cancellation in waiting[:1]:
        m.queue(claim.psn_no, seq, 1, "cancellation", cancellation.key, True, False)
    return ClaimReceipt("new", seq, snapshot, basis=basis_of(m, claim))


def _periods_of(m: Memory, psn_no: str) -> list[CategoryHeld]:
    """Every period the person holds a category, in the rules' order (by code, then start)."""
    return [period.held() for _, period in sorted(m.t.periods.get(psn_no, {}).items())]


def _cancellations_of(m: Memory, claim: DischargeClaim) -> list[Cancellation]:
    """The cancellations of the person's claim (applied or waiting)."""
    return [m.t.cancellations[key] for key in m.t.claim_cancellations.get((claim.psn_no, claim.key), {})]


def _insert(
    m: Memory, claim: DischargeClaim, digest: str, snapshot: dict | None, region: str | None, arrival: Arrival, seq: int
) -> None:
    """A claims_received row (and, for a first receipt, its owner in claim_owners)."""
    revisions = m.bucket(m.t.claims, (claim.psn_no, claim.key))
    if claim.revision in revisions:
        raise ValueError(f"claims_received already holds claim {claim.key} revision {claim.revision} of this person")
    m.set(
        revisions,
        claim.revision,
        Claim(
            claim.psn_no,
            claim.key,
            claim.revision,
            claim.claim_id,
            digest,
            dumps(claim.model_dump(mode="json", by_alias=True)),
            dumps(snapshot) if snapshot is not None else None,
            arrival.topic,
            arrival.partition,
            arrival.offset,
            seq,
            claim.year,
            region,
            m.now,
        ),
    )
    m.index(m.t.person_claims, claim.psn_no, claim.key)
    if claim.revision == 0:
        if claim.key in m.t.claim_owners:
            raise ValueError(f"claim_owners already holds claim {claim.key}")
        m.set(m.t.claim_owners, claim.key, claim.psn_no)
