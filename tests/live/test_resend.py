"""A message lost between two workers does not hold up a person's ledger: intake sends the claim
again once ONESTOP_RESEND_AFTER has passed, and it is settled once, exactly as the rules settle it.

The embedded broker has lost a notice on claims.ledger in some bench runs (README, Faults); here
the loss is made on purpose: the claim is recorded as intake records it, and its message to the
first payer is never sent."""

from __future__ import annotations

import asyncio
import uuid

from store.memory import MemoryStore

from ..store.support import Workers, case, grants, records
from .conftest import system_of_its_own

CASE = "zhangye-major-disease-cap"
RESEND_AFTER = 2


async def test_a_claim_whose_message_was_lost_is_sent_again_by_intake_and_settled_once(
    database, tmp_path_factory
) -> None:
    worked = case(CASE)
    claim = worked.claims[0]
    reference_url = f"memory://{uuid.uuid4()}"
    reference = MemoryStore.named(reference_url)
    try:
        by_hand = Workers(reference)
        await by_hand.changes(*grants(worked))
        await by_hand.settle(claim)
        [expected] = await records(reference)
    finally:
        MemoryStore.forget(reference_url)
    async with system_of_its_own(database, tmp_path_factory, "resend", {"ONESTOP_RESEND_AFTER": str(RESEND_AFTER)}) as (
        system,
        store,
    ):
        lost = Workers(store)
        await lost.changes(*grants(worked))
        [receipt], _ = await lost.receive(claim)  # as intake records it; its message to the first payer is lost
        assert receipt.status == "new"
        settled = []
        for _ in range(240):
            settled = await store.records_of(claim.claim_id)
            if settled:
                break
            await asyncio.sleep(0.5)
        assert settled, f"claim {claim.claim_id} was not settled within 120 s of being received"
        await asyncio.sleep(2 * RESEND_AFTER + 6)  # long enough for another sweep to send it again, were it still due
        [record] = await store.records_of(claim.claim_id)
        assert [(line.payer, line.amount) for line in record.payments] == [
            (line.payer, line.amount) for line in expected.payments
        ]
        assert record.psn_part_amt == expected.psn_part_amt
        assert await store.queued(claim.psn_no) == []
        intake_log = next(p for p in system.workers.log_dir.glob("*.log") if p.name.startswith("intake")).read_text()
        assert (
            f"sent again 1 claim(s) not at the ledger {RESEND_AFTER} s after they were received: {claim.claim_id}"
            in intake_log
        )
