"""Intake: validate a discharge event, attach the identity snapshot once, send it to the first payer.

A corrected bill (the same claim_id, a higher revision) is not paid again by the payers: the
ledger settles the claim's year again in order and publishes the adjustments.
"""
from __future__ import annotations

from datetime import datetime, timezone

from policies import route
from policies.identity import counting
from policies.loader import NoPolicy, policy_for
from schemas.events import CategoryHeld, ClaimInFlight, ClaimPaid, DischargeClaim
from streams.codecs import encode
from streams.topics import DISCHARGED, LEDGER, PAY_TOPICS, REJECTED, pay_topic

from .harness import Context, Incoming, Outgoing, Worker
from .outbox import OUTBOX_TOPICS, after_sent, messages
from .trust import decode_trusted


def attach(claim: DischargeClaim, periods: list[CategoryHeld]) -> dict:
    """The snapshot a claim travels with: the categories that count for its dates, its policy and route."""
    policy = policy_for(claim.insuplc_admdvs, claim.enddate)
    identity = counting(periods, claim, policy)
    return {
        "identity": [held.model_dump(mode="json") for held in identity],
        "policy": {"region": policy.region, "period": policy.period, "version": policy.version},
        "route": [p.payer.value for p in route(policy, {held.code for held in identity})],
        "received_at": datetime.now(timezone.utc).isoformat(),
    }


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    decoded, out = await decode_trusted(context, DischargeClaim, batch, REJECTED, "claim")
    accepted = []
    for incoming, claim in decoded:
        try:
            policy_for(claim.insuplc_admdvs, claim.enddate)
        except NoPolicy as problem:
            out.append(await context.reject(REJECTED, incoming, str(problem), "claim", claim.psn_no))
            continue
        accepted.append((incoming, claim))
    if not accepted:
        return out
    receipts, outbox = await (await context.store()).receive_claims(
        [incoming.arrival(claim) for incoming, claim in accepted], attach, datetime.now(timezone.utc))
    for (incoming, claim), receipt in zip(accepted, receipts):
        if receipt.status in ("new", "same"):
            flight = ClaimInFlight(claim=claim, seq=receipt.seq, published_at=_published(incoming), **receipt.snapshot)
            if flight.route:
                out.append(Outgoing(pay_topic(flight.route[0]), claim.psn_no.encode(), encode(flight)))
            else:  # no payer is open to it: straight to the ledger
                paid = ClaimPaid(claim_id=claim.claim_id, psn_no=claim.psn_no, seq=receipt.seq, published_at=flight.published_at)
                out.append(Outgoing(LEDGER, claim.psn_no.encode(), encode(paid)))
        elif receipt.status != "correction":
            out.append(await context.reject(REJECTED, incoming, receipt.reason, "claim", claim.psn_no))
    return out + messages(outbox)


def _published(incoming: Incoming) -> datetime | None:
    stamp = incoming.timestamp_ms
    return datetime.fromtimestamp(stamp / 1000, timezone.utc) if stamp and stamp > 0 else None


WORKER = Worker("intake", DISCHARGED, handle, after_sent, sinks=(*PAY_TOPICS, LEDGER, REJECTED, *OUTBOX_TOPICS))
