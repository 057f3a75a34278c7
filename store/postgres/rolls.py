"""Premium rolls (参保资助): once per region and year. A roll takes its place in the order of each person
it may subsidise — everyone insured with resident insurance in the region during the year who holds
a category the region subsidises then — archived in the person's order, remembered
(``person_rolls``) and queued; the ledger, woken, makes their premium records (policies/ledger.py).
A later grant or enrollment change of a person whose order lacks a rolled year they may now be
subsidised for gets the roll put before it (:func:`rolls_owed`): a change received after the roll
takes effect after it, so what it subsidises is due the month after (PARAMETERS.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import asyncpg

from policies.enrollment import Enrolled
from policies.premiums import may_subsidise, roll_scope
from schemas.events import CategoryHeld, PremiumRoll, Settlement

from ..reasons import rolled_before
from ..records import Arrival, InputReceipt
from .archive import archive, archive_all, set_outcome
from .connection import Persons, persons_locked


@dataclass(frozen=True)
class Roll:
    """A roll as it was received (its archive row), to be put in persons' orders."""

    event_id: str
    region: str
    year: int
    arrival: Arrival


_ROLLS = """
SELECT r.event_id, r.region, r.year, i.topic, i."partition", i."offset", i.raw
FROM premium_rolls AS r JOIN inputs AS i ON i.psn_no = '' AND i.seq = r.input_seq"""

# the persons a roll may subsidise that have not taken it: insured with resident insurance in its
# pooled city during the year, holding one of the categories it subsidises during the year
_WITHOUT_IT = """
SELECT DISTINCT e.psn_no FROM enrollment_periods AS e
WHERE e.insutype = '390' AND EXISTS (SELECT 1 FROM unnest($1::text[]) AS c WHERE starts_with(e.insuplc_admdvs, c))
  AND e.valid_from <= $3 AND (e.valid_to IS NULL OR e.valid_to >= $2)
  AND EXISTS (SELECT 1 FROM identity_periods AS i WHERE i.psn_no = e.psn_no AND i.category = ANY($6::text[])
              AND i.valid_from <= $3 AND (i.valid_to IS NULL OR i.valid_to >= $2))
  AND NOT EXISTS (SELECT 1 FROM person_rolls AS p WHERE p.psn_no = e.psn_no AND p.region = $4 AND p.year = $5)
ORDER BY e.psn_no LIMIT 5000"""

_TAKE = """
WITH taken AS (
    INSERT INTO person_rolls (psn_no, region, year, seq, event_id)
    SELECT n, $2, $3, q, $1 FROM unnest($4::text[], $5::bigint[]) AS x(n, q)
    ON CONFLICT DO NOTHING
    RETURNING psn_no, seq
)
INSERT INTO person_queue (psn_no, seq, sub, kind, ref, ready)
SELECT psn_no, seq, 0, 'roll', $1, true FROM taken"""

_INSERT_ROLL = "INSERT INTO premium_rolls (region, year, event_id, input_seq, recorded_at) VALUES ($1, $2, $3, $4, $5)"
_WAITING = "SELECT DISTINCT psn_no FROM person_queue WHERE kind = 'roll' AND ref = $1 ORDER BY psn_no"
_ROLLED = "SELECT event_id, region, year, recorded_at FROM premium_rolls ORDER BY recorded_at, event_id"

_PREMIUM_RECORDS = """
SELECT record FROM settlements WHERE kind = 'premium' AND left(claim_id, length($1)) = $1 ORDER BY psn_no, seq"""


async def rolls_of(pool_or_conn) -> dict[tuple[str, int], Roll]:
    """Every roll received, by (region, year), with its archive row."""
    rows = await pool_or_conn.fetch(_ROLLS)
    return {
        (r["region"], r["year"]): Roll(
            r["event_id"],
            r["region"],
            r["year"],
            Arrival(r["topic"], r["partition"], r["offset"], bytes(r["raw"]), None),
        )
        for r in rows
    }


async def take_roll(locked: Persons, life: int, roll: Roll, persons: Iterable[str]) -> list[str]:
    """Put ``roll`` in each of ``persons``' order, at their next place (they must be locked): archived
    there, remembered and queued."""
    persons = sorted(set(persons))
    if not persons:
        return []
    places = await archive_all(locked, life, [roll.arrival] * len(persons), "roll", list(persons))
    await locked.conn.execute(_TAKE, roll.event_id, roll.region, roll.year, persons, [seq for seq, _ in places])
    return persons


