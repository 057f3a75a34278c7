"""The ledger's writes — the one writer of money: each person's queued inputs applied in order
(store/life.py), records once each, published in commit order, the year totals with them; the
claims that arrive checked against what intake recorded before they take their place; and the
outbox of records and alerts still to publish."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

import asyncpg

from policies.received import (
    Input,
)
from policies.settle import Settled
from policies.soundness import checked
from schemas.events import (
    DischargeClaim,
    HighCostAlert,
    Settlement,
)
from schemas.totals import YearTotals, totals_from_json, totals_json
from schemas.wire import encode

from ..columns import totals_of_rows, totals_row
from ..life import apply_ready
from ..records import START, ArrivedClaim, Outbox, Place, QueueItem
from .connection import Persons, columns, persons_locked
from .history import history_of
from .totals import upsert_totals

_INSERT_RECORDS = """
INSERT INTO settlements (settlement_id, claim_id, kind, psn_no, record, medfee_sumamt, fund_pay_sumamt, psn_part_amt,
                         year, seq)
SELECT s, c, k, p, convert_from(r, 'UTF8')::jsonb, m, f, pp, y, q
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::numeric[], $7::numeric[], $8::numeric[],
            $9::integer[], $10::bigint[]) WITH ORDINALITY AS x(s, c, k, p, r, m, f, pp, y, q, ord)
ORDER BY ord
ON CONFLICT (psn_no, settlement_id) DO NOTHING
RETURNING settlement_id"""

_INSERT_ALERTS = """
INSERT INTO alerts (alert_id, psn_no, alert, seq) SELECT a, p, convert_from(j, 'UTF8')::jsonb, q
FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bigint[]) WITH ORDINALITY AS x(a, p, j, q, ord) ORDER BY ord
ON CONFLICT (psn_no, alert_id) DO NOTHING"""

# the records written in this transaction are known already: only their ids are read back
_UNPUBLISHED = """
SELECT
    ARRAY(SELECT ROW(settlement_id, CASE WHEN settlement_id = ANY($2::text[]) THEN NULL ELSE record END)
          FROM settlements WHERE psn_no = ANY($1::text[]) AND NOT published ORDER BY psn_no, seq) AS records,
    ARRAY(SELECT ROW(alert_id, alert) FROM alerts WHERE psn_no = ANY($1::text[]) AND NOT published
          ORDER BY psn_no, seq) AS alerts"""

_MARK_RECORDS = """
UPDATE settlements AS s SET published = true FROM unnest($1::text[], $2::text[]) AS x(p, i)
WHERE s.psn_no = x.p AND s.settlement_id = x.i AND NOT s.published"""
_MARK_ALERTS = """
UPDATE alerts AS a SET published = true FROM unnest($1::text[], $2::text[]) AS x(p, i)
WHERE a.psn_no = x.p AND a.alert_id = x.i AND NOT a.published"""

_RECORDS_AFTER = (
    "SELECT psn_no, seq, record FROM settlements WHERE (psn_no, seq) > ($1, $2) ORDER BY psn_no, seq LIMIT $3"
)
_RECORDS_OF_AFTER = "SELECT psn_no, seq, record FROM settlements WHERE psn_no = $1 AND seq > $2 ORDER BY seq LIMIT $3"
# a claim's records by its key: the person from claim_owners (a year-end entry's key is owned by no
# claim: its records are found by the key alone)
_RECORDS_OF_CLAIM = """
SELECT record FROM settlements WHERE claim_key = $1
  AND (psn_no = (SELECT psn_no FROM claim_owners WHERE claim_key = $1)
       OR NOT EXISTS (SELECT 1 FROM claim_owners WHERE claim_key = $1))
ORDER BY seq"""

_QUEUE = "SELECT psn_no, seq, sub, kind, ref, ready, flagged FROM person_queue WHERE psn_no = $1 ORDER BY seq, sub"

# persons whose first queued input is ready and has waited since before $1
_READY_HEADS = """
SELECT q.psn_no FROM person_queue AS q
WHERE q.ready AND q.queued_at < $1 AND NOT EXISTS (
    SELECT 1 FROM person_queue AS e WHERE e.psn_no = q.psn_no AND (e.seq, e.sub) < (q.seq, q.sub))
