"""Intake: validate a discharge event, attach the identity snapshot once, send it to the first payer."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import orjson

from policies import route
from policies.identity import counting, lookup_until
from policies.loader import NoPolicy, policy_for
from schemas.events import ClaimInFlight, DischargeClaim
from streams.codecs import BadInput, decode, encode
from streams.topics import DISCHARGED, LEDGER, REJECTED, pay_topic

from .harness import Context, Incoming, Outgoing, Worker
from store import ReceivedClaim


def _digest(claim: DischargeClaim) -> str:
    return hashlib.sha256(orjson.dumps(claim.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)).hexdigest()


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    out: list[Outgoing] = []
    accepted = []
    for incoming in batch:
        try:
            claim = decode(DischargeClaim, incoming.value)
            policy = policy_for(claim.insuplc_admdvs, claim.enddate)
        except (BadInput, NoPolicy) as problem:
            out.append(await context.reject(REJECTED, incoming, str(problem)))
            continue
        accepted.append((incoming, claim, policy))
    if not accepted:
        return out
    store = await context.store()
    found = await store.identities([(c.psn_no, c.begndate, lookup_until(c, p)) for _, c, p in accepted])
    identities = [counting(held, claim, policy) for held, (_, claim, policy) in zip(found, accepted)]
    now = datetime.now(timezone.utc)
    received = await store.receive_claims([
        ReceivedClaim(
            claim_id=claim.claim_id, psn_no=claim.psn_no, digest=_digest(claim), payload=claim.model_dump(mode="json"),
            snapshot={
                "identity": [held.model_dump(mode="json") for held in identity],
                "policy": {"region": policy.region, "period": policy.period, "version": policy.version},
                "route": [p.payer.value for p in route(policy, {held.code for held in identity})],
                "received_at": now.isoformat(),
            },
            topic=incoming.topic, partition=incoming.partition, offset=incoming.offset,
        )
        for (incoming, claim, policy), identity in zip(accepted, identities)
    ])
    for (incoming, claim, _), result in zip(accepted, received):
        if result.status == "conflict":
            reason = (f"claim_id {claim.claim_id} was already received with different content; "
                      "a claim is settled once — send corrections as a new claim_id or an adjustment")
            out.append(await context.reject(REJECTED, incoming, reason))
            continue
        flight = ClaimInFlight(claim=claim, **result.snapshot)
        first = pay_topic(flight.route[0]) if flight.route else LEDGER
        out.append(Outgoing(first, claim.psn_no.encode(), encode(flight)))
    return out


WORKER = Worker("intake", DISCHARGED, handle)
