"""The ledger's writes: each person's queued inputs applied in order (store/life.py) — records once
each, published in commit order — and the outbox of records and alerts still to publish."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import asyncpg

from policies.ledger import CancellationReceived, ChangeReceived, ClaimReceived, CloseReceived, Input
from schemas.events import (
    ClaimCancellation, DischargeClaim, EligibilityChange, HighCostAlert, PaymentLine, Settlement, YearEndClose,
)
from schemas.totals import AccountTotals, YearTotals
from schemas.wire import encode

from ..life import apply_ready
from ..records import Contribution, Outbox, QueueItem
from .connection import columns, persons_locked
from .payments import UPSERT_TOTALS, totals_row

_QUEUE = "SELECT psn_no, seq, sub, kind, ref, ready, flagged FROM person_queue WHERE psn_no = $1 ORDER BY seq, sub"

_INSERT_RECORDS = """
INSERT INTO settlements (settlement_id, claim_id, kind, psn_no, record, medfee_sumamt, fund_pay_sumamt, psn_part_amt, year)
SELECT s, c, k, p, convert_from(r, 'UTF8')::jsonb, m, f, pp, y
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::numeric[], $7::numeric[], $8::numeric[],
            $9::integer[]) WITH ORDINALITY AS x(s, c, k, p, r, m, f, pp, y, ord)
ORDER BY ord
ON CONFLICT (settlement_id) DO NOTHING
RETURNING settlement_id"""

_INSERT_ALERTS = """
INSERT INTO alerts (alert_id, psn_no, alert) SELECT a, p, convert_from(j, 'UTF8')::jsonb
FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS x(a, p, j, ord) ORDER BY ord
ON CONFLICT (alert_id) DO NOTHING"""

# the records written in this transaction are known already: only their ids are read back
_UNPUBLISHED = """
SELECT
    ARRAY(SELECT ROW(settlement_id, CASE WHEN settlement_id = ANY($2::text[]) THEN NULL ELSE record END)
          FROM settlements WHERE psn_no = ANY($1::text[]) AND NOT published ORDER BY seq) AS records,
    ARRAY(SELECT ROW(alert_id, alert) FROM alerts WHERE psn_no = ANY($1::text[]) AND NOT published ORDER BY seq) AS alerts"""


class PostgresPersonAccess:
    """store/life.py's view of one person's ledger, inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.written: dict[str, tuple[Settlement, bytes]] = {}  # the records this transaction wrote, as written

    async def queue(self, psn_no: str) -> list[QueueItem]:
        return [QueueItem(**dict(row)) for row in await self.conn.fetch(_QUEUE, psn_no)]

    async def history(self, psn_no: str) -> list[Input]:
        return await history_of(self.conn, psn_no)

    async def records(self, psn_no: str) -> list[Settlement]:
        rows = await self.conn.fetch("SELECT record FROM settlements WHERE psn_no = $1 ORDER BY seq", psn_no)
        return [Settlement.model_validate(row["record"]) for row in rows]

    async def first_receipt(self, claim_id: str) -> tuple[DischargeClaim, dict]:
        row = await self.conn.fetchrow(
            "SELECT payload, snapshot FROM claims_received WHERE claim_id = $1 AND snapshot IS NOT NULL", claim_id)
        return DischargeClaim.model_validate(row["payload"]), row["snapshot"]

    async def payment_lines(self, claim_id: str) -> list[PaymentLine]:
        rows = await self.conn.fetch("SELECT line FROM payments WHERE claim_id = $1 ORDER BY seq", claim_id)
        return [PaymentLine.model_validate(row["line"]) for row in rows]

    async def contributions(self, claim_ids: Sequence[str]) -> list[Contribution]:
        if not claim_ids:
            return []
        rows = await self.conn.fetch("SELECT contributions FROM payments WHERE claim_id = ANY($1::text[]) ORDER BY seq",
                                     list(claim_ids))
        return [Contribution(c["year"], c["account"], AccountTotals.model_validate(c["change"]))
                for row in rows for c in row["contributions"]]

    async def write(self, records: list[Settlement], alerts: list[tuple[str, HighCostAlert]]) -> None:
        self.written.update(await write_records(self.conn, records))
        if alerts:
            await self.conn.execute(_INSERT_ALERTS, [a for a, _ in alerts], [alert.psn_no for _, alert in alerts],
                                    [alert.model_dump_json().encode() for _, alert in alerts])

    async def replace_totals(self, psn_no: str, totals: dict[int, YearTotals]) -> None:
        await self.conn.execute("DELETE FROM year_totals WHERE psn_no = $1 AND year = ANY($2::integer[])", psn_no, list(totals))
        rows = [totals_row(psn_no, year, account, account_totals)
                for year, accounts in sorted(totals.items()) for account, account_totals in sorted(accounts.items())]
        if rows:
            await self.conn.execute(UPSERT_TOTALS, *columns(rows))

    async def done(self, item: QueueItem) -> None:
        await self.conn.execute("DELETE FROM person_queue WHERE psn_no = $1 AND seq = $2 AND sub = $3",
                                item.psn_no, item.seq, item.sub)

    async def flag_claims(self, psn_no: str) -> None:
        await self.conn.execute("UPDATE person_queue SET flagged = true WHERE psn_no = $1 AND kind = 'claim'", psn_no)


