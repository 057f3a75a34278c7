"""Intake: validate a discharge event, attach the identity snapshot once, send it to the first payer.

A claim is its hospital's and its id (schemas/ids.py). A corrected bill (the same hospital's
claim, a higher revision) is not paid again by the payers: it is queued, and the ledger — woken
here — settles the claim's year again in order and publishes the adjustments. Intake records no
money; the claim travels with its year's totals as the ledger had them (its ``basis``), on which
its payers compute their lines.

A claim that has not reached the ledger ONESTOP_RESEND_AFTER seconds after it was received is sent
again, as it was first sent (payers return the line they recorded, the ledger takes an arrival
once): a message lost between two workers does not hold up its person's ledger for ever.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

from policies import route
from policies.identity import counting
from policies.loader import NoPolicy, policy_for
from schemas.events import CategoryHeld, ClaimInFlight, DischargeClaim
from schemas.settings import settings
from streams.codecs import encode
from streams.topics import DISCHARGED, LEDGER, PAY_TOPICS, REJECTED, pay_topic

from . import metrics
from .harness import Context, Incoming, Outgoing, Worker
from .trust import decode_trusted
from .wakeups import wake

log = logging.getLogger("onestop.intake")


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
    receipts = await (await context.store()).receive_claims(
        [incoming.arrival(claim) for incoming, claim in accepted], attach
    )
    corrected = set()
    for (incoming, claim), receipt in zip(accepted, receipts):
        if receipt.status == "new" or (receipt.status == "same" and not claim.revision):
            out.append(onward(claim, receipt.seq, receipt.snapshot, receipt.basis, _published(incoming)))
        elif receipt.status in ("correction", "same"):  # a corrected bill (again: its wake-up may have been lost)
            corrected.add(claim.psn_no)
        else:
            out.append(await context.reject(REJECTED, incoming, receipt.reason, "claim", claim.psn_no))
    return out + wake(corrected, "corrected bill")


def onward(
    claim: DischargeClaim, seq: int, snapshot: dict, basis: dict | None, published_at: datetime | None
) -> Outgoing:
    """The claim on its way, with its year's totals: to the first payer of its route, or straight
    to the ledger when no payer is open to it."""
    flight = ClaimInFlight(claim=claim, seq=seq, published_at=published_at, basis=basis or {}, **snapshot)
    topic = pay_topic(flight.route[0]) if flight.route else LEDGER
    return Outgoing(topic, claim.psn_no.encode(), encode(flight))


class Resender:
    """Sends again the claims that have not reached the ledger ONESTOP_RESEND_AFTER seconds after
    they were received — each at most once in that time, so that a backlog is not sent again and
    again while it drains."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}  # claim key -> when this process last sent it again (monotonic)

    async def sweep(self, context: Context) -> list[Outgoing]:
        after = settings.resend_after
        if not after:
            return []
        stalled = await (await context.store()).stalled_claims(datetime.now(timezone.utc) - timedelta(seconds=after))
        now, still = time.monotonic(), {s.claim.key for s in stalled}
        self.sent = {key: at for key, at in self.sent.items() if key in still}  # the rest arrived
        due = [s for s in stalled if s.claim.key not in self.sent or now - self.sent[s.claim.key] >= after]
        for s in due:
            self.sent[s.claim.key] = now
        if due:
            metrics.RESENT.labels(context.worker).inc(len(due))
            log.warning(
                "sent again %d claim(s) not at the ledger %.0f s after they were received: %s",
                len(due),
                after,
                ", ".join(s.claim.claim_id for s in due[:10]),
            )
        return [onward(s.claim, s.seq, s.snapshot, s.basis, None) for s in due]


def _published(incoming: Incoming) -> datetime | None:
    stamp = incoming.timestamp_ms
    return datetime.fromtimestamp(stamp / 1000, timezone.utc) if stamp and stamp > 0 else None


#: how often intake looks for claims to send again (one query; what is due is set by ONESTOP_RESEND_AFTER)
RESEND_LOOK_EVERY = 5.0

WORKER = Worker(
    "intake",
    DISCHARGED,
    handle,
    sinks=(*PAY_TOPICS, LEDGER, REJECTED),
    sweep=Resender().sweep,
    sweep_every=RESEND_LOOK_EVERY,
)
