"""Cancellations (结算撤销) in memory (store/postgres/cancellations.py): archived, applied to their
claim in its person's order, or kept waiting for a claim not yet received — never dropped."""

from __future__ import annotations

from schemas.events import ClaimCancellation

from ..columns import dumps
from ..records import Arrival, InputReceipt
from .archive import archive, set_outcome
from .rows import Cancellation, loads, utc
from .tables import Memory


class Cancellations:
    _m: Memory
    life: int

    async def receive_cancellations(self, arrivals: list[Arrival[ClaimCancellation]]) -> list[InputReceipt]:
        """Archive each cancellation and queue it in its person's order: ``applied`` (the ledger
        reverses the claim once everything received before has taken effect), ``waiting`` (its
        claim has not been received; it is queued when it is), ``repeat`` (the same hospital's same
        event again), or ``refused`` (the claim is another person's, or already cancelled). A
        cancellation is its hospital's and acts only on that hospital's own claim."""
        if not arrivals:
            return []
        async with self._m.transaction() as m:
            return [_receive(m, self.life, arrival) for arrival in arrivals]

    async def waiting_cancellations(self) -> list[ClaimCancellation]:
        """Cancellations still waiting for their claim, oldest first."""
        async with self._m.transaction() as m:
            waiting = sorted(
                (c for c in m.t.cancellations.values() if c.status == "waiting"),
                key=lambda c: (c.received_at, c.event_id),
            )
            return [ClaimCancellation.model_validate(loads(c.event)) for c in waiting]


def _receive(m: Memory, life: int, arrival: Arrival[ClaimCancellation]) -> InputReceipt:
    cancellation = arrival.event
    seq, new_position = archive(m, life, arrival, "cancellation", cancellation.psn_no)
    receipt = _decide(m, cancellation, seq)
    if new_position and receipt.status in ("repeat", "refused"):
        outcome = "repeat" if receipt.status == "repeat" else "rejected"
        set_outcome(m, cancellation.psn_no, seq, outcome, receipt.reason)
    return receipt


def _decide(m: Memory, cancellation: ClaimCancellation, seq: int) -> InputReceipt:
    key = (cancellation.psn_no, cancellation.fixmedins_code or "", cancellation.event_id)
    known = m.t.cancellations.get(key)
    if known is not None:
        return InputReceipt("repeat", known.input_seq, f"cancellation {cancellation.event_id} was received before")
    hospital = cancellation.fixmedins_code
    claim = cancellation.claim_id + (f" of hospital {hospital}" if hospital else "")
    owner = m.t.claim_owners.get(cancellation.claim_key)
    if owner is not None and owner != cancellation.psn_no:
        return InputReceipt("refused", seq, f"claim {claim} belongs to another person; nothing was cancelled")
    status = "applied" if owner is not None else "waiting"
    of_claim = m.t.claim_cancellations.get((cancellation.psn_no, cancellation.claim_key), {})
    earlier = next((m.t.cancellations[k] for k in of_claim if m.t.cancellations[k].status == status), None)
    if earlier is not None and status == "applied":
        return InputReceipt(
            "refused",
            seq,
            (
                f"claim {claim} was already cancelled by {earlier.event_id} "
                f"({earlier.cancelled_at:%Y-%m-%d %H:%M}); this cancellation changes nothing"
            ),
        )
    if earlier is not None:
        return InputReceipt(
            "refused",
            seq,
            (
                f"cancellation {earlier.event_id} of claim {claim} is already waiting "
                "for the claim; this one changes nothing"
            ),
        )
    m.set(
        m.t.cancellations,
        key,
        Cancellation(
            cancellation.psn_no,
            cancellation.fixmedins_code or "",
            cancellation.event_id,
            cancellation.key,
            cancellation.claim_key,
            seq,
            cancellation.reason,
            utc(cancellation.cancelled_at),
            dumps(cancellation.model_dump(mode="json", by_alias=True)),
            status,
            m.now,
        ),
    )
    m.index(m.t.claim_cancellations, (cancellation.psn_no, cancellation.claim_key), key)
    m.index(m.t.person_cancellations, cancellation.psn_no, key)
    if status == "applied":
        m.queue(cancellation.psn_no, seq, 0, "cancellation", cancellation.key, True)
    return InputReceipt(status, seq)