async def rolls_owed(
    locked: Persons, life: int, psn_no: str, identity: Sequence[CategoryHeld], enrolled: Sequence[Enrolled]
) -> bool:
    """Put before a person's change every rolled year they lack and may be subsidised for with it
    (``identity`` and ``enrolled``: their periods with the change); True when they have taken any
    roll (their changes then take their place in their queue)."""
    conn = locked.conn
    taken = {
        (r["region"], r["year"])
        for r in await conn.fetch("SELECT region, year FROM person_rolls WHERE psn_no = $1", psn_no)
    }
    rolls = await rolls_of(conn)
    for (region, year), roll in sorted(rolls.items()):
        if (region, year) not in taken and may_subsidise(region, year, identity, enrolled):
            await take_roll(locked, life, roll, [psn_no])
            taken.add((region, year))
    return bool(taken)


class Rolls:
    _pool: asyncpg.Pool
    life: int

    async def receive_roll(self, arrival: Arrival[PremiumRoll]) -> InputReceipt:
        """Record a roll once (rolling again changes nothing, and says when it was rolled) and put it in
        the order of every person it may subsidise; those persons are returned, each to be woken. A
        roll received again finishes putting it where a crash stopped."""
        roll = arrival.event
        async with persons_locked(self._pool, [""]) as locked:
            seq, new_position = await archive(locked, self.life, arrival, "roll", None)
            earlier = await locked.conn.fetchrow(
                "SELECT event_id, input_seq, recorded_at FROM premium_rolls WHERE region = $1 AND year = $2",
                roll.region,
                roll.year,
            )
            if earlier is None:
                await locked.conn.execute(_INSERT_ROLL, roll.region, roll.year, roll.event_id, seq, roll.recorded_at)
            elif new_position and earlier["input_seq"] != seq:
                await set_outcome(locked, "", seq, "repeat", _rolled_before(roll, earlier))
        taken = (await rolls_of(self._pool))[(roll.region, roll.year)]
        await self._roll_for_everyone(taken)
        async with self._pool.acquire() as conn:
            waiting = [r["psn_no"] for r in await conn.fetch(_WAITING, taken.event_id)]
        if earlier is None:
            return InputReceipt("applied", seq, persons=tuple(waiting))
        return InputReceipt("repeat", earlier["input_seq"], _rolled_before(roll, earlier), tuple(waiting))

    async def _roll_for_everyone(self, roll: Roll) -> list[str]:
        """Put the roll in the order of every person it may subsidise, until none is left without it."""
        places, categories = roll_scope(roll.region, roll.year)
        first, last = date(roll.year, 1, 1), date(roll.year, 12, 31)
        done: list[str] = []
        while True:
            async with self._pool.acquire() as conn:
                waiting = [
                    r["psn_no"]
                    for r in await conn.fetch(_WITHOUT_IT, places, first, last, roll.region, roll.year, categories)
                ]
            if not waiting:
                return done
            async with persons_locked(self._pool, waiting) as locked:
                still = {
                    r["psn_no"]
                    for r in await locked.conn.fetch(
                        "SELECT p AS psn_no FROM unnest($1::text[]) AS p"
                        " WHERE NOT EXISTS (SELECT 1 FROM person_rolls AS r "
                        "WHERE r.psn_no = p AND r.region = $2 AND r.year = $3)",
                        waiting,
                        roll.region,
                        roll.year,
                    )
                }
                done += await take_roll(locked, self.life, roll, [p for p in waiting if p in still])

    async def rolls(self) -> list[PremiumRoll]:
        """Every roll received (one per region and year), in the order rolled."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_ROLLED)
        return [PremiumRoll(**dict(row)) for row in rows]

    async def premium_records(self, region: str, year: int) -> list[Settlement]:
        """The premium records of a region's year (one per subsidised person), by person."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_PREMIUM_RECORDS, f"premium/{region}/{year}/")
        return [Settlement.model_validate(row["record"]) for row in rows]


def _rolled_before(roll: PremiumRoll, earlier: asyncpg.Record) -> str:
    return rolled_before(roll.region, roll.year, earlier["event_id"], earlier["recorded_at"])
