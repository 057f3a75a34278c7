"""A payer's worker: append this payer's line to each claim, recorded once in the ledger, and pass it on."""
from __future__ import annotations

from functools import partial

from policies import pay
from policies.loader import load_policies, policy_of
from schemas.codes import Payer
from schemas.totals import YearTotals
from streams.flight import Flight
from streams.topics import LEDGER, REJECTED, pay_topic

from .harness import Context, Incoming, Outgoing, Worker
from store import PayerWork


def _compute(payer: Payer, work: PayerWork, totals: YearTotals):
    flight: Flight = work.item
    policy = policy_of(flight.policy)
    rules = next(p for p in policy.payers if p.payer == payer)
    return pay(flight.claim, flight.held, flight.prior, totals, policy, rules)


async def handle(payer: Payer, context: Context, batch: list[Incoming]) -> list[Outgoing]:
    decoded, out = await context.read_all(partial(Flight.for_payer, payer), batch, REJECTED,
                                          f"not a claim in flight for {payer.value}: ")
    flights = [flight for _, flight in decoded]
    store = await context.store()
    work = [PayerWork(f.claim_id, f.psn_no, f.claim.year, f.seq, f) for f in flights]
    lines = await store.pay_batch(payer.value, work, partial(_compute, payer))
    for flight, line in zip(flights, lines):
        after = flight.next_after(payer)  # a redelivered hop carries no second line: with_line replaces it
        if after is not None:
            out.append(Outgoing(pay_topic(after), flight.psn_no.encode(), flight.with_line(payer, line)))
        else:  # the last payer: the ledger reads the lines where they were recorded
            out.append(Outgoing(LEDGER, flight.psn_no.encode(), flight.paid()))
    return out


def worker(payer: Payer) -> Worker:
    return Worker(payer.value, pay_topic(payer), partial(handle, payer), sinks=(*(pay_topic(p) for p in _after(payer)), LEDGER, REJECTED))


def _after(payer: Payer) -> list[Payer]:
    """The payers that follow ``payer`` in some region's chain (its claims may go on to any of them)."""
    later = {p.payer for policy in load_policies() for chain in [[q.payer for q in policy.payers]]
             if payer in chain for p in policy.payers[chain.index(payer) + 1:]}
    return [p for p in Payer if p in later]
