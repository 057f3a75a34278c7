"""The PostgreSQL store of onestop (asyncpg): an idempotent ledger.

In the style of the recorders of the ``eventsourcing`` library, every effect is written
together with its bookkeeping in one transaction, under a unique key:

- a claim is received once (``claims_received``, key ``claim_id``);
- an eligibility change counts once (``identity_events``, key ``event_id``), and the periods
  it adds up to are recomputed from all events of that person and category;
- a payer pays a claim once (``payments``, key ``(claim_id, payer)``), in the same transaction
  as the update of the person's year-to-date totals (``year_totals``): a redelivered claim finds
  its recorded line and re-emits it, it never pays twice;
- a settlement is recorded once (``settlements``, key ``settlement_id``) and published in
  ``seq`` order.

Money columns are ``numeric(14,2)`` and come back as ``Decimal``; never float. JSONB goes
through orjson (codecs set on every pool connection). Nothing personal is logged: the messages
of :meth:`Store.check_ledger` mask person numbers.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any, Literal

import asyncpg
import orjson

from policies.payer import Paid
from schemas.events import CategoryHeld, DischargeClaim, EligibilityChange, PaymentLine, PolicyRef, Settlement
from schemas.money import format_yuan
from schemas.totals import AccountTotals, YearTotals

log = logging.getLogger(__name__)

_MIGRATION_FILE = re.compile(r"^(\d{4})_[A-Za-z0-9_\-]+\.sql$")
_MIGRATE_LOCK = 0x6F6E6573746F70  # "onestop": session lock held while migrating
_PAYMENT_LOCKS = 0x6F730001  # namespace of the per-person transaction locks of pay_batch
_IDENTITY_LOCKS = 0x6F730002  # ... and of record_changes
_ONE_DAY = timedelta(days=1)


# --- the records the API speaks -------------------------------------------------------------


@dataclass(frozen=True)
class SettledClaim:
    """A settled claim of a person as the ledger has it now, for settling it again."""

    claim: DischargeClaim
    identity: list[CategoryHeld]  # the latest used: the intake snapshot, or the last adjustment's
    policy: PolicyRef
    lines: list[PaymentLine]  # one per payer, its amount net of every adjustment so far


@dataclass(frozen=True)
class Resettlement:
    """What a re-settlement decided: adjustment settlements and the redone accounts' new totals."""

    adjustments: list[Settlement]
    totals: dict[tuple[int, str], AccountTotals]  # (year, account) -> replaces the recorded row


@dataclass(frozen=True)
class ReceivedClaim:
    """A claim as intake received it: its digest, payload and the identity snapshot attached."""

    claim_id: str
    psn_no: str
    digest: str
    payload: dict
    snapshot: dict
    topic: str
    partition: int | None
    offset: int | None


@dataclass(frozen=True)
class Received:
    """Whether a claim was new, the same as before, or a different claim under a used id.

    ``snapshot`` is the one stored at first receipt (also for a conflict).
    """

    status: Literal["new", "same", "conflict"]
    snapshot: dict


@dataclass(frozen=True)
class PayerWork:
    """One claim for a payer; ``item`` is opaque to the store and passed to ``compute``."""

    claim_id: str
    psn_no: str
    year: int
    item: Any


# --- JSON ------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"  # exact, as a string: never a float
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS)


def _json_text(value: Any) -> str:
    """JSON as text, for ``text[]`` parameters cast to jsonb in SQL."""
    return _dumps(value).decode()


def _encode_jsonb(value: Any) -> bytes:
    return b"\x01" + _dumps(value)  # binary jsonb: a version byte, then the text


