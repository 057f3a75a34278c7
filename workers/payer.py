"""A payer's worker: append this payer's line to each claim in flight and pass it on.

It holds no money state and records nothing: it computes its line by the rules on the year's
totals the claim carries (as the ledger had them at intake, plus what the payers before it added)
and appends it, with what it added, to the record. The ledger — the one writer of money — settles
the claim itself and refuses a record whose lines are not the rules' (policies/soundness.py).
"""

from __future__ import annotations

from functools import partial

from policies import pay
from policies.loader import load_policies, policy_of
from schemas.codes import Payer
from schemas.policy import PayerPolicy
from streams.codecs import BadInput
from streams.flight import Flight
from streams.topics import LEDGER, REJECTED, pay_topic

from .harness import Context, Incoming, Outgoing, Worker


def read_for(payer: Payer, raw: bytes | None) -> tuple[Flight, PayerPolicy]:
    """The claim in flight and this payer's part of its policy; BadInput when the record puts this
    payer on a route its policy does not have (a stray or forged record is refused). A policy this
    worker does not have (a newer version not yet deployed here) raises: the message is parked,
    and runs again once the policy is deployed (`onestop parked retry`)."""
    flight = Flight.for_payer(payer, raw)
    policy = policy_of(flight.policy)
    rules = next((p for p in policy.payers if p.payer == payer), None)
    if rules is None:
        raise BadInput(f"policy {policy.region} {policy.period} has no payer {payer.value}")
    return flight, rules


async def handle(payer: Payer, context: Context, batch: list[Incoming]) -> list[Outgoing]:
    decoded, out = await context.read_all(
        partial(read_for, payer), batch, REJECTED, f"not a claim in flight for {payer.value}: "
    )
    for _, (flight, rules) in decoded:
        paid = pay(flight.claim, flight.held, flight.prior, flight.totals, policy_of(flight.policy), rules)
        after = flight.next_after(payer)  # a redelivered hop carries no second line: with_line replaces it
        out.append(
            Outgoing(
                pay_topic(after) if after is not None else LEDGER,
                flight.psn_no.encode(),
                flight.with_line(payer, paid.line, paid.accounts, last=after is None),
            )
        )
    return out


def worker(payer: Payer) -> Worker:
    return Worker(
        payer.value,
        pay_topic(payer),
        partial(handle, payer),
        sinks=(*(pay_topic(p) for p in _after(payer)), LEDGER, REJECTED),
        kind="payer",
    )


def _after(payer: Payer) -> list[Payer]:
    """The payers that follow ``payer`` in some region's chain (its claims may go on to any of them)."""
    later = {
        p.payer
        for policy in load_policies()
        for chain in [[q.payer for q in policy.payers]]
        if payer in chain
        for p in policy.payers[chain.index(payer) + 1 :]
    }
    return [p for p in Payer if p in later]
