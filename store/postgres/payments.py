"""Payers' writes: one line per (claim, payer), in one transaction with the person's year totals."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import asyncpg

from policies.payer import Paid
from schemas.events import PaymentLine
from schemas.money import format_yuan
from schemas.totals import AccountTotals, YearTotals

from ..life import contributions_of
from ..records import PayerWork
from .connection import columns, dumps, persons_locked

_LOAD_TOTALS = """
SELECT y.psn_no, y.year, y.account, y.base, y.paid, y.paid_by_day, y.assisted_visits_by_month, y.last_seq
FROM year_totals AS y
JOIN unnest($1::text[], $2::integer[]) AS k(psn_no, year) ON y.psn_no = k.psn_no AND y.year = k.year"""

# What a payer's batch must know, in one round trip: the lines this payer already recorded for the
# batch's claims (a redelivery), and the year totals of the batch's persons.
_READ_BATCH = """
SELECT 'line' AS kind, claim_id, line, NULL AS psn_no, NULL::integer AS year, NULL AS account, NULL::numeric AS base,
       NULL::numeric AS paid, NULL::jsonb AS paid_by_day, NULL::jsonb AS assisted_visits_by_month, NULL::bigint AS last_seq
FROM payments WHERE payer = $1 AND claim_id = ANY($2::text[])
UNION ALL
SELECT 'totals', NULL, NULL, y.psn_no, y.year, y.account, y.base, y.paid, y.paid_by_day, y.assisted_visits_by_month, y.last_seq
FROM year_totals AS y
JOIN unnest($3::text[], $4::integer[]) AS k(psn_no, year) ON y.psn_no = k.psn_no AND y.year = k.year"""

_UPSERT_TOTALS_FROM = """
INSERT INTO year_totals (psn_no, year, account, base, paid, paid_by_day, assisted_visits_by_month, last_seq)
SELECT p, y, a, b, pd, convert_from(d, 'UTF8')::jsonb, convert_from(v, 'UTF8')::jsonb, s
FROM unnest(${0}::text[], ${1}::integer[], ${2}::text[], ${3}::numeric[], ${4}::numeric[], ${5}::bytea[], ${6}::bytea[],
            ${7}::bigint[]) AS x(p, y, a, b, pd, d, v, s)
ON CONFLICT (psn_no, year, account) DO UPDATE SET
    base = EXCLUDED.base, paid = EXCLUDED.paid, paid_by_day = EXCLUDED.paid_by_day,
    assisted_visits_by_month = EXCLUDED.assisted_visits_by_month, last_seq = EXCLUDED.last_seq, updated_at = now()"""

UPSERT_TOTALS = _UPSERT_TOTALS_FROM.format(*range(1, 9))

# Everything a payer's batch writes, in one round trip: its lines (in the batch's order), the
# persons' year totals, and the claims the ledger must settle by the rules flagged in their queue.
_WRITE_BATCH = """
WITH lines AS (
    INSERT INTO payments (claim_id, payer, psn_no, year, account, amount, line, contributions)
    SELECT c, p, n, y, a, m, convert_from(l, 'UTF8')::jsonb, convert_from(k, 'UTF8')::jsonb
    FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::numeric[], $7::bytea[], $8::bytea[])
        WITH ORDINALITY AS x(c, p, n, y, a, m, l, k, ord)
    ORDER BY ord
), flags AS (
    UPDATE person_queue AS q SET flagged = true FROM unnest($9::text[], $10::text[]) AS f(p, c)
    WHERE q.psn_no = f.p AND q.kind = 'claim' AND q.ref = f.c
)""" + _UPSERT_TOTALS_FROM.format(*range(11, 19))


class Payments:
    _pool: asyncpg.Pool

    async def pay_batch(
        self, payer: str, work: Sequence[PayerWork], compute: Callable[[PayerWork, YearTotals], Paid]
    ) -> list[PaymentLine | None]:
        """Pay a batch of claims for ``payer`` in one transaction; one line (or None) per item.

        Per-person transaction locks make two consumers of one partition take turns. A claim
        already paid by this payer gets its recorded line back (no recompute; totals untouched).
        Each new claim, in order, gets ``compute(item, totals of its person and year)``; its line
        is recorded with what it added to the accounts, and the accounts merged into the totals the
        next claim of that person sees. A claim twice in one batch gets the first one's line.
        A claim the ledger must settle by the rules is flagged in its person's queue: one that
        lifted its year over a qualifying line, or one an account sees after a claim received later.
        """
        if not work:
            return []
        async with persons_locked(self._pool, (w.psn_no for w in work)) as conn:
            batch = await _PayBatch.read(conn, payer, compute, work)
            lines = [batch.pay(w) for w in work]
            if batch.payments or batch.changed or batch.flagged:
                await conn.execute(_WRITE_BATCH, *columns(batch.payments, 8),
                                   [p for p, _ in batch.flagged], [c for _, c in batch.flagged],
                                   *columns(batch.totals_rows(), 8))
        return lines

    async def year_totals(self, psn_no: str, year: int) -> YearTotals:
        """A person's totals of one year, per account (empty when nothing was paid)."""
        async with self._pool.acquire() as conn:
            totals = await load_totals(conn, {(psn_no, year)})
        return totals.get((psn_no, year), {})

    async def years_of(self, psn_no: str) -> list[int]:
        """The years a person has totals for."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT DISTINCT year FROM year_totals WHERE psn_no = $1 ORDER BY year", psn_no)
        return [row["year"] for row in rows]

    async def payments_of(self, claim_id: str) -> list[PaymentLine]:
        """The payment lines recorded for a claim, in the order they were paid."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT line FROM payments WHERE claim_id = $1 ORDER BY seq", claim_id)
        return [PaymentLine.model_validate(row["line"]) for row in rows]