def _decode_jsonb(data: bytes) -> Any:
    return orjson.loads(memoryview(data)[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    """Every pool connection reads and writes jsonb with orjson."""
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=_encode_jsonb, decoder=_decode_jsonb, format="binary"
    )


def _mask(psn_no: str) -> str:
    """A person number fit for logs and messages: its first and last two characters only."""
    return f"{psn_no[:2]}***{psn_no[-2:]}" if len(psn_no) > 6 else "***"


def _first_of_each(items: Iterable[Any], key: Callable[[Any], str]) -> list[Any]:
    """The items whose key has not been seen before, in order."""
    seen: set[str] = set()
    out = []
    for item in items:
        if key(item) not in seen:
            seen.add(key(item))
            out.append(item)
    return out


# --- migrations ------------------------------------------------------------------------------


def migrations() -> list[tuple[int, str, str]]:
    """``(version, file name, SQL)`` of ``workers/migrations/NNNN_*.sql``, in version order."""
    found = []
    for entry in (resources.files("workers") / "migrations").iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append((int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migration files share a version: {[name for _, name, _ in found]}")
    return found


_CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""


async def _apply_migrations(conn: asyncpg.Connection) -> list[int]:
    await conn.execute(_CREATE_SCHEMA_MIGRATIONS)
    done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        async with conn.transaction():
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
        log.info("applied migration %s", name)
        applied.append(version)
    return applied


# --- identity periods (pure) -----------------------------------------------------------------


@dataclass(frozen=True)
class _Period:
    """A period a category holds, with the grant that opened it."""

    start: date
    end: date | None
    authority: str
    event_id: str


def _touches(end: date | None, start: date) -> bool:
    """A period ending at ``end`` overlaps or adjoins one starting at ``start`` (sorted by start)."""
    return end is None or (start - end).days <= 1


def _merged(periods: list[_Period]) -> list[_Period]:
    """Overlapping or adjacent periods merged; each keeps the grant of its earliest start.

    The sort is stable, so of two periods starting on one day the earlier-granted one leads.
    """
    out: list[_Period] = []
    for period in sorted(periods, key=lambda p: p.start):
        if out and _touches(out[-1].end, period.start):
            last = out[-1]
            end = None if last.end is None or period.end is None else max(last.end, period.end)
            out[-1] = replace(last, end=end)
        else:
            out.append(period)
    return out


def _without(period: _Period, start: date, end: date | None) -> list[_Period]:
    """What is left of ``period`` after removing [start, end] (``end`` None: open)."""
    parts = []
    if period.start < start:
        before = start - _ONE_DAY
        parts.append(replace(period, end=before if period.end is None else min(period.end, before)))
    if end is not None and end < date.max and (period.end is None or period.end > end):
        parts.append(replace(period, start=max(period.start, end + _ONE_DAY)))
    return parts


def periods_from(events: Iterable[asyncpg.Record | dict]) -> list[_Period]:
    """The periods of one (person, category) from all its events, applied in (recorded_at, event_id) order.

    A grant adds [valid_from, valid_to]; a revoke removes [valid_from, valid_to or open end].
    """
    periods: list[_Period] = []
    for event in sorted(events, key=lambda e: (e["recorded_at"], e["event_id"])):
        if event["action"] == "grant":
            granted = _Period(event["valid_from"], event["valid_to"], event["authority"], event["event_id"])
            periods = _merged([*periods, granted])
        else:
            periods = [part for p in periods for part in _without(p, event["valid_from"], event["valid_to"])]
    return periods


def _held(row: asyncpg.Record) -> CategoryHeld:
    return CategoryHeld(
        code=row["category"], valid_from=row["valid_from"], valid_to=row["valid_to"],
        authority=row["authority"], event_id=row["event_id"],
    )


# --- totals <-> rows -------------------------------------------------------------------------


def _account_of(row: asyncpg.Record) -> AccountTotals:
    return AccountTotals.model_validate({
        "base": row["base"], "paid": row["paid"],
        "paid_by_day": row["paid_by_day"], "assisted_visits_by_month": row["assisted_visits_by_month"],
    })


def _totals_row(psn_no: str, year: int, account: str, totals: AccountTotals) -> tuple:
    by_day = {day.isoformat(): format_yuan(amount) for day, amount in sorted(totals.paid_by_day.items())}
    visits = dict(sorted(totals.assisted_visits_by_month.items()))
    return psn_no, year, account, totals.base, totals.paid, by_day, visits


# --- SQL of the ledger -----------------------------------------------------------------------

_LOCK_PERSONS = """
SELECT pg_advisory_xact_lock($1::integer, h)
FROM (SELECT DISTINCT hashtext(p) AS h FROM unnest($2::text[]) AS p) AS s
ORDER BY h"""  # volatile output expressions are evaluated after the sort: locks in hash order

_INSERT_CLAIMS = """
INSERT INTO claims_received (claim_id, psn_no, digest, payload, snapshot, topic, "partition", "offset")
SELECT c, p, d, pl::jsonb, sn::jsonb, t, pa, o
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::integer[], $8::bigint[])
    AS r(c, p, d, pl, sn, t, pa, o)
ON CONFLICT (claim_id) DO NOTHING
RETURNING claim_id"""

_IDENTITIES = """
SELECT w.ord, i.category, i.valid_from, i.valid_to, i.authority, i.event_id
FROM unnest($1::text[], $2::date[], $3::date[]) WITH ORDINALITY AS w(psn_no, first_day, last_day, ord)
JOIN identity_periods AS i
  ON i.psn_no = w.psn_no AND i.valid_from <= w.last_day AND (i.valid_to IS NULL OR i.valid_to >= w.first_day)"""

_INSERT_EVENTS = """
INSERT INTO identity_events (event_id, psn_no, category, action, valid_from, valid_to, authority, recorded_at, event)
SELECT e, p, c, a, f, t, au, r, ev::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::date[], $7::text[],
            $8::timestamptz[], $9::text[]) WITH ORDINALITY AS x(e, p, c, a, f, t, au, r, ev, ord)
ORDER BY ord
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id"""

_EVENTS_OF = """
SELECT e.psn_no, e.category, e.event_id, e.action, e.valid_from, e.valid_to, e.authority, e.recorded_at
FROM identity_events AS e
JOIN unnest($1::text[], $2::text[]) AS t(psn_no, category) ON e.psn_no = t.psn_no AND e.category = t.category"""

_DELETE_PERIODS = """
DELETE FROM identity_periods AS i USING unnest($1::text[], $2::text[]) AS t(psn_no, category)
WHERE i.psn_no = t.psn_no AND i.category = t.category"""

_INSERT_PERIOD = """
INSERT INTO identity_periods (psn_no, category, valid_from, valid_to, authority, event_id)
VALUES ($1, $2, $3, $4, $5, $6)"""

_RECORDED_LINES = "SELECT claim_id, line FROM payments WHERE payer = $1 AND claim_id = ANY($2::text[])"

_LOAD_TOTALS = """
SELECT y.psn_no, y.year, y.account, y.base, y.paid, y.paid_by_day, y.assisted_visits_by_month
FROM year_totals AS y
JOIN unnest($1::text[], $2::integer[]) AS k(psn_no, year) ON y.psn_no = k.psn_no AND y.year = k.year"""

_INSERT_PAYMENT = """
INSERT INTO payments (claim_id, payer, psn_no, year, account, amount, line)
VALUES ($1, $2, $3, $4, $5, $6, $7)"""

_UPSERT_TOTALS = """
INSERT INTO year_totals (psn_no, year, account, base, paid, paid_by_day, assisted_visits_by_month)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (psn_no, year, account) DO UPDATE SET
    base = EXCLUDED.base, paid = EXCLUDED.paid, paid_by_day = EXCLUDED.paid_by_day,
    assisted_visits_by_month = EXCLUDED.assisted_visits_by_month, updated_at = now()"""

_INSERT_SETTLEMENTS = """
INSERT INTO settlements (settlement_id, claim_id, kind, psn_no, record, medfee_sumamt, fund_pay_sumamt, psn_part_amt)
SELECT s, c, k, p, r::jsonb, m, f, pp
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], $8::numeric[])
    WITH ORDINALITY AS x(s, c, k, p, r, m, f, pp, ord)
ORDER BY ord
ON CONFLICT (settlement_id) DO NOTHING"""

_SETTLED_CLAIMS_OF = """
SELECT c.claim_id, c.payload, c.snapshot, s.record AS settlement
FROM claims_received AS c JOIN settlements AS s ON s.claim_id = c.claim_id AND s.kind = 'settlement'
WHERE c.psn_no = $1 ORDER BY s.seq"""

_ADJUSTMENT_LINES_OF = """
SELECT claim_id, payer, amount, line FROM payment_adjustments WHERE claim_id = ANY($1::text[]) ORDER BY seq"""

_LATEST_ADJUSTED_IDENTITY = """
SELECT DISTINCT ON (claim_id) claim_id, record -> 'identity' AS identity FROM settlements
WHERE kind = 'adjustment' AND claim_id = ANY($1::text[]) ORDER BY claim_id, seq DESC"""

_INSERT_ADJUSTMENT = """
INSERT INTO payment_adjustments (adjustment_id, claim_id, payer, psn_no, year, account, amount, line, grant_event_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"""

_INSERT_REJECTION = """
INSERT INTO rejections (topic, reason, original, "partition", "offset") VALUES ($1, $2, $3, $4, $5)"""

_COUNTS = """
SELECT (SELECT count(*) FROM claims_received) AS claims_received,
       (SELECT count(*) FROM payments) AS payments,
       (SELECT count(*) FROM settlements) AS settlements,
       (SELECT count(*) FROM rejections) AS rejections,
       (SELECT count(*) FROM identity_events) AS identity_events"""

_TOTALS_VS_PAYMENTS = """
WITH p AS (
    SELECT psn_no, year, account, sum(amount) AS amount
    FROM (SELECT psn_no, year, account, amount FROM payments
          UNION ALL SELECT psn_no, year, account, amount FROM payment_adjustments) AS lines
    WHERE account IS NOT NULL GROUP BY psn_no, year, account
)
SELECT psn_no, year, account, coalesce(y.paid, 0) AS paid, coalesce(p.amount, 0) AS amount
FROM year_totals AS y FULL JOIN p USING (psn_no, year, account)
WHERE coalesce(y.paid, 0) <> coalesce(p.amount, 0)
ORDER BY psn_no, year, account"""

_PAYMENTS_WITHOUT_ACCOUNT = """
SELECT claim_id, payer, amount FROM payments WHERE account IS NULL AND amount <> 0 ORDER BY claim_id, payer"""

_UNBALANCED_SETTLEMENTS = """
SELECT settlement_id, medfee_sumamt, fund_pay_sumamt, psn_part_amt FROM settlements
WHERE kind = 'settlement' AND fund_pay_sumamt + psn_part_amt <> medfee_sumamt ORDER BY seq"""

_SETTLED_TWICE = """
SELECT claim_id, count(*) AS n FROM settlements WHERE kind = 'settlement'
GROUP BY claim_id HAVING count(*) > 1 ORDER BY claim_id"""


async def _lock_persons(conn: asyncpg.Connection, namespace: int, persons: Iterable[str]) -> None:
    """Transaction locks on each person, always taken in one order, so holders never deadlock."""
    await conn.fetch(_LOCK_PERSONS, namespace, sorted(set(persons)))


# --- the store -------------------------------------------------------------------------------


class Store:
    """The PostgreSQL store: open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 1, max_size: int = 4, migrate: bool = True) -> "Store":
        """A store on a new connection pool to ``dsn``, migrated unless ``migrate`` is False."""
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)
        store = cls(pool)
        if migrate:
            try:
                await store.migrate()
            except BaseException:
                await pool.close()
                raise
        return store

    async def close(self) -> None:
        """Close the pool (waits for connections in use to be released)."""
        await self._pool.close()

    def terminate(self) -> None:
        """Close every connection at once, without waiting (after the server went away)."""
        self._pool.terminate()

    async def __aenter__(self) -> "Store":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def migrate(self) -> list[int]:
        """Apply the migrations not yet applied, in order, each in its own transaction.

        Recorded in ``schema_migrations``; a session advisory lock makes concurrent runs take
        turns. Returns the versions applied by this call.
        """
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATE_LOCK)
            try:
                return await _apply_migrations(conn)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATE_LOCK)

    # --- intake ------------------------------------------------------------------------------

    async def receive_claims(self, items: list[ReceivedClaim]) -> list[Received]:
        """Record claims at first receipt; say for each whether it is new, the same, or a conflict.

        "same": received before with the same digest; "conflict": the id was used by a claim
        with another digest. Either way the snapshot returned is the one stored first.
        """
        if not items:
            return []
        first = _first_of_each(items, lambda c: c.claim_id)
        async with self._pool.acquire() as conn:
            inserted = {row["claim_id"] for row in await conn.fetch(_INSERT_CLAIMS, *_claim_columns(first))}
            rows = await conn.fetch(
                "SELECT claim_id, digest, snapshot FROM claims_received WHERE claim_id = ANY($1::text[])",
                [c.claim_id for c in first],
            )
        stored = {row["claim_id"]: row for row in rows}
        return _receipts(items, inserted, stored)

    async def identities(self, wanted: list[tuple[str, date, date]]) -> list[list[CategoryHeld]]:
        """Per ``(psn_no, begin, end)``: the categories in force on at least one day of [begin, end].

        Each with the authority and event id of the grant, ordered by code (then start).
        """
        if not wanted:
            return []
        columns = [list(column) for column in zip(*wanted)]
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_IDENTITIES, *columns)
        found: list[list[CategoryHeld]] = [[] for _ in wanted]
        for row in rows:
            found[row["ord"] - 1].append(_held(row))
        return [sorted(held, key=lambda h: (h.code.value, h.valid_from)) for held in found]

    # --- eligibility -------------------------------------------------------------------------

    async def record_changes(self, changes: list[EligibilityChange]) -> list[bool]:
        """Record eligibility changes; True for each one new (a repeated ``event_id`` changes nothing).

        The periods of every (person, category) that got a new event are recomputed from all its
        events, so the order of arrival never changes the result. A per-person transaction lock
        makes concurrent writers of one person take turns.
        """
        if not changes:
            return []
        first = _first_of_each(changes, lambda c: c.event_id)
        async with self._pool.acquire() as conn, conn.transaction():
            await _lock_persons(conn, _IDENTITY_LOCKS, (c.psn_no for c in changes))
            inserted = {row["event_id"] for row in await conn.fetch(_INSERT_EVENTS, *_event_columns(first))}
            touched = sorted({(c.psn_no, c.category.value) for c in first if c.event_id in inserted})
            if touched:
                await _recompute_periods(conn, touched)
        return _first_and_in(changes, inserted, lambda c: c.event_id)

    async def identity_history(self, psn_no: str) -> tuple[list[CategoryHeld], list[EligibilityChange]]:
        """A person's current periods (by code, start), and the events as received, in the order applied."""
        async with self._pool.acquire() as conn:
            periods = await conn.fetch(
                "SELECT category, valid_from, valid_to, authority, event_id FROM identity_periods WHERE psn_no = $1",
                psn_no,
            )
            events = await conn.fetch(
                "SELECT event_id, recorded_at, event FROM identity_events WHERE psn_no = $1", psn_no
            )
        held = sorted((_held(row) for row in periods), key=lambda h: (h.code.value, h.valid_from))
        ordered = sorted(events, key=lambda row: (row["recorded_at"], row["event_id"]))
        return held, [EligibilityChange.model_validate(row["event"]) for row in ordered]

    async def identity_as_known(self, psn_no: str, known_at: datetime) -> list[CategoryHeld]:
        """A person's periods from only the events this system had received by ``known_at``:
        what a settlement made then could have used."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT category, event_id, action, valid_from, valid_to, authority, recorded_at FROM identity_events "
                "WHERE psn_no = $1 AND received_at <= $2", psn_no, known_at,
            )
        by_category: dict[str, list[asyncpg.Record]] = {}
        for row in rows:
            by_category.setdefault(row["category"], []).append(row)
        held = [
            CategoryHeld(code=category, valid_from=p.start, valid_to=p.end, authority=p.authority, event_id=p.event_id)
            for category, events in by_category.items() for p in periods_from(events)
        ]
        return sorted(held, key=lambda h: (h.code.value, h.valid_from))

    async def holders(self, authority: str, categories: list[str], on: date) -> list[tuple[str, str]]:
        """(psn_no, category) of everyone holding one of ``categories`` from ``authority`` on ``on``."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT DISTINCT psn_no, category FROM identity_periods WHERE authority = $1 AND category = ANY($2::text[]) "
                "AND valid_from <= $3 AND (valid_to IS NULL OR valid_to >= $3) ORDER BY psn_no, category",
                authority, categories, on,
            )
        return [(row["psn_no"], row["category"]) for row in rows]

    async def years_of(self, psn_no: str) -> list[int]:
        """The years a person has totals for."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT DISTINCT year FROM year_totals WHERE psn_no = $1 ORDER BY year", psn_no)
        return [row["year"] for row in rows]

    # --- payers ------------------------------------------------------------------------------

    async def pay_batch(
        self, payer: str, work: Sequence[PayerWork], compute: Callable[[PayerWork, YearTotals], Paid]
    ) -> list[PaymentLine | None]:
        """Pay a batch of claims for ``payer`` in one transaction; one line (or None) per item.

        Per-person transaction locks make two consumers of one partition take turns. A claim
        already paid by this payer gets its recorded line back (no recompute; totals untouched).
        Each new claim, in order, gets ``compute(item, totals of its person and year)``; its line
        is recorded and its accounts merged into the totals the next claim of that person sees.
        A claim twice in one batch gets the first one's line. ``compute`` must not return
        accounts without a line: totals only ever change together with a recorded payment.
        """
        if not work:
            return []
        async with self._pool.acquire() as conn, conn.transaction():
            await _lock_persons(conn, _PAYMENT_LOCKS, (w.psn_no for w in work))
            rows = await conn.fetch(_RECORDED_LINES, payer, sorted({w.claim_id for w in work}))
            decided = {row["claim_id"]: PaymentLine.model_validate(row["line"]) for row in rows}
            totals = await _load_totals(conn, {(w.psn_no, w.year) for w in work if w.claim_id not in decided})
            batch = _PayBatch(payer, compute, decided, totals)
            lines = [batch.pay(w) for w in work]
            if batch.payments:
                await conn.executemany(_INSERT_PAYMENT, batch.payments)
            if batch.changed:
                await conn.executemany(_UPSERT_TOTALS, batch.totals_rows())
        return lines

    async def resettle(
        self, psn_no: str, grant_event_id: str, decide: Callable[[list[SettledClaim]], Resettlement]
    ) -> list[Settlement]:
        """Settle a person's claims again after a grant, once; returns adjustments still to publish.

        One transaction, the person locked as for payments: if this grant was already handled,
        nothing is recomputed; else ``decide`` gets the person's settled claims in settlement
        order (net lines, latest identity) and its adjustments, their lines and the redone
        accounts' totals are recorded together.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await _lock_persons(conn, _PAYMENT_LOCKS, [psn_no])
            if await conn.fetchval("SELECT 1 FROM resettlements WHERE grant_event_id = $1", grant_event_id):
                return await _unpublished_adjustments(conn, grant_event_id)
            decided = decide(await _settled_claims_of(conn, psn_no))
            await conn.execute("INSERT INTO resettlements (grant_event_id, psn_no, claims_changed) VALUES ($1, $2, $3)",
                               grant_event_id, psn_no, len(decided.adjustments))
            await _record_adjustments(conn, psn_no, grant_event_id, decided)
        if decided.adjustments:
            await self.record_settlements(decided.adjustments)
        return decided.adjustments

    # --- ledger ------------------------------------------------------------------------------

    async def record_settlements(self, settlements: list[Settlement]) -> list[bool]:
        """Record settlements; True for each that still needs publishing (new, or not yet published).

        The table is locked against other writers for the transaction (as the eventsourcing
        PostgreSQL recorder does), so ``seq`` order is commit order and a reader paging with
        ``after_seq`` never skips a record committed later under a smaller ``seq``.
        """
        if not settlements:
            return []
        first = _first_of_each(settlements, lambda s: s.settlement_id)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("LOCK TABLE settlements IN EXCLUSIVE MODE")
            await conn.execute(_INSERT_SETTLEMENTS, *_settlement_columns(first))
            rows = await conn.fetch(
                "SELECT settlement_id, published FROM settlements WHERE settlement_id = ANY($1::text[])",
                [s.settlement_id for s in first],
            )
        published = {row["settlement_id"]: row["published"] for row in rows}
        return [not published[s.settlement_id] for s in settlements]

    async def mark_published(self, settlement_ids: list[str]) -> None:
        """Mark settlements as published (unknown ids are ignored)."""
        if settlement_ids:
            async with self._pool.acquire() as conn:
                await conn.execute(
                    "UPDATE settlements SET published = true WHERE settlement_id = ANY($1::text[]) AND NOT published",
                    list(settlement_ids),
                )

    async def settlements(self, *, after_seq: int = 0, limit: int = 1000) -> list[tuple[int, Settlement]]:
        """Up to ``limit`` settlements with ``seq`` greater than ``after_seq``, in seq order."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT seq, record FROM settlements WHERE seq > $1 ORDER BY seq LIMIT $2", after_seq, limit
            )
        return [(row["seq"], Settlement.model_validate(row["record"])) for row in rows]

    async def record_rejection(
        self, topic: str, reason: str, original: str, partition: int | None, offset: int | None
    ) -> None:
        """Keep a rejected input with where it came from and why (NUL characters escaped: text cannot hold them)."""
        async with self._pool.acquire() as conn:
            await conn.execute(_INSERT_REJECTION, topic, reason, original.replace("\x00", "\\u0000"), partition, offset)

    # --- read side ---------------------------------------------------------------------------

    async def year_totals(self, psn_no: str, year: int) -> YearTotals:
        """A person's totals of one year, per account (empty when nothing was paid)."""
        async with self._pool.acquire() as conn:
            totals = await _load_totals(conn, {(psn_no, year)})
        return totals.get((psn_no, year), {})

    async def payments_of(self, claim_id: str) -> list[PaymentLine]:
        """The payment lines recorded for a claim, in the order they were paid."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT line FROM payments WHERE claim_id = $1 ORDER BY seq", claim_id)
        return [PaymentLine.model_validate(row["line"]) for row in rows]

    async def counts(self) -> dict[str, int]:
        """Rows in claims_received, payments, settlements, rejections and identity_events."""
        async with self._pool.acquire() as conn:
            return dict(await conn.fetchrow(_COUNTS))

    async def check_ledger(self) -> list[str]:
        """The ledger's invariant violations, in words (person numbers masked); empty when all hold.

        - every ``year_totals.paid`` equals the sum of its account's payments for that person and year
          (and no payment counts for an account without totals);
        - no payment of a non-zero amount lacks an account;
        - every settlement of kind ``settlement`` has ``fund_pay_sumamt + psn_part_amt == medfee_sumamt``;
        - at most one settlement of kind ``settlement`` per claim.
        """
        async with self._pool.acquire() as conn:
            totals = await conn.fetch(_TOTALS_VS_PAYMENTS)
            loose = await conn.fetch(_PAYMENTS_WITHOUT_ACCOUNT)
            unbalanced = await conn.fetch(_UNBALANCED_SETTLEMENTS)
            twice = await conn.fetch(_SETTLED_TWICE)
        return [
            *(f"year_totals of {_mask(r['psn_no'])} {r['year']} account {r['account']}: paid {r['paid']} "
              f"but its payments sum to {r['amount']}" for r in totals),
            *(f"payment of claim {r['claim_id']} by {r['payer']}: {r['amount']} counted in no account" for r in loose),
            *(f"settlement {r['settlement_id']}: fund_pay_sumamt {r['fund_pay_sumamt']} + psn_part_amt "
              f"{r['psn_part_amt']} != medfee_sumamt {r['medfee_sumamt']}" for r in unbalanced),
            *(f"claim {r['claim_id']} has {r['n']} settlements of kind settlement" for r in twice),
        ]


# --- helpers of the store --------------------------------------------------------------------


def _claim_columns(claims: list[ReceivedClaim]) -> list[list]:
    return [
        [c.claim_id for c in claims], [c.psn_no for c in claims], [c.digest for c in claims],
        [_json_text(c.payload) for c in claims], [_json_text(c.snapshot) for c in claims],
        [c.topic for c in claims], [c.partition for c in claims], [c.offset for c in claims],
    ]


def _receipts(items: list[ReceivedClaim], inserted: set[str], stored: dict[str, asyncpg.Record]) -> list[Received]:
    """new for the first of each inserted claim; else same or conflict by the stored digest."""
    out, seen = [], set()
    for item in items:
        row = stored[item.claim_id]
        if item.claim_id in inserted and item.claim_id not in seen:
            status = "new"
        else:
            status = "same" if item.digest == row["digest"] else "conflict"
        seen.add(item.claim_id)
        out.append(Received(status, row["snapshot"]))
    return out


def _event_columns(changes: list[EligibilityChange]) -> list[list]:
    return [
        [c.event_id for c in changes], [c.psn_no for c in changes], [c.category.value for c in changes],
        [c.action for c in changes], [c.valid_from for c in changes], [c.valid_to for c in changes],
        [c.authority.value for c in changes], [c.recorded_at for c in changes],
        [c.model_dump_json(by_alias=True) for c in changes],
    ]


def _first_and_in(items: list[Any], keys: set[str], key: Callable[[Any], str]) -> list[bool]:
    """For each item: its key is in ``keys`` and no earlier item had that key."""
    out, seen = [], set()
    for item in items:
        out.append(key(item) in keys and key(item) not in seen)
        seen.add(key(item))
    return out


async def _recompute_periods(conn: asyncpg.Connection, touched: list[tuple[str, str]]) -> None:
    """Replace the periods of the touched (person, category) pairs by those of all their events."""
    persons, categories = [p for p, _ in touched], [c for _, c in touched]
    events: dict[tuple[str, str], list[asyncpg.Record]] = {pair: [] for pair in touched}
    for row in await conn.fetch(_EVENTS_OF, persons, categories):
        events[(row["psn_no"], row["category"])].append(row)
    rows = [
        (psn_no, category, p.start, p.end, p.authority, p.event_id)
        for (psn_no, category), evs in events.items() for p in periods_from(evs)
    ]
    await conn.execute(_DELETE_PERIODS, persons, categories)
    if rows:
        await conn.executemany(_INSERT_PERIOD, rows)


async def _load_totals(conn: asyncpg.Connection, keys: set[tuple[str, int]]) -> dict[tuple[str, int], YearTotals]:
    """The year_totals rows of the (person, year) pairs, as {(psn_no, year): {account: totals}}."""
    totals: dict[tuple[str, int], YearTotals] = {key: {} for key in keys}
    if keys:
        ordered = sorted(keys)
        for row in await conn.fetch(_LOAD_TOTALS, [k[0] for k in ordered], [k[1] for k in ordered]):
            totals[(row["psn_no"], row["year"])][row["account"]] = _account_of(row)
    return totals


class _PayBatch:
    """The in-memory side of one pay_batch: decides each item, collects rows to write."""

    def __init__(
        self, payer: str, compute: Callable[[PayerWork, YearTotals], Paid],
        decided: dict[str, PaymentLine | None], totals: dict[tuple[str, int], YearTotals],
    ) -> None:
        self.payer, self.compute, self.decided, self.totals = payer, compute, decided, totals
        self.payments: list[tuple] = []
        self.changed: set[tuple[str, int, str]] = set()

    def pay(self, work: PayerWork) -> PaymentLine | None:
        """The recorded (or this batch's) line of a claim, else compute and record a new one."""
        if work.claim_id in self.decided:
            return self.decided[work.claim_id]
        person = self.totals.setdefault((work.psn_no, work.year), {})
        paid = self.compute(work, dict(person))
        if paid.line is None and paid.accounts:
            raise ValueError(f"compute returned totals without a payment line for claim {work.claim_id}")
        self.decided[work.claim_id] = paid.line
        if paid.line is not None:
            line = paid.line
            self.payments.append((work.claim_id, self.payer, work.psn_no, work.year, line.account, line.amount,
                                  line.model_dump(mode="json")))
        person.update(paid.accounts)
        self.changed.update((work.psn_no, work.year, account) for account in paid.accounts)
        return paid.line

    def totals_rows(self) -> list[tuple]:
        return [_totals_row(p, y, a, self.totals[(p, y)][a]) for p, y, a in sorted(self.changed)]


async def _settled_claims_of(conn: asyncpg.Connection, psn_no: str) -> list[SettledClaim]:
    rows = await conn.fetch(_SETTLED_CLAIMS_OF, psn_no)
    ids = [row["claim_id"] for row in rows]
    adjusted: dict[str, list[asyncpg.Record]] = {}
    for row in await conn.fetch(_ADJUSTMENT_LINES_OF, ids):
        adjusted.setdefault(row["claim_id"], []).append(row)
    identities = {row["claim_id"]: row["identity"] for row in await conn.fetch(_LATEST_ADJUSTED_IDENTITY, ids)}
    out = []
    for row in rows:
        settlement = Settlement.model_validate(row["settlement"])
        identity = identities.get(row["claim_id"], row["snapshot"]["identity"])
        out.append(SettledClaim(
            claim=DischargeClaim.model_validate(row["payload"]),
            identity=[CategoryHeld.model_validate(held) for held in identity],
            policy=settlement.policy,
            lines=_net_lines(settlement.payments, adjusted.get(row["claim_id"], [])),
        ))
    return out


def _net_lines(paid: list[PaymentLine], adjustments: list[asyncpg.Record]) -> list[PaymentLine]:
    """One line per payer, in payment order, its amount the original plus every adjustment."""
    lines = {line.payer.value: line for line in paid}
    for row in adjustments:
        line = lines.get(row["payer"]) or PaymentLine.model_validate(row["line"]).model_copy(update={"amount": Decimal(0)})
        lines[row["payer"]] = line.model_copy(update={"amount": line.amount + row["amount"]})
    return list(lines.values())


async def _record_adjustments(conn: asyncpg.Connection, psn_no: str, grant_event_id: str, decided: Resettlement) -> None:
    rows = [
        (s.settlement_id, s.claim_id, line.payer.value, s.psn_no, s.year, line.account,
         line.amount, line.model_dump(mode="json"), grant_event_id)
        for s in decided.adjustments for line in s.payments
    ]
    if rows:
        await conn.executemany(_INSERT_ADJUSTMENT, rows)
    if decided.totals:  # also when no payment changed: a yearly base may have
        await conn.executemany(_UPSERT_TOTALS, [
            _totals_row(psn_no, year, account, totals) for (year, account), totals in sorted(decided.totals.items())
        ])


async def _unpublished_adjustments(conn: asyncpg.Connection, grant_event_id: str) -> list[Settlement]:
    rows = await conn.fetch(
        """SELECT s.record FROM settlements AS s
           WHERE s.kind = 'adjustment' AND NOT s.published
             AND s.settlement_id IN (SELECT adjustment_id FROM payment_adjustments WHERE grant_event_id = $1)
           ORDER BY s.seq""", grant_event_id)
    return [Settlement.model_validate(row["record"]) for row in rows]


def _settlement_columns(settlements: list[Settlement]) -> list[list]:
    return [
        [s.settlement_id for s in settlements], [s.claim_id for s in settlements], [s.kind for s in settlements],
        [s.psn_no for s in settlements], [s.model_dump_json(by_alias=True) for s in settlements],
        [s.medfee_sumamt for s in settlements], [s.fund_pay_sumamt for s in settlements],
        [s.psn_part_amt for s in settlements],
    ]