class BatchedPersonAccess(PostgresPersonAccess):
    """The same view for a batch of persons, with the few round trips the common case needs: every
    person's queue, then the ready claims' first receipts and payers' lines, read in two queries up
    front, and the records and finished queue items written in one statement each at the end.
    Whatever reads more of a person's ledger (the rules' path) first writes what is pending, so it
    reads exactly what the unbatched access would."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        super().__init__(conn)
        self._queues: dict[str, list[QueueItem]] = {}
        self._receipts: dict[str, tuple[DischargeClaim, dict]] = {}
        self._lines: dict[str, list[PaymentLine]] = {}
        self._records: list[Settlement] = []
        self._alerts: list[tuple[str, HighCostAlert]] = []
        self._done: list[QueueItem] = []

    async def preload(self, persons: list[str], arrived: Sequence[tuple[str, str]] = ()) -> None:
        """Read the persons' queues (with the claims that ``arrived``, (psn_no, claim_id), marked
        ready in the same round trip), then the ready claims' receipts and lines."""
        self._queues = {psn_no: [] for psn_no in persons}
        if arrived:
            rows = await self.conn.fetch(_ARRIVE_AND_QUEUES, persons, [p for p, _ in arrived], [c for _, c in arrived])
        else:
            rows = await self.conn.fetch(_QUEUES, persons)
        for row in rows:
            self._queues.setdefault(row["psn_no"], []).append(QueueItem(**dict(row)))
        claims = [row["ref"] for row in rows if row["kind"] == "claim" and row["ready"] and not row["flagged"]]
        if not claims:
            return
        read = await self.conn.fetchrow(_RECEIPTS_AND_LINES, claims)
        for claim_id, payload, snapshot in read["receipts"]:
            self._receipts[claim_id] = (DischargeClaim.model_validate(payload), snapshot)
        for claim_id, line in read["lines"]:
            self._lines.setdefault(claim_id, []).append(PaymentLine.model_validate(line))

    async def queue(self, psn_no: str) -> list[QueueItem]:
        if psn_no in self._queues:
            return self._queues.pop(psn_no)
        await self.flush()
        return await super().queue(psn_no)

    async def first_receipt(self, claim_id: str) -> tuple[DischargeClaim, dict]:
        return self._receipts.pop(claim_id, None) or await super().first_receipt(claim_id)

    async def payment_lines(self, claim_id: str) -> list[PaymentLine]:
        if claim_id in self._lines:
            return self._lines.pop(claim_id)
        return await super().payment_lines(claim_id)

    async def write(self, records: list[Settlement], alerts: list[tuple[str, HighCostAlert]]) -> None:
        self._records += records
        self._alerts += alerts

    async def done(self, item: QueueItem) -> None:
        self._done.append(item)

    async def history(self, psn_no: str) -> list[Input]:
        await self.flush()
        return await super().history(psn_no)

    async def records(self, psn_no: str) -> list[Settlement]:
        await self.flush()
        return await super().records(psn_no)

    async def contributions(self, claim_ids: Sequence[str]) -> list[Contribution]:
        await self.flush()
        return await super().contributions(claim_ids)

    async def replace_totals(self, psn_no: str, totals: dict[int, YearTotals]) -> None:
        await self.flush()
        await super().replace_totals(psn_no, totals)

    async def flag_claims(self, psn_no: str) -> None:
        await self.flush()
        await super().flag_claims(psn_no)

    async def flush(self) -> None:
        """Write the pending records, alerts and finished queue items."""
        records, alerts, done = self._records, self._alerts, self._done
        self._records, self._alerts, self._done = [], [], []
        if records or alerts:
            await super().write(records, alerts)
        if done:
            await self.conn.execute(_DONE, [i.psn_no for i in done], [i.seq for i in done], [i.sub for i in done])


