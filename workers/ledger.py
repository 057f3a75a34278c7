"""The ledger step — the one writer of money. A claim that passed its payers takes effect in its
person's order, settled by the rules from what intake recorded, on the ledger's own totals; a
wake-up applies what a person's queue holds (a corrected bill, a cancellation, an eligibility
change, a year-end close). Every record is published.

Internal messages carry no authority: a claim in flight whose lines are not what the rules give
for what intake recorded (or that intake never recorded) is refused with an alarm — it moves
nothing, and it holds up nobody (the real claim, or intake's resend of it, still settles).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from schemas.events import WakeUp
from schemas.personal import mask
from schemas.settings import settings
from store import DATABASE_AWAY, LEDGER_WORKER, ArrivedClaim
from streams.codecs import encode
from streams.flight import Flight, read_for_ledger
from streams.topics import LEDGER, REJECTED

from . import metrics
from .harness import Context, Incoming, Outgoing, Worker
from .outbox import OUTBOX_TOPICS, after_sent, messages
from .parking import park_unplaced

log = logging.getLogger("onestop.ledger")


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    decoded, out = await context.read_all(
        read_for_ledger, batch, REJECTED, "not a claim in flight or a wake-up for the ledger: "
    )
    flights = [(incoming, message) for incoming, message in decoded if isinstance(message, Flight)]
    woken = [message.psn_no for _, message in decoded if isinstance(message, WakeUp)]
    if not flights and not woken:
        return out
    arrived = [
        ArrivedClaim(f.psn_no, f.key, f.seq, f.data.get("lines", []), f.data.get("basis", {})) for _, f in flights
    ]
    outbox, refused = await (await context.store()).arrive(arrived, datetime.now(timezone.utc), woken)
    for (incoming, flight), why in zip(flights, refused):
        if why is not None:
            out.append(await _alarm(context, incoming, flight, why))
    metrics.settled(
        f.published_at for (_, f), why in zip(flights, refused) if why is None and f.published_at is not None
    )
    return out + messages(outbox)


async def _alarm(context: Context, incoming: Incoming, flight: Flight, why: str) -> Outgoing:
    """Refuse a claim in flight that is not what intake recorded or the rules give: loudly, once."""
    metrics.ALARMS.labels(context.worker, "claim in flight refused").inc()
    log.error(
        "ALARM: refused %s[%s]@%s, a claim in flight of %s: %s",
        incoming.topic,
        incoming.partition,
        incoming.offset,
        mask(flight.psn_no),
        why.replace(flight.psn_no, mask(flight.psn_no)),
    )
    return await context.reject(REJECTED, incoming, f"refused by the ledger: {why}", "other", flight.psn_no)


async def sweep(context: Context) -> list[Outgoing]:
    """Apply the persons whose queue has waited for a wake-up longer than ONESTOP_RESEND_AFTER (one
    lost between a worker and the ledger, or never sent before a crash) — but not a person with a
    message parked here, who waits for it (`onestop parked retry`, or `drop`). A queue that cannot be
    applied (a policy this ledger does not have, a record the ledger refuses to make: Unsound) parks
    a wake-up for its person, as a message that cannot be handled is parked: it must neither stop
    the ledger (a sweep that raised would end the process, and its restart raise again) nor the others."""
    after = settings.resend_after
    if not after:
        return []
    store = await context.store()
    persons = await store.ready_persons(datetime.now(timezone.utc) - timedelta(seconds=after))
    if persons:
        waiting = await store.parked_keys(LEDGER_WORKER)
        persons = [psn_no for psn_no in persons if psn_no.encode() not in waiting]
    if not persons:
        return []
    metrics.WOKEN.labels(context.worker).inc(len(persons))
    log.warning("applied %d person(s) whose queue waited more than %.0f s for a wake-up", len(persons), after)
    try:
        return messages(await store.apply(persons, datetime.now(timezone.utc)))
    except DATABASE_AWAY:
        raise
    except Exception:  # noqa: BLE001 - found below, one person at a time
        return await _one_by_one(context, persons)


async def _one_by_one(context: Context, persons: list[str]) -> list[Outgoing]:
    store, out = await context.store(), []
    for psn_no in persons:
        try:
            out += messages(await store.apply([psn_no], datetime.now(timezone.utc)))
        except DATABASE_AWAY:
            raise
        except Exception as error:  # noqa: BLE001 - parked with the error, never fatal
            wake_up = encode(WakeUp(psn_no=psn_no, cause="the ledger's sweep"))
            await park_unplaced(WORKER, context, LEDGER, psn_no.encode(), wake_up, f"{type(error).__name__}: {error}")
    return out


#: how often the ledger looks for queues whose wake-up was lost
SWEEP_EVERY = 5.0

WORKER = Worker(
    LEDGER_WORKER, LEDGER, handle, after_sent, sinks=(REJECTED, *OUTBOX_TOPICS), sweep=sweep, sweep_every=SWEEP_EVERY
)
