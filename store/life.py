"""The order inputs take effect in a person's ledger, for every backend — and the one writer of money.

Each accepted input (a claim, a corrected bill, a cancellation, an eligibility or enrollment change,
a close, a premium roll)
gets a place in its person's queue, in the order it was received. The ledger applies a person's
queue strictly in that order: a claim takes effect when it has passed its payers and reached the
ledger; every other input as soon as everything received before it has. So an input never
overtakes one received earlier, and the records are those of policies.ledger, input after input,
however the workers interleave: an auditor's replay of the inputs gets the same records.

Only the ledger writes money (records and the year totals), and it believes no internal message:
a claim is settled from what intake recorded of it (its bill, identity snapshot, policy and
route), by the rules, on the ledger's own year totals — the fast path, one claim through its
payers (policies.settle). A claim whose year needs more than that — it lifts the year over a
qualifying line, its year is closed, or something other than a claim went before it — is
``flagged`` (or found so here), and the ledger settles it by the rules for the whole year
(policies.ledger.records_of), as every other input; the year totals are then replaced by what the
rules give. Every record is checked against the invariants of money before it is written
(policies.soundness): an unsound one raises, and nothing of its transaction is recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from policies.alerts import alerts_for
from policies.ledger import Net, bill_of, nets_of, records_of, truth
from policies.loader import policy_of
from policies.received import (
    CancellationReceived,
    ChangeReceived,
    ClaimReceived,
    CloseReceived,
    EnrollmentReceived,
    Input,
    RollReceived,
)
from policies.settle import Settled, route
from policies.soundness import Unsound, recorded_route, settled_on, unsound
from schemas.codes import Payer
from schemas.events import CategoryHeld, DischargeClaim, HighCostAlert, PolicyRef, Settlement
from schemas.totals import YearTotals

from .records import QueueItem


class PersonAccess(Protocol):
    """One person's ledger inside a transaction that holds the person's lock (a backend provides it)."""

    async def queue(self, psn_no: str) -> list[QueueItem]: ...
    async def history(self, psn_no: str) -> list[Input]: ...
    async def records(self, psn_no: str) -> list[Settlement]: ...
    async def first_receipt(self, psn_no: str, claim_key: str) -> tuple[DischargeClaim, dict]: ...
    async def totals(self, psn_no: str, year: int) -> YearTotals: ...
    def settled_before(self, psn_no: str, claim_key: str, totals: YearTotals) -> Settled | None: ...
    async def set_totals(self, psn_no: str, year: int, totals: YearTotals) -> None: ...
    async def write(self, records: list[Settlement], alerts: list[tuple[str, HighCostAlert]]) -> None: ...
    async def replace_totals(self, psn_no: str, totals: dict[int, YearTotals]) -> None: ...
    async def done(self, item: QueueItem) -> None: ...
    async def flag_claims(self, psn_no: str) -> None: ...


async def apply_ready(access: PersonAccess, psn_no: str, now: datetime) -> list[Settlement]:
    """Apply, in order, every queued input of the person that nothing received earlier holds up."""
    made: list[Settlement] = []
    history: list[Input] | None = None
    nets: dict[tuple[str, int], Net] | None = None
    items = await access.queue(psn_no)
    for item in items:
        if not item.ready:
            break
        paid = None
        # once the rules have settled an input in this run, the flags read with the queue are stale
        if item.kind == "claim" and not item.flagged and history is None:
            paid = await _as_paid(access, item, now)
        if paid is not None:
            records, claims, routes = paid
        else:
            history = history if history is not None else await access.history(psn_no)
            nets = nets if nets is not None else nets_of(await access.records(psn_no))
            records = records_of(_input_of(item, history), history, nets, now)
            claims = {(i.claim.key, i.claim.revision): i.claim for i in history if isinstance(i, ClaimReceived)}
            routes = _routes(records)
            await access.replace_totals(psn_no, {year: dict(t) for year, t in truth(history, item.key).totals.items()})
            await access.flag_claims(psn_no)
        _assert_sound(records, nets, routes)
        await access.write(records, _alerts(records, claims))
        if nets is not None:
            for record in records:
                nets.setdefault((record.key, record.year), Net()).add(record)
        await access.done(item)
        made += records
    return made


async def _as_paid(access: PersonAccess, item: QueueItem, now: datetime):
    """The fast path: the claim through its recorded route by the rules, on the ledger's own totals
    of its year — or None when the claim lifts its year over a qualifying line (the whole year
    must be settled again, by the rules' path)."""
    claim, snapshot = await access.first_receipt(item.psn_no, item.ref)
    totals = await access.totals(claim.psn_no, claim.year)
    settled = access.settled_before(item.psn_no, item.ref, totals) or settled_on(claim, snapshot, totals)
    if settled.reaches_back:
        return None
    await access.set_totals(claim.psn_no, claim.year, settled.totals)
    record = Settlement(
        settlement_id=f"{claim.key}/settlement",
        kind="settlement",
        claim_id=claim.claim_id,
        psn_no=claim.psn_no,
        insuplc_admdvs=claim.insuplc_admdvs,
        policy=PolicyRef.model_validate(snapshot["policy"]),
        year=claim.year,
        identity=[CategoryHeld.model_validate(h) for h in snapshot["identity"]],
        medfee_sumamt=claim.medfee_sumamt,
        payments=list(settled.lines),
        fund_pay_sumamt=settled.fund_pay_sumamt,
        psn_part_amt=settled.psn_part_amt,
        settled_at=now,
        fixmedins_code=claim.fixmedins_code,
        fixmedins_name=claim.fixmedins_name,
        revision=claim.revision,
        **bill_of(claim),
    )
    return [record], {(claim.key, claim.revision): claim}, {claim.key: recorded_route(snapshot)}


def _routes(records: Sequence[Settlement]) -> dict[str, tuple[Payer, ...]]:
    """Each claim's route as its records' identity and policy give it (the rules' path)."""
    return {
        record.key: tuple(p.payer for p in route(policy_of(record.policy), {h.code for h in record.identity}))
        for record in records
        if record.kind == "settlement"
    }


def _assert_sound(
    records: Sequence[Settlement], nets: dict[tuple[str, int], Net] | None, routes: dict[str, tuple[Payer, ...]]
) -> None:
    """Raise Unsound, recording nothing, when a record breaks an invariant of money."""
    problems = unsound(records, nets or {}, routes)
    if problems:
        raise Unsound("the ledger refused to record: " + "; ".join(problems))


def _input_of(item: QueueItem, history: Sequence[Input]) -> Input:
    for candidate in history:
        if item.kind == "cancellation":
            if isinstance(candidate, CancellationReceived) and candidate.cancellation.key == item.ref:
                return candidate
        elif candidate.seq == item.seq and isinstance(candidate, _KINDS[item.kind]):
            return candidate
    raise LookupError(f"queued {item.kind} {item.ref} (seq {item.seq}) is not in its person's history")


_KINDS = {
    "claim": ClaimReceived,
    "correction": ClaimReceived,
    "eligibility": ChangeReceived,
    "close": CloseReceived,
    "enrollment": EnrollmentReceived,
    "roll": RollReceived,
}


def _alerts(
    records: Sequence[Settlement], claims: dict[tuple[str, int], DischargeClaim]
) -> list[tuple[str, HighCostAlert]]:
    """Early warnings for the claims first settled here (measured on their first settlement)."""
    out = []
    for record in records:
        claim = claims.get((record.key, record.revision or 0))
        if record.kind != "settlement" or claim is None:
            continue
        held = {h.code for h in record.identity}
        out += [(record.key, alert) for alert in alerts_for(claim, record.payments, held, policy_of(record.policy))]
    return out


def group_by_person(items) -> dict[str, list]:
    out: dict[str, list] = defaultdict(list)
    for item in items:
        out[item.psn_no].append(item)
    return out
