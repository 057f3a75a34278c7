"""Publishing what the ledger recorded: records to finance (settlements.completed; with
ONESTOP_NHSA_TOPIC also in the national platform's shape on the hospital's own topic
settlements.nhsa.<fixmedins_code>, or settlements.nhsa for a record naming no hospital), early
warnings to civil affairs (alerts.high_cost); each marked published only once the broker has it,
so a crash in between publishes it again, with the same id and amounts, never other ones. What a
hospital reads holds no category of the person, authority or grant id (policies/withheld.py)."""

from __future__ import annotations

from policies.nhsa import nhsa_form
from policies.withheld import seen_by_hospital
from schemas.settings import settings
from store import Outbox
from streams.codecs import encode
from streams.topics import ALERTS, SETTLEMENTS, SETTLEMENTS_NHSA, SETTLEMENTS_NHSA_OF, nhsa_topic

from .harness import Context, Outgoing

#: what a worker that applies a person's queue publishes (settlements.nhsa.: each hospital's own topic)
OUTBOX_TOPICS = (SETTLEMENTS, ALERTS, SETTLEMENTS_NHSA, SETTLEMENTS_NHSA_OF)


def messages(outbox: Outbox) -> list[Outgoing]:
    """The outbox as messages, keyed by the person, records first."""
    out, seen = [], set()
    for record in outbox.records:
        if record.settlement_id not in seen:
            seen.add(record.settlement_id)
            wire = outbox.wire.get(record.settlement_id) or encode(record)
            published = ("record", record.psn_no, record.settlement_id)
            out.append(Outgoing(SETTLEMENTS, record.psn_no.encode(), wire, published))
            if settings.nhsa_topic:  # the national platform's shape, for the hospital's system (a resend is the same)
                form = nhsa_form(seen_by_hospital(record))
                out.append(Outgoing(nhsa_topic(record.fixmedins_code), record.psn_no.encode(), encode(form)))
    for alert_id, alert in outbox.alerts:
        if ("alert", alert_id) not in seen:
            seen.add(("alert", alert_id))
            out.append(Outgoing(ALERTS, alert.psn_no.encode(), encode(alert), ("alert", alert.psn_no, alert_id)))
    return out


async def after_sent(context: Context, outgoing: list[Outgoing]) -> None:
    """Once the broker has acknowledged them, mark the records and alerts published."""
    records = [o.published[1:] for o in outgoing if o.published and o.published[0] == "record"]
    alerts = [o.published[1:] for o in outgoing if o.published and o.published[0] == "alert"]
    if records or alerts:
        await (await context.store()).mark_published(records, alerts)