_QUEUES = ("SELECT psn_no, seq, sub, kind, ref, ready, flagged FROM person_queue WHERE psn_no = ANY($1::text[]) "
           "ORDER BY psn_no, seq, sub")
# the arrived claims marked ready, and the persons' queues as they are after it (the select sees the
# rows as they were before the update, so their readiness is taken from both)
_ARRIVE_AND_QUEUES = """
WITH arrived AS (
    UPDATE person_queue AS q SET ready = true FROM unnest($2::text[], $3::text[]) AS a(p, c)
    WHERE q.psn_no = a.p AND q.kind = 'claim' AND q.ref = a.c
    RETURNING q.psn_no, q.seq, q.sub
)
SELECT q.psn_no, q.seq, q.sub, q.kind, q.ref, q.ready OR a.seq IS NOT NULL AS ready, q.flagged
FROM person_queue AS q LEFT JOIN arrived AS a ON a.psn_no = q.psn_no AND a.seq = q.seq AND a.sub = q.sub
WHERE q.psn_no = ANY($1::text[])
ORDER BY q.psn_no, q.seq, q.sub"""
# the ready claims' first receipts and their payers' lines, in one round trip
_RECEIPTS_AND_LINES = """
SELECT
    ARRAY(SELECT ROW(claim_id, payload, snapshot) FROM claims_received
          WHERE claim_id = ANY($1::text[]) AND snapshot IS NOT NULL) AS receipts,
    ARRAY(SELECT ROW(claim_id, line) FROM payments WHERE claim_id = ANY($1::text[]) ORDER BY seq) AS lines"""
_DONE = """
DELETE FROM person_queue AS q USING unnest($1::text[], $2::bigint[], $3::integer[]) AS d(p, s, u)
WHERE q.psn_no = d.p AND q.seq = d.s AND q.sub = d.u"""


async def write_records(conn: asyncpg.Connection, records: list[Settlement]) -> dict[str, tuple[Settlement, bytes]]:
    """Insert records once each, each serialised once, as it goes on the wire; the table is locked
    for the transaction (as the eventsourcing recorder does) so that ``seq`` order is commit order
    for readers paging with ``after_seq``. Returns the records inserted now, with their bytes (one
    whose settlement_id was recorded before is left as it was, and not among them)."""
    if not records:
        return {}
    wire = [encode(r) for r in records]
    await conn.execute("LOCK TABLE settlements IN EXCLUSIVE MODE")
    inserted = await conn.fetch(
        _INSERT_RECORDS, [r.settlement_id for r in records], [r.claim_id for r in records], [r.kind for r in records],
        [r.psn_no for r in records], wire, [r.medfee_sumamt for r in records], [r.fund_pay_sumamt for r in records],
        [r.psn_part_amt for r in records], [r.year for r in records])
    new = {row["settlement_id"] for row in inserted}
    return {r.settlement_id: (r, w) for r, w in zip(records, wire) if r.settlement_id in new}


async def history_of(conn: asyncpg.Connection, psn_no: str) -> list[Input]:
    """Every input of a person the ledger is built from (and every year-end close), in seq order."""
    claims = await conn.fetch("SELECT seq, payload FROM claims_received WHERE psn_no = $1", psn_no)
    cancellations = await conn.fetch("SELECT input_seq, event FROM cancellations WHERE psn_no = $1", psn_no)
    changes = await conn.fetch("SELECT input_seq, event FROM identity_events WHERE psn_no = $1", psn_no)
    closes = await conn.fetch("SELECT input_seq, event_id, region, year, closed_at FROM year_closes")
    inputs: list[Input] = [ClaimReceived(r["seq"], DischargeClaim.model_validate(r["payload"])) for r in claims]
    inputs += [CancellationReceived(r["input_seq"], ClaimCancellation.model_validate(r["event"])) for r in cancellations]
    inputs += [ChangeReceived(r["input_seq"], EligibilityChange.model_validate(r["event"])) for r in changes]
    inputs += [CloseReceived(r["input_seq"], YearEndClose(event_id=r["event_id"], region=r["region"], year=r["year"],
                                                          closed_at=r["closed_at"])) for r in closes]
    return sorted(inputs, key=lambda i: i.seq)


async def settle_in_order(conn: asyncpg.Connection, persons: Iterable[str], now: datetime,
                          arrived: Sequence[tuple[str, str]] = ()) -> Outbox:
    """Apply every person's ready inputs in order, the claims that ``arrived`` (psn_no, claim_id)
    from their last payer now ready among them; the outbox of what they (and earlier runs that did
    not get to publish) left unpublished. The persons must be locked by the caller."""
    persons = sorted(set(persons))
    if not persons:  # intake's batch without a corrected bill: nothing to read
        return Outbox()
    access = BatchedPersonAccess(conn)
    await access.preload(persons, arrived)
    for psn_no in persons:
        await apply_ready(access, psn_no, now)
    await access.flush()
    return await unpublished(conn, persons, access.written)


