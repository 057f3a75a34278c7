"""The ledger step: record each fully paid claim as a settlement, publish it for finance, warn on high costs."""
from __future__ import annotations

from datetime import datetime, timezone

from policies.alerts import alerts_for
from policies.loader import policy_of
from schemas.events import ClaimInFlight, Settlement
from schemas.money import ZERO
from streams.codecs import encode
from streams.topics import ALERTS, LEDGER, REJECTED, SETTLEMENTS

from .harness import Context, Incoming, Outgoing, Worker


def settlement_of(flight: ClaimInFlight, settled_at: datetime) -> Settlement:
    claim = flight.claim
    funds = sum((line.amount for line in flight.lines), start=ZERO)
    return Settlement(
        settlement_id=f"{claim.claim_id}/settlement", kind="settlement", claim_id=claim.claim_id, psn_no=claim.psn_no,
        insuplc_admdvs=claim.insuplc_admdvs, policy=flight.policy, year=claim.year, identity=flight.identity,
        medfee_sumamt=claim.medfee_sumamt, payments=flight.lines, fund_pay_sumamt=funds,
        psn_part_amt=claim.medfee_sumamt - funds, settled_at=settled_at,
    )


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    flights, out = await context.decode_all(ClaimInFlight, batch, REJECTED, "not a paid claim for the ledger: ")
    now = datetime.now(timezone.utc)
    settlements = [settlement_of(f, now) for f in flights]
    store = await context.store()
    unpublished = await store.record_settlements(settlements)
    sending: set[str] = set()
    for flight, settlement, publish in zip(flights, settlements, unpublished):
        if not publish or settlement.settlement_id in sending:
            continue  # published before, or twice in this batch: sent once
        sending.add(settlement.settlement_id)
        key = settlement.psn_no.encode()
        out.append(Outgoing(SETTLEMENTS, key, encode(settlement), record_id=settlement.settlement_id))
        policy = policy_of(flight.policy)
        held = {c.code for c in flight.identity}
        out.extend(Outgoing(ALERTS, key, encode(a)) for a in alerts_for(flight.claim, flight.lines, held, policy))
    return out


async def after_sent(context: Context, outgoing: list[Outgoing]) -> None:
    """Once the broker has acknowledged them, mark the settlements published."""
    published = [o.record_id for o in outgoing if o.topic == SETTLEMENTS and o.record_id]
    if published:
        await (await context.store()).mark_published(published)


WORKER = Worker("ledger", LEDGER, handle, after_sent)