def _account_of(row: asyncpg.Record) -> AccountTotals:
    return AccountTotals.model_validate({
        "base": row["base"], "paid": row["paid"],
        "paid_by_day": row["paid_by_day"], "assisted_visits_by_month": row["assisted_visits_by_month"],
    })


def totals_row(psn_no: str, year: int, account: str, totals: AccountTotals, last_seq: int = 0) -> tuple:
    by_day = {day.isoformat(): format_yuan(amount) for day, amount in sorted(totals.paid_by_day.items())}
    visits = dict(sorted(totals.assisted_visits_by_month.items()))
    return psn_no, year, account, totals.base, totals.paid, dumps(by_day), dumps(visits), last_seq


async def load_totals(conn: asyncpg.Connection, keys: set[tuple[str, int]]) -> dict[tuple[str, int], YearTotals]:
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
        last: dict[tuple[str, int, str], int],
    ) -> None:
        self.payer, self.compute, self.decided, self.totals, self.last = payer, compute, decided, totals, last
        self.payments: list[tuple] = []
        self.changed: set[tuple[str, int, str]] = set()
        self.flagged: list[tuple[str, str]] = []

    @classmethod
    async def read(cls, conn: asyncpg.Connection, payer: str, compute: Callable[[PayerWork, YearTotals], Paid],
                   work: Sequence[PayerWork]) -> "_PayBatch":
        """The batch with what it must know: this payer's lines already recorded for its claims, and
        its persons' year totals (with the seq of the last claim each account counted)."""
        keys = sorted({(w.psn_no, w.year) for w in work})
        rows = await conn.fetch(_READ_BATCH, payer, sorted({w.claim_id for w in work}),
                                [k[0] for k in keys], [k[1] for k in keys])
        decided: dict[str, PaymentLine | None] = {}
        totals: dict[tuple[str, int], YearTotals] = {key: {} for key in keys}
        last: dict[tuple[str, int, str], int] = {}
        for row in rows:
            if row["kind"] == "line":
                decided[row["claim_id"]] = PaymentLine.model_validate(row["line"])
            else:
                totals[(row["psn_no"], row["year"])][row["account"]] = _account_of(row)
                last[(row["psn_no"], row["year"], row["account"])] = row["last_seq"]
        return cls(payer, compute, decided, totals, last)

    def pay(self, work: PayerWork) -> PaymentLine | None:
        """The recorded (or this batch's) line of a claim, else compute and record a new one."""
        if work.claim_id in self.decided:
            return self.decided[work.claim_id]
        person = self.totals.setdefault((work.psn_no, work.year), {})
        paid = self.compute(work, dict(person))
        if paid.line is None and paid.accounts:
            raise ValueError(f"compute returned totals without a payment line for claim {work.claim_id}")
        self.decided[work.claim_id] = paid.line
        seen_later = any(self.last.get((work.psn_no, work.year, a), 0) > work.seq for a in paid.accounts)
        if paid.reaches_back or seen_later:
            self.flagged.append((work.psn_no, work.claim_id))
        if paid.line is not None:
            line = paid.line
            added = [{"year": c.year, "account": c.account, "change": c.change.model_dump(mode="json")}
                     for c in contributions_of(work.year, person, paid.accounts)]
            self.payments.append((work.claim_id, self.payer, work.psn_no, work.year, line.account, line.amount,
                                  dumps(line.model_dump(mode="json")), dumps(added)))
        person.update(paid.accounts)
        for account in paid.accounts:
            key = (work.psn_no, work.year, account)
            self.last[key] = max(self.last.get(key, 0), work.seq)
            self.changed.add(key)
        return paid.line

    def totals_rows(self) -> list[tuple]:
        return [totals_row(p, y, a, self.totals[(p, y)][a], self.last[(p, y, a)]) for p, y, a in sorted(self.changed)]