async def unpublished(conn: asyncpg.Connection, persons: list[str],
                      written: dict[str, tuple[Settlement, bytes]] | None = None) -> Outbox:
    """What the persons' records and alerts left unpublished, in order; those this transaction
    ``written`` are taken as written, not read back and validated again."""
    if not persons:
        return Outbox()
    written = written or {}
    left = await conn.fetchrow(_UNPUBLISHED, persons, list(written))
    records = [written[settlement_id][0] if record is None else Settlement.model_validate(record)
               for settlement_id, record in left["records"]]
    alerts = [(alert_id, HighCostAlert.model_validate(alert)) for alert_id, alert in left["alerts"]]
    return Outbox(records, alerts, {sid: wire for sid, (_, wire) in written.items()})


class Ledger:
    _pool: asyncpg.Pool

    async def arrive(self, claims: list[tuple[str, str]], now: datetime) -> Outbox:
        """Claims (psn_no, claim_id) that passed their payers: each takes effect in its person's
        order, with whatever it held up. Returns what is left to publish for those persons."""
        if not claims:
            return Outbox()
        async with persons_locked(self._pool, (p for p, _ in claims)) as conn:
            return await settle_in_order(conn, (p for p, _ in claims), now, arrived=claims)

    async def apply(self, persons: list[str], now: datetime) -> Outbox:
        """Apply whatever the persons' queues hold that is ready (a wake-up after a year-end close)."""
        if not persons:
            return Outbox()
        async with persons_locked(self._pool, persons) as conn:
            return await settle_in_order(conn, persons, now)

    async def mark_published(self, settlement_ids: list[str], alert_ids: list[str] = ()) -> None:
        """Mark records (and alerts) as published; unknown ids are ignored."""
        async with self._pool.acquire() as conn:
            if settlement_ids:
                await conn.execute("UPDATE settlements SET published = true WHERE settlement_id = ANY($1::text[]) AND NOT published",
                                   list(settlement_ids))
            if alert_ids:
                await conn.execute("UPDATE alerts SET published = true WHERE alert_id = ANY($1::text[]) AND NOT published",
                                   list(alert_ids))

    async def settlements(self, *, after_seq: int = 0, limit: int = 1000, psn_no: str | None = None) -> list[tuple[int, Settlement]]:
        """Up to ``limit`` records with ``seq`` greater than ``after_seq``, in the order recorded."""
        async with self._pool.acquire() as conn:
            if psn_no is None:
                rows = await conn.fetch("SELECT seq, record FROM settlements WHERE seq > $1 ORDER BY seq LIMIT $2", after_seq, limit)
            else:
                rows = await conn.fetch("SELECT seq, record FROM settlements WHERE seq > $1 AND psn_no = $3 ORDER BY seq LIMIT $2",
                                        after_seq, limit, psn_no)
        return [(row["seq"], Settlement.model_validate(row["record"])) for row in rows]

    async def record_documents(self, *, after_seq: int = 0, limit: int = 1000) -> list[tuple[int, dict]]:
        """The records as stored, unvalidated (an auditor reads even a damaged ledger)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT seq, record FROM settlements WHERE seq > $1 ORDER BY seq LIMIT $2", after_seq, limit)
        return [(row["seq"], row["record"]) for row in rows]

    async def person_history(self, psn_no: str) -> list[Input]:
        """Every input a person's ledger is built from (and every year-end close), in seq order."""
        async with self._pool.acquire() as conn:
            return await history_of(conn, psn_no)

    async def records_of(self, claim_id: str) -> list[Settlement]:
        """Every record of a claim (or year-end entry), in the order recorded."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT record FROM settlements WHERE claim_id = $1 ORDER BY seq", claim_id)
        return [Settlement.model_validate(row["record"]) for row in rows]

    async def queued(self, psn_no: str | None = None) -> list[QueueItem]:
        """Inputs waiting to take effect (of one person, or everyone's), in order."""
        async with self._pool.acquire() as conn:
            if psn_no is None:
                rows = await conn.fetch("SELECT psn_no, seq, sub, kind, ref, ready, flagged FROM person_queue ORDER BY seq, sub")
            else:
                rows = await conn.fetch(_QUEUE, psn_no)
        return [QueueItem(**dict(row)) for row in rows]

