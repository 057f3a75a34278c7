"""The re-settlement worker: after a grant that reaches back in time, settle the person's claims
again and publish the differences as adjustment settlements (linked to the original claims)."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import partial
from itertools import groupby

from policies.identity import counts_for
from policies.loader import policy_of
from policies.resettle import Recorded, Resettled, resettle_year
from schemas.events import CategoryHeld, EligibilityChange, PolicyRef, Settlement
from schemas.money import ZERO
from streams.codecs import BadInput, decode, encode
from streams.topics import ELIGIBILITY_REJECTED, RESETTLE, SETTLEMENTS

from .ledger import after_sent
from .harness import Context, Incoming, Outgoing, Worker
from store import Resettlement, SettledClaim


def adjustment_of(changed: Resettled, policy: PolicyRef, grant_event_id: str, now: datetime) -> Settlement:
    claim, funds = changed.claim, sum((line.amount for line in changed.differences), start=ZERO)
    return Settlement(
        settlement_id=f"{claim.claim_id}/adjustment/{grant_event_id}", kind="adjustment", claim_id=claim.claim_id,
        psn_no=claim.psn_no, insuplc_admdvs=claim.insuplc_admdvs, policy=policy, year=claim.year,
        identity=changed.identity, medfee_sumamt=ZERO, payments=changed.differences, fund_pay_sumamt=funds,
        psn_part_amt=-funds, settled_at=now,
    )


def decide(grant: CategoryHeld, now: datetime, settled: list[SettledClaim]) -> Resettlement:
    """Each year the grant reaches, settled again in settlement order (pure rules)."""
    adjustments, totals = [], {}
    for year, items in groupby(sorted(settled, key=lambda s: s.claim.year), key=lambda s: s.claim.year):
        items = list(items)
        recorded = [Recorded(s.claim, s.identity, s.lines, policy_of(s.policy))
                    for s in items]
        if not any(counts_for(grant, r.claim, r.policy) for r in recorded):
            continue
        changed, new_totals = resettle_year(recorded, grant)
        refs = {s.claim.claim_id: s.policy for s in items}
        adjustments += [adjustment_of(c, refs[c.claim.claim_id], grant.event_id, now) for c in changed]
        totals.update({(year, account): account_totals for account, account_totals in new_totals.items()})
    return Resettlement(adjustments, totals)


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    out: list[Outgoing] = []
    store = await context.store()
    for incoming in batch:
        try:
            change = decode(EligibilityChange, incoming.value)
        except BadInput as problem:
            out.append(await context.reject(ELIGIBILITY_REJECTED, incoming, f"not a grant to settle again for: {problem}"))
            continue
        grant = CategoryHeld(code=change.category, valid_from=change.valid_from, valid_to=change.valid_to,
                             authority=change.authority, event_id=change.event_id)
        adjustments = await store.resettle(change.psn_no, change.event_id, partial(decide, grant, datetime.now(timezone.utc)))
        out += [Outgoing(SETTLEMENTS, a.psn_no.encode(), encode(a), record_id=a.settlement_id) for a in adjustments]
    return out


WORKER = Worker("resettlement", RESETTLE, handle, after_sent)
