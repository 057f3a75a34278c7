"""Enrollment (参保登记): record the medical-insurance bureau's changes of who is insured where. A
person whose order holds a premium roll (or who has claims) gets the change in their queue — after
any rolled year it may now subsidise them for — and the ledger, woken, applies it in order: a
premium subsidy it makes due the month after (PARAMETERS.md, "Premium subsidies"). A change moves
money, so it is signed by a key of the authority medical_insurance (workers/trust.py); any other,
or one that does not validate (an unknown insurance type, a division code that is not six digits,
a period ending before it starts, a bad person number), goes to eligibility.rejected with the reason."""

from __future__ import annotations

from schemas.events import EnrollmentChange
from streams.topics import ELIGIBILITY_REJECTED, ENROLLMENT, LEDGER

from .harness import Context, Incoming, Outgoing, Worker
from .trust import decode_trusted
from .wakeups import wake


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    decoded, out = await decode_trusted(
        context, EnrollmentChange, batch, ELIGIBILITY_REJECTED, "enrollment", "not an enrollment change: "
    )
    if decoded:
        receipts = await (await context.store()).record_enrollments([i.arrival(c) for i, c in decoded])
        out += wake((psn_no for receipt in receipts for psn_no in receipt.persons), "enrollment change")
    return out


WORKER = Worker("enrollment", ENROLLMENT, handle, sinks=(ELIGIBILITY_REJECTED, LEDGER), background=True)
