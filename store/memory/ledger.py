"""The ledger in memory (store/postgres/ledger.py) — the one writer of money: each person's queued
inputs applied in order (store/life.py, through access.py), records once each, the year totals with
them; the claims that arrive checked against what intake recorded before they take their place;
the outbox of records and alerts still to publish; and the ledger read back, by place."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from policies.received import Input
from schemas.events import HighCostAlert, Settlement

from ..life import apply_ready
from ..records import START, ArrivedClaim, Outbox, Place, QueueItem
from .access import PersonAccess, history_of, records_in_order
from .rows import Record, loads, utc
from .tables import Memory


async def settle_in_order(
    m: Memory, persons: Iterable[str], now: datetime, arrived: Sequence[ArrivedClaim] = ()
) -> tuple[Outbox, list[str | None]]:
    """Apply every person's ready inputs in order, the claims that ``arrived`` (and hold against what
    intake recorded) now ready among them; the outbox of what they (and earlier runs that did not get
    to publish) left unpublished, and per arrival None or why it was refused."""
    persons = sorted(set(persons))
    if not persons:
        return Outbox(), []
    access = PersonAccess(m)
    refused = access.preload(persons, arrived)
    for psn_no in persons:
        await apply_ready(access, psn_no, now)
    access.flush()
    return unpublished(m, persons, access.written), refused


def unpublished(m: Memory, persons: list[str], written: dict[tuple[str, str], tuple[Settlement, bytes]]) -> Outbox:
    """What the persons' records and alerts left unpublished, in order; those this transaction
    ``written`` are taken as written, not read back and validated again."""
    rows = sorted(
        (
            m.t.records[(p, s)]
            for p in persons
            for s in m.t.person_records.get(p, {})
            if not m.t.records[(p, s)].published
        ),
        key=lambda r: (r.seq, r.psn_no),
    )
    alerts = sorted(
        (m.t.alerts[(p, a)] for p in persons for a in m.t.person_alerts.get(p, {}) if not m.t.alerts[(p, a)].published),
        key=lambda a: (a.seq, a.psn_no),
    )
    records = [
        written[(r.psn_no, r.settlement_id)][0] if (r.psn_no, r.settlement_id) in written else r.settlement()
        for r in rows
    ]
    return Outbox(
        records,
        [(a.alert_id, HighCostAlert.model_validate(loads(a.alert))) for a in alerts],
        {settlement_id: wire for (_, settlement_id), (_, wire) in written.items()},
    )


class Ledger:
    _m: Memory

    async def arrive(
        self, claims: list[ArrivedClaim], now: datetime, woken: Sequence[str] = ()
    ) -> tuple[Outbox, list[str | None]]:
        """Claims that passed their payers, each checked against what intake recorded and then taking
        effect in its person's order with whatever it held up; the ``woken`` persons' queues applied
        too. Returns what is left to publish for those persons, and per claim None or why it was refused."""
        persons = {c.psn_no for c in claims} | set(woken)
        if not persons:
            return Outbox(), []
        async with self._m.transaction() as m:
            return await settle_in_order(m, persons, now, arrived=claims)

    async def apply(self, persons: list[str], now: datetime) -> Outbox:
        """Apply whatever the persons' queues hold that is ready."""
        outbox, _ = await self.arrive([], now, persons)
        return outbox

    async def ready_persons(self, queued_before: datetime, limit: int = 500) -> list[str]:
        """Persons whose queue starts with an input ready since before ``queued_before``."""
        async with self._m.transaction() as m:
            heads = [min(queue.values(), key=lambda i: i.key) for queue in m.t.queue.values() if queue]
            late = [
                (m.t.queued_at[(i.psn_no, i.seq, i.sub)], i.psn_no)
                for i in heads
                if i.ready and m.t.queued_at[(i.psn_no, i.seq, i.sub)] < utc(queued_before)
            ]
        return [psn_no for _, psn_no in sorted(late)[:limit]]

    async def mark_published(self, records: Sequence[tuple[str, str]], alerts: Sequence[tuple[str, str]] = ()) -> None:
        """Mark records (and alerts), each named by (psn_no, id), as published; unknown ones are ignored."""
        async with self._m.transaction() as m:
            for table, keys in ((m.t.records, records), (m.t.alerts, alerts)):
                for key in keys:
                    row = table.get(tuple(key))
                    if row is not None and not row.published:
                        m.set(table, tuple(key), replace(row, published=True))

    async def settlements(
        self, *, after: Place = START, limit: int = 1000, psn_no: str | None = None
    ) -> list[tuple[Place, Settlement]]:
        """Up to ``limit`` records after the place ``after``, each person's in the order recorded
        (persons in order of their numbers)."""
        return [(place, row.settlement()) for place, row in await self._records_after(after, limit, psn_no)]

    async def record_documents(self, *, after: Place = START, limit: int = 1000) -> list[tuple[Place, dict]]:
        """The records as stored, unvalidated (an auditor reads even a damaged ledger)."""
        return [(place, loads(row.record)) for place, row in await self._records_after(after, limit, None)]

    async def _records_after(self, after: Place, limit: int, psn_no: str | None) -> list[tuple[Place, Record]]:
        async with self._m.transaction() as m:
            if psn_no is None:
                rows = sorted(m.t.records.values(), key=lambda r: (r.psn_no, r.seq))
                found = [(Place(r.psn_no, r.seq), r) for r in rows if (r.psn_no, r.seq) > after]
            else:
                since = after.seq if after.psn_no == psn_no else 0
                found = [(Place(r.psn_no, r.seq), r) for r in records_in_order(m, psn_no) if r.seq > since]
        return found[:limit]

    async def person_history(self, psn_no: str) -> list[Input]:
        """Every input a person's ledger is built from (its year-end closes among them), in its order."""
        async with self._m.transaction() as m:
            return history_of(m, psn_no)

    async def records_of(self, claim_key: str) -> list[Settlement]:
        """Every record of a claim (by its key: its hospital and id) or year-end entry, in the order
        recorded: a claim's of the person it belongs to (claim_owners), a year-end entry's by its key alone."""
        async with self._m.transaction() as m:
            owner = m.t.claim_owners.get(claim_key)
            rows = [
                m.t.records[key] for key in m.t.claim_records.get(claim_key, {}) if owner is None or key[0] == owner
            ]
        return [row.settlement() for row in sorted(rows, key=lambda r: (r.seq, r.psn_no))]

    async def queued(self, psn_no: str | None = None) -> list[QueueItem]:
        """Inputs waiting to take effect (of one person, or everyone's), in order."""
        async with self._m.transaction() as m:
            if psn_no is not None:
                return m.queue_of(psn_no)
            everyone = (i for queue in m.t.queue.values() for i in queue.values())
            return sorted(everyone, key=lambda i: (i.psn_no, i.seq, i.sub))