ORDER BY q.queued_at, q.psn_no LIMIT $2"""

# Everything the common case needs, in one round trip: the persons' queues; the first receipt of
# every claim queued for them and of every claim that arrived ($2); and the year totals of those
# claims' persons and years.
_PRELOAD = """
WITH wanted AS (
    SELECT c.claim_key, c.psn_no, c.seq, c.year, c.payload, c.snapshot FROM claims_received AS c
    WHERE c.psn_no = ANY($1::text[]) AND c.snapshot IS NOT NULL
      AND (c.claim_key = ANY($2::text[]) OR (c.psn_no, c.claim_key) IN (
        SELECT q.psn_no, q.ref FROM person_queue AS q WHERE q.psn_no = ANY($1::text[]) AND q.kind = 'claim'))
)
SELECT
    ARRAY(SELECT ROW(psn_no, seq, sub, kind, ref, ready, flagged) FROM person_queue
          WHERE psn_no = ANY($1::text[]) ORDER BY psn_no, seq, sub) AS queues,
    ARRAY(SELECT ROW(claim_key, psn_no, seq, payload, snapshot) FROM wanted) AS receipts,
    ARRAY(SELECT ROW(y.psn_no, y.year, y.account, y.base, y.paid, y.paid_by_day, y.assisted_visits_by_month)
          FROM year_totals AS y WHERE (y.psn_no, y.year) IN (SELECT psn_no, year FROM wanted)) AS totals"""

# What a batch leaves behind, in one round trip: finished queue items gone, the claims that arrived
# and still wait (for something before them) marked ready, the year totals the fast path changed.
_FINISH = """
WITH done AS (
    DELETE FROM person_queue AS q USING unnest($1::text[], $2::bigint[], $3::integer[]) AS d(p, s, u)
    WHERE q.psn_no = d.p AND q.seq = d.s AND q.sub = d.u
), arrived AS (
    UPDATE person_queue AS q SET ready = true FROM unnest($4::text[], $5::bigint[], $6::integer[]) AS a(p, s, u)
    WHERE q.psn_no = a.p AND q.seq = a.s AND q.sub = a.u
), ordered AS (
    UPDATE persons AS p SET last_seq = x.s FROM unnest($14::text[], $15::bigint[]) AS x(n, s) WHERE p.psn_no = x.n
)""" + upsert_totals(7)


class BatchedPersonAccess:
    """store/life.py's view of a batch of persons' ledgers, inside the caller's transaction, with the
    few round trips the common case needs: everything read in one query up front (``preload``), and
    the records, finished queue items and year totals written at the end (``flush``). Whatever reads
    more of a person's ledger (the rules' path) first writes what is pending, so it reads exactly
    what it would have without the batching."""

    def __init__(self, locked: Persons) -> None:
        self.locked, self.conn = locked, locked.conn
        self.written: dict[str, tuple[Settlement, bytes]] = {}  # the records this transaction wrote, as written
        self._queues: dict[str, list[QueueItem]] = {}
        self._receipts: dict[
            tuple[str, str], tuple[int, DischargeClaim, dict]
        ] = {}  # (psn_no, claim key) -> seq, claim, snapshot
        self._totals: dict[tuple[str, int], YearTotals] = {}
        self._changed: set[tuple[str, int]] = set()
        self._records: list[Settlement] = []
        self._alerts: list[tuple[str, HighCostAlert]] = []
        self._done: list[QueueItem] = []
        self._arrived: list[QueueItem] = []
        self._settled: dict[
            tuple[str, str], tuple[YearTotals, Settled]
        ] = {}  # (psn_no, key) -> its basis, the claim settled on it

    async def preload(self, persons: list[str], arrived: Sequence[ArrivedClaim] = ()) -> list[str | None]:
        """Read everything up front, then take the claims that ``arrived``: each is checked against
        what intake recorded (policies/soundness.py) and, if it holds, its queue item made ready.
        Per arrival, None or why it was refused."""
        read = await self.conn.fetchrow(_PRELOAD, persons, sorted({a.key for a in arrived}))
        self._queues = {psn_no: [] for psn_no in persons}
        for row in read["queues"]:
            self._queues.setdefault(row[0], []).append(QueueItem(*row))
        for key, psn_no, seq, payload, snapshot in read["receipts"]:
            self._receipts[(psn_no, key)] = (seq, DischargeClaim.model_validate(payload), snapshot)
        # every year of those claims is known now: one with no row yet has no totals (nothing to read again)
        years = {(psn_no, claim.year) for (psn_no, _), (_, claim, _) in self._receipts.items()}
        self._totals = totals_of_rows(years, read["totals"])
        return [self._take(claim) for claim in arrived]

    def _take(self, arrived: ArrivedClaim) -> str | None:
        psn_no = arrived.psn_no
        receipt = self._receipts.get((psn_no, arrived.key))
        if receipt is None:
            return f"intake recorded no claim {arrived.key} of this person: a claim reaches the ledger only from intake"
        seq, claim, snapshot = receipt
        if seq != arrived.seq:
            return (
                f"claim {arrived.key} arrived at place {arrived.seq} of its person,"
                " but intake recorded it at another place"
            )
        try:
            basis = self._basis(psn_no, claim.year, arrived.basis)
            why, settled = checked(claim, snapshot, arrived.lines, basis)
        except (ValueError, TypeError, KeyError) as error:
            why = f"its lines or basis cannot be read: {type(error).__name__}: {error}"
        if why is not None:
            return f"claim {arrived.key} arrived with lines that are not the rules' for what intake recorded: {why}"
        self._settled[(psn_no, arrived.key)] = (basis, settled)
        for item in self._queues.get(psn_no, []):
            if item.kind == "claim" and item.ref == arrived.key and not item.ready:
                index = self._queues[psn_no].index(item)
                self._queues[psn_no][index] = ready = replace(item, ready=True)
                self._arrived.append(ready)
        return None

    async def queue(self, psn_no: str) -> list[QueueItem]:
        if psn_no in self._queues:
            return self._queues.pop(psn_no)
        await self.flush()
        return [QueueItem(**dict(row)) for row in await self.conn.fetch(_QUEUE, psn_no)]

    async def first_receipt(self, psn_no: str, claim_key: str) -> tuple[DischargeClaim, dict]:
        if (psn_no, claim_key) in self._receipts:
            _, claim, snapshot = self._receipts[(psn_no, claim_key)]
            return claim, snapshot
        row = await self.conn.fetchrow(
            "SELECT payload, snapshot FROM claims_received "
            "WHERE psn_no = $1 AND claim_key = $2 AND snapshot IS NOT NULL",
            psn_no,
            claim_key,
        )
        return DischargeClaim.model_validate(row["payload"]), row["snapshot"]

    def _basis(self, psn_no: str, year: int, basis: object) -> YearTotals:
        """The totals a claim arrived with: the ledger's own when they are what it carried (the common
        case: nothing was settled for the person meanwhile), else read and validated from the flight."""
        own = self._totals.get((psn_no, year))
        return own if own is not None and totals_json(own) == basis else totals_from_json(basis)

    def settled_before(self, psn_no: str, claim_key: str, totals: YearTotals) -> Settled | None:
        """The claim as settled when it arrived, if that was on these very totals (its payers saw the
        year as it is): the rules need not run twice."""
        known = self._settled.pop((psn_no, claim_key), None)
        return known[1] if known is not None and known[0] == totals else None

    async def totals(self, psn_no: str, year: int) -> YearTotals:
        if (psn_no, year) not in self._totals:
            await self.flush()
            rows = await self.conn.fetch(
                "SELECT psn_no, year, account, base, paid, paid_by_day, assisted_visits_by_month "
                "FROM year_totals WHERE psn_no = $1 AND year = $2",
                psn_no,
                year,
            )
            self._totals.update(totals_of_rows([(psn_no, year)], [tuple(r) for r in rows]))
        return dict(self._totals[(psn_no, year)])

    async def set_totals(self, psn_no: str, year: int, totals: YearTotals) -> None:
        self._totals[(psn_no, year)] = dict(totals)
        self._changed.add((psn_no, year))

    async def history(self, psn_no: str) -> list[Input]:
        await self.flush()
        return await history_of(self.conn, psn_no)

    async def records(self, psn_no: str) -> list[Settlement]:
        await self.flush()
        rows = await self.conn.fetch("SELECT record FROM settlements WHERE psn_no = $1 ORDER BY seq", psn_no)
        return [Settlement.model_validate(row["record"]) for row in rows]

    async def write(self, records: list[Settlement], alerts: list[tuple[str, HighCostAlert]]) -> None:
        self._records += records
        self._alerts += alerts

    async def done(self, item: QueueItem) -> None:
        self._done.append(item)

    async def replace_totals(self, psn_no: str, totals: dict[int, YearTotals]) -> None:
        await self.flush()
        await self.conn.execute(
            "DELETE FROM year_totals WHERE psn_no = $1 AND year = ANY($2::integer[])", psn_no, list(totals)
        )
        for year, accounts in totals.items():
            await self.set_totals(psn_no, year, accounts)

    async def flag_claims(self, psn_no: str) -> None:
        await self.flush()
        await self.conn.execute("UPDATE person_queue SET flagged = true WHERE psn_no = $1 AND kind = 'claim'", psn_no)

    async def flush(self) -> None:
        """Write the pending records, alerts, finished and arrived queue items and changed totals."""
        records, alerts, done, arrived = self._records, self._alerts, self._done, self._arrived
        changed, self._changed = sorted(self._changed), set()
        self._records, self._alerts, self._done, self._arrived = [], [], [], []
        if records:
            self.written.update(await write_records(self.locked, records))
        if alerts:
            await self.conn.execute(
                _INSERT_ALERTS,
                [a for a, _ in alerts],
                [alert.psn_no for _, alert in alerts],
                [alert.model_dump_json().encode() for _, alert in alerts],
                [self.locked.next_seq(alert.psn_no) for _, alert in alerts],
            )
        finished = {(i.psn_no, i.seq, i.sub) for i in done}
        waiting = [i for i in arrived if (i.psn_no, i.seq, i.sub) not in finished]
        totals = [
            totals_row(p, y, account, t) for p, y in changed for account, t in sorted(self._totals[(p, y)].items())
        ]
        persons, seqs = self.locked.taken()
        if done or waiting or totals or persons:
            await self.conn.execute(
                _FINISH,
                [i.psn_no for i in done],
                [i.seq for i in done],
                [i.sub for i in done],
                [i.psn_no for i in waiting],
                [i.seq for i in waiting],
                [i.sub for i in waiting],
                *columns(totals, 7),
                persons,
                seqs,
            )


async def write_records(locked: Persons, records: list[Settlement]) -> dict[str, tuple[Settlement, bytes]]:
    """Insert records once each, each serialised once, as it goes on the wire, each at its person's
    next place (the person is locked: their records are in the order they were made). Returns the
    records inserted now, with their bytes (one whose settlement_id was recorded before is left as
    it was, and not among them)."""
    if not records:
        return {}
    wire = [encode(r) for r in records]
    inserted = await locked.conn.fetch(
        _INSERT_RECORDS,
        [r.settlement_id for r in records],
        [r.claim_id for r in records],
        [r.kind for r in records],
        [r.psn_no for r in records],
        wire,
        [r.medfee_sumamt for r in records],
        [r.fund_pay_sumamt for r in records],
        [r.psn_part_amt for r in records],
        [r.year for r in records],
        [locked.next_seq(r.psn_no) for r in records],
    )
    new = {row["settlement_id"] for row in inserted}
    return {r.settlement_id: (r, w) for r, w in zip(records, wire) if r.settlement_id in new}


async def settle_in_order(
    locked: Persons, persons: Iterable[str], now: datetime, arrived: Sequence[ArrivedClaim] = ()
) -> tuple[Outbox, list[str | None]]:
    """Apply every person's ready inputs in order, the claims that ``arrived`` from their last payer
    (and hold against what intake recorded) now ready among them; the outbox of what they (and
    earlier runs that did not get to publish) left unpublished, and per arrival None or why it was
    refused. The persons must be locked by the caller."""
    persons = sorted(set(persons))
    if not persons:
        return Outbox(), []
    access = BatchedPersonAccess(locked)
    refused = await access.preload(persons, arrived)
    for psn_no in persons:
        await apply_ready(access, psn_no, now)
    await access.flush()
    return await unpublished(locked.conn, persons, access.written), refused


async def unpublished(
    conn: asyncpg.Connection, persons: list[str], written: dict[str, tuple[Settlement, bytes]] | None = None
) -> Outbox:
    """What the persons' records and alerts left unpublished, in order; those this transaction
    ``written`` are taken as written, not read back and validated again."""
    if not persons:
        return Outbox()
    written = written or {}
    left = await conn.fetchrow(_UNPUBLISHED, persons, list(written))
    records = [
        written[settlement_id][0] if record is None else Settlement.model_validate(record)
        for settlement_id, record in left["records"]
    ]
    alerts = [(alert_id, HighCostAlert.model_validate(alert)) for alert_id, alert in left["alerts"]]
    return Outbox(records, alerts, {sid: wire for sid, (_, wire) in written.items()})


class Ledger:
    _pool: asyncpg.Pool

    async def arrive(
        self, claims: list[ArrivedClaim], now: datetime, woken: Sequence[str] = ()
    ) -> tuple[Outbox, list[str | None]]:
        """Claims that passed their payers, each checked against what intake recorded and then taking
        effect in its person's order with whatever it held up; the ``woken`` persons' queues applied
        too. Returns what is left to publish for those persons, and per claim None or why it was refused."""
        persons = {c.psn_no for c in claims} | set(woken)
        if not persons:
            return Outbox(), []
        async with persons_locked(self._pool, persons) as locked:
            return await settle_in_order(locked, persons, now, arrived=claims)

    async def apply(self, persons: list[str], now: datetime) -> Outbox:
        """Apply whatever the persons' queues hold that is ready (woken after a correction, a
        cancellation, an eligibility change or a year-end close was queued)."""
        outbox, _ = await self.arrive([], now, persons)
        return outbox

    async def ready_persons(self, queued_before: datetime, limit: int = 500) -> list[str]:
        """Persons whose queue starts with an input ready since before ``queued_before``."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_READY_HEADS, queued_before, limit)
        return [row["psn_no"] for row in rows]

    async def mark_published(self, records: Sequence[tuple[str, str]], alerts: Sequence[tuple[str, str]] = ()) -> None:
        """Mark records (and alerts), each named by (psn_no, id), as published; unknown ones are ignored."""
        async with self._pool.acquire() as conn:
            if records:
                await conn.execute(_MARK_RECORDS, [p for p, _ in records], [i for _, i in records])
            if alerts:
                await conn.execute(_MARK_ALERTS, [p for p, _ in alerts], [i for _, i in alerts])

    async def settlements(
        self, *, after: Place = START, limit: int = 1000, psn_no: str | None = None
    ) -> list[tuple[Place, Settlement]]:
        """Up to ``limit`` records after the place ``after``, each person's in the order recorded
        (persons in order of their numbers): a reader pages on, and no writer waits for it."""
        return [
            (place, Settlement.model_validate(record))
            for place, record in await self._records_after(after, limit, psn_no)
        ]

    async def record_documents(self, *, after: Place = START, limit: int = 1000) -> list[tuple[Place, dict]]:
        """The records as stored, unvalidated (an auditor reads even a damaged ledger)."""
        return await self._records_after(after, limit, None)

    async def _records_after(self, after: Place, limit: int, psn_no: str | None) -> list[tuple[Place, dict]]:
        async with self._pool.acquire() as conn:
            if psn_no is None:
                rows = await conn.fetch(_RECORDS_AFTER, after.psn_no, after.seq, limit)
            else:
                rows = await conn.fetch(_RECORDS_OF_AFTER, psn_no, after.seq if after.psn_no == psn_no else 0, limit)
        return [(Place(row["psn_no"], row["seq"]), row["record"]) for row in rows]

    async def person_history(self, psn_no: str) -> list[Input]:
        """Every input a person's ledger is built from (and every year-end close), in seq order."""
        async with self._pool.acquire() as conn:
            return await history_of(conn, psn_no)

    async def records_of(self, claim_key: str) -> list[Settlement]:
        """Every record of a claim (by its key: its hospital and id) or year-end entry, in the order
        recorded. A claim's person is found by its key (claim_owners), so this reads one person's rows."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_RECORDS_OF_CLAIM, claim_key)
        return [Settlement.model_validate(row["record"]) for row in rows]

    async def queued(self, psn_no: str | None = None) -> list[QueueItem]:
        """Inputs waiting to take effect (of one person, or everyone's), in order."""
        async with self._pool.acquire() as conn:
            if psn_no is None:
                rows = await conn.fetch(
                    "SELECT psn_no, seq, sub, kind, ref, ready, flagged FROM person_queue ORDER BY psn_no, seq, sub"
                )
            else:
                rows = await conn.fetch(_QUEUE, psn_no)
        return [QueueItem(**dict(row)) for row in rows]
