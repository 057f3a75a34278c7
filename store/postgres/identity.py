"""Eligibility: every change recorded once, the periods recomputed from all events of a
(person, category) by the pure fold of policies/periods.py; and the look-ups of identities."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from policies.periods import periods_from
from schemas.events import CategoryHeld, EligibilityChange

from ..records import Arrival, InputReceipt
from .archive import archive, set_outcome
from .connection import Persons, persons_locked
from .enrollment import enrolled_of, periods_of
from .rolls import rolls_owed

_IDENTITIES = """
SELECT w.ord, i.category, i.valid_from, i.valid_to, i.authority, i.event_id
FROM unnest($1::text[], $2::date[], $3::date[]) WITH ORDINALITY AS w(psn_no, first_day, last_day, ord)
JOIN identity_periods AS i
  ON i.psn_no = w.psn_no AND i.valid_from <= w.last_day AND (i.valid_to IS NULL OR i.valid_to >= w.first_day)"""

_INSERT_EVENT = """
INSERT INTO identity_events (event_id, psn_no, category, action, valid_from, valid_to, authority, recorded_at, event,
                             input_seq)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)
ON CONFLICT (psn_no, authority, event_id) DO NOTHING
RETURNING event_id"""

# a person with claims, or whose order holds a premium roll, gets the change in their queue
_QUEUE_IF_CLAIMS = """
INSERT INTO person_queue (psn_no, seq, sub, kind, ref, ready)
SELECT $1, $2, 0, 'eligibility', $3, true
WHERE $4 OR EXISTS (SELECT 1 FROM claims_received WHERE psn_no = $1)
ON CONFLICT DO NOTHING
RETURNING psn_no"""

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


class Identity:
    _pool: asyncpg.Pool
    life: int

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

    async def record_changes(self, arrivals: list[Arrival[EligibilityChange]]) -> list[InputReceipt]:
        """Archive and record eligibility changes; an authority's repeated ``event_id`` changes nothing.

        The periods of every (person, category) that got a new event are folded again from all its
        events (policies/periods.py), so the order of arrival never changes them. A change of a
        person who has claims takes its place in that person's queue; the ledger settles their years
        again, once woken, as soon as everything received before it has taken effect.
        """
        if not arrivals:
            return []
        persons = (a.event.psn_no for a in arrivals)
        async with persons_locked(self._pool, persons, behind_region_wide=True) as locked:
            receipts, touched = [], set()
            for arrival in arrivals:
                receipt = await _record_change(locked, self.life, arrival)
                if receipt.status == "applied":
                    touched.add((arrival.event.psn_no, arrival.event.category.value))
                receipts.append(receipt)
            if touched:
                await _recompute_periods(locked.conn, sorted(touched))
        return receipts

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
                "WHERE psn_no = $1 AND received_at <= $2",
                psn_no,
                known_at,
            )
        by_category: dict[str, list[asyncpg.Record]] = {}
        for row in rows:
            by_category.setdefault(row["category"], []).append(row)
        held = [
            CategoryHeld(code=category, valid_from=p.start, valid_to=p.end, authority=p.authority, event_id=p.event_id)
            for category, events in by_category.items()
            for p in periods_from(events)
        ]
        return sorted(held, key=lambda h: (h.code.value, h.valid_from))

    async def holders(self, authority: str, categories: list[str], on: date) -> list[tuple[str, str]]:
        """(psn_no, category) of everyone holding one of ``categories`` from ``authority`` on ``on``."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT DISTINCT psn_no, category FROM identity_periods"
                " WHERE authority = $1 AND category = ANY($2::text[]) "
                "AND valid_from <= $3 AND (valid_to IS NULL OR valid_to >= $3) ORDER BY psn_no, category",
                authority,
                categories,
                on,
            )
        return [(row["psn_no"], row["category"]) for row in rows]


def _held(row: asyncpg.Record) -> CategoryHeld:
    return CategoryHeld(
        code=row["category"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        authority=row["authority"],
        event_id=row["event_id"],
    )


async def _record_change(locked: Persons, life: int, arrival: Arrival[EligibilityChange]) -> InputReceipt:
    change, conn = arrival.event, locked.conn
    has_rolls = await _rolls_first(locked, life, change)
    seq, new_position = await archive(locked, life, arrival, "eligibility", change.psn_no)
    inserted = await conn.fetchval(
        _INSERT_EVENT,
        change.event_id,
        change.psn_no,
        change.category.value,
        change.action,
        change.valid_from,
        change.valid_to,
        change.authority.value,
        change.recorded_at,
        change.model_dump(mode="json", by_alias=True),
        seq,
    )
    if inserted is None:
        known = await conn.fetchval(
            "SELECT input_seq FROM identity_events WHERE psn_no = $1 AND authority = $2 AND event_id = $3",
            change.psn_no,
            change.authority.value,
            change.event_id,
        )
        if new_position and known != seq:
            await set_outcome(locked, change.psn_no, seq, "repeat", f"event {change.event_id} was received before")
        return InputReceipt("repeat", known)
    queued = await conn.fetchval(_QUEUE_IF_CLAIMS, change.psn_no, seq, change.event_id, has_rolls)
    return InputReceipt("applied", seq, persons=(queued,) if queued else ())


async def _rolls_first(locked: Persons, life: int, change: EligibilityChange) -> bool:
    """A new grant that may make its person subsidised for a rolled year they lack gets the roll put
    before it in their order (store/postgres/rolls.py); True when the person has taken any roll."""
    conn = locked.conn
    known = await conn.fetchval(
        "SELECT 1 FROM identity_events WHERE psn_no = $1 AND authority = $2 AND event_id = $3",
        change.psn_no,
        change.authority.value,
        change.event_id,
    )
    if known is not None or change.action != "grant":
        return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM person_rolls WHERE psn_no = $1)", change.psn_no))
    granted = CategoryHeld(code=change.category, valid_from=change.valid_from, valid_to=change.valid_to)
    return await rolls_owed(
        locked,
        life,
        change.psn_no,
        [*await periods_of(conn, change.psn_no), granted],
        await enrolled_of(conn, change.psn_no),
    )


async def _recompute_periods(conn: asyncpg.Connection, touched: list[tuple[str, str]]) -> None:
    """Replace the periods of the touched (person, category) pairs by those of all their events."""
    persons, categories = [p for p, _ in touched], [c for _, c in touched]
    events: dict[tuple[str, str], list[asyncpg.Record]] = {pair: [] for pair in touched}
    for row in await conn.fetch(_EVENTS_OF, persons, categories):
        events[(row["psn_no"], row["category"])].append(row)
    rows = [
        (psn_no, category, p.start, p.end, p.authority, p.event_id)
        for (psn_no, category), evs in events.items()
        for p in periods_from(evs)
    ]
    await conn.execute(_DELETE_PERIODS, persons, categories)
    if rows:
        await conn.executemany(_INSERT_PERIOD, rows)
