"""The order inputs take effect in a person's ledger, for every backend.

Each accepted input (a claim, a corrected bill, a cancellation, an eligibility change, a close)
gets a place in its person's queue, in the order it was received. The ledger applies a person's
queue strictly in that order: a claim takes effect when it has passed its payers and reached the
ledger; every other input as soon as everything received before it has. So an input never
overtakes one received earlier, and the records are those of policies.ledger, input after input,
however the workers interleave: an auditor's replay of the inputs gets the same records.

A claim whose payers' lines can be trusted (nothing changed the person's year while it travelled)
is settled with them: the fast path. Otherwise — it lifted the year over a qualifying line, a
payer saw it out of order, the year was settled again while it travelled, its year is closed —
it is ``flagged``, and the ledger settles it by the rules (policies.ledger.records_of), as every
other input. After any such settlement the year totals the payers use are replaced by what the
rules give, plus what claims still travelling have already added, and those claims are flagged.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from policies.alerts import alerts_for
from policies.ledger import (
    CancellationReceived, ChangeReceived, ClaimReceived, CloseReceived, Input, Net, bill_of, nets_of, records_of, truth,
)
from policies.loader import policy_of
from schemas.events import CategoryHeld, DischargeClaim, HighCostAlert, PaymentLine, PolicyRef, Settlement
from schemas.money import ZERO
from schemas.totals import AccountTotals, YearTotals

from .records import Contribution, QueueItem


class PersonAccess(Protocol):
    """One person's ledger inside a transaction that holds the person's lock (a backend provides it)."""

    async def queue(self, psn_no: str) -> list[QueueItem]: ...
    async def history(self, psn_no: str) -> list[Input]: ...
    async def records(self, psn_no: str) -> list[Settlement]: ...
    async def first_receipt(self, claim_id: str) -> tuple[DischargeClaim, dict]: ...
    async def payment_lines(self, claim_id: str) -> list[PaymentLine]: ...
    async def contributions(self, claim_ids: Sequence[str]) -> list[Contribution]: ...
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
        # once the rules have settled an input in this run, the flags read with the queue are stale
        if item.kind == "claim" and not item.flagged and history is None:
            record, claim = await _as_paid(access, item, now)
            records, claims = [record], {(claim.claim_id, claim.revision): claim}
        else:
            history = history if history is not None else await access.history(psn_no)
            nets = nets if nets is not None else nets_of(await access.records(psn_no))
            records = records_of(_input_of(item, history), history, nets, now)
            travelling = [i.ref for i in items if i.kind == "claim" and i.key > item.key]
            await access.replace_totals(psn_no, await _totals_after(access, history, item, travelling))
            await access.flag_claims(psn_no)
            claims = {(i.claim.claim_id, i.claim.revision): i.claim for i in history if isinstance(i, ClaimReceived)}
        await access.write(records, _alerts(records, claims))
        if nets is not None:
            for record in records:
                nets.setdefault((record.claim_id, record.year), Net()).add(record)
        await access.done(item)
        made += records
    return made


async def _as_paid(access: PersonAccess, item: QueueItem, now: datetime) -> tuple[Settlement, DischargeClaim]:
    """The fast path: the claim's first record is what its payers paid."""
    claim, snapshot = await access.first_receipt(item.ref)
    lines = await access.payment_lines(item.ref)
    funds = sum((line.amount for line in lines), start=ZERO)
    return Settlement(
        settlement_id=f"{claim.claim_id}/settlement", kind="settlement", claim_id=claim.claim_id, psn_no=claim.psn_no,
        insuplc_admdvs=claim.insuplc_admdvs, policy=PolicyRef.model_validate(snapshot["policy"]), year=claim.year,
        identity=[CategoryHeld.model_validate(h) for h in snapshot["identity"]], medfee_sumamt=claim.medfee_sumamt,
        payments=lines, fund_pay_sumamt=funds, psn_part_amt=claim.medfee_sumamt - funds, settled_at=now,
        fixmedins_code=claim.fixmedins_code, fixmedins_name=claim.fixmedins_name, revision=claim.revision, **bill_of(claim),
    ), claim


def _input_of(item: QueueItem, history: Sequence[Input]) -> Input:
    for candidate in history:
        if item.kind == "cancellation":
            if isinstance(candidate, CancellationReceived) and candidate.cancellation.event_id == item.ref:
                return candidate
        elif candidate.seq == item.seq and isinstance(candidate, _KINDS[item.kind]):
            return candidate
    raise LookupError(f"queued {item.kind} {item.ref} (seq {item.seq}) is not in its person's history")


_KINDS = {"claim": ClaimReceived, "correction": ClaimReceived, "eligibility": ChangeReceived, "close": CloseReceived}


async def _totals_after(access: PersonAccess, history: Sequence[Input], item: QueueItem,
                        travelling: Sequence[str]) -> dict[int, YearTotals]:
    """The year totals as the rules give them after ``item``, plus what travelling claims added."""
    totals: dict[int, YearTotals] = {year: dict(t) for year, t in truth(history, item.key).totals.items()}
    for contribution in await access.contributions(travelling):
        year = totals.setdefault(contribution.year, {})
        year[contribution.account] = year.get(contribution.account, AccountTotals()).plus(contribution.change)
    return totals


def _alerts(records: Sequence[Settlement], claims: dict[tuple[str, int], DischargeClaim]) -> list[tuple[str, HighCostAlert]]:
    """Early warnings for the claims first settled here (measured on their first settlement)."""
    out = []
    for record in records:
        claim = claims.get((record.claim_id, record.revision or 0))
        if record.kind != "settlement" or claim is None:
            continue
        held = {h.code for h in record.identity}
        out += [(record.claim_id, alert) for alert in alerts_for(claim, record.payments, held, policy_of(record.policy))]
    return out


def contributions_of(year: int, before: YearTotals, after: YearTotals) -> list[Contribution]:
    """What a payment changed in the accounts of a year (for the payers' bookkeeping)."""
    return [Contribution(year, account, totals.minus(before.get(account, AccountTotals())))
            for account, totals in after.items()]


def group_by_person(items) -> dict[str, list]:
    out: dict[str, list] = defaultdict(list)
    for item in items:
        out[item.psn_no].append(item)
    return out
