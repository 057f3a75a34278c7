"""The ledger's invariants in memory (store/postgres/checks.py): the same checks, in the same order
and words, person numbers masked in every message."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from schemas.personal import mask

from .rows import Record, loads
from .tables import Memory


class Checks:
    _m: Memory

    async def counts(self) -> dict[str, int]:
        """How many inputs, claims received, records, rejections, events, cancellations, queued, parked."""
        async with self._m.transaction() as m:
            t = m.t
            return {
                "inputs": len(t.inputs),
                "claims_received": sum(len(b) for b in t.claims.values()),
                "settlements": len(t.records),
                "rejections": len(t.rejections),
                "identity_events": len(t.changes),
                "cancellations": len(t.cancellations),
                "queued": sum(len(q) for q in t.queue.values()),
                "parked": len(t.parked),
            }

    async def check_ledger(self) -> list[str]:
        """The ledger's invariant violations, in words (person numbers masked); empty when all hold —
        the same invariants, in the same order and words, as the PostgreSQL store's checks."""
        async with self._m.transaction() as m:
            records = sorted(m.t.records.values(), key=lambda r: (r.psn_no, r.seq))
            documents = [(r, loads(r.record)) for r in records]
            totals = {key: row.paid for key, row in m.t.totals.items()}
        return [
            *_totals_against_lines(documents, totals),
            *_loose_payments(documents),
            *_unbalanced(records),
            *_settled_twice(records),
            *_lines_twice(documents),
            *_without_a_first(records),
        ]


def _totals_against_lines(documents: list[tuple[Record, dict]], totals: dict[tuple, Decimal]) -> list[str]:
    """Every year's totals are the lines of its records (and no line counts for an account without totals)."""
    lines: dict[tuple, Decimal] = {}
    for record, document in documents:
        for line in document.get("payments") or ():
            if line.get("account") is not None:
                key = (record.psn_no, record.year, line["account"])
                lines[key] = lines.get(key, Decimal(0)) + Decimal(line["amount"])
    out = []
    for key in sorted(set(totals) | set(lines), key=lambda k: (k[0], k[1] is None, k[1] or 0, k[2])):
        paid, amount = totals.get(key, Decimal(0)), lines.get(key, Decimal(0))
        if paid != amount:
            out.append(
                f"year_totals of {mask(key[0])} {key[1]} account {key[2]}: paid {paid} but its lines sum to {amount}"
            )
    return out


def _loose_payments(documents: list[tuple[Record, dict]]) -> list[str]:
    loose = sorted(
        (record.key, line.get("payer"), Decimal(line["amount"]))
        for record, document in documents
        if record.kind == "settlement"
        for line in document.get("payments") or ()
        if line.get("account") is None and Decimal(line["amount"]) != 0
    )
    return [f"payment of claim {claim} by {payer}: {amount} counted in no account" for claim, payer, amount in loose]


def _unbalanced(records: list[Record]) -> list[str]:
    return [
        f"settlement {r.settlement_id}: fund_pay_sumamt {r.fund_pay_sumamt} + psn_part_amt {r.psn_part_amt} "
        f"!= medfee_sumamt {r.medfee_sumamt}"
        for r in records
        if r.fund_pay_sumamt + r.psn_part_amt != r.medfee_sumamt
    ]


def _settled_twice(records: list[Record]) -> list[str]:
    settlements = Counter(r.key for r in records if r.kind == "settlement")
    return [
        f"claim {claim_id} has {n} settlements of kind settlement"
        for claim_id, n in sorted(settlements.items())
        if n > 1
    ]


def _lines_twice(documents: list[tuple[Record, dict]]) -> list[str]:
    twice = sorted(
        (record.settlement_id, payer, n)
        for record, document in documents
        for payer, n in Counter(line.get("payer") for line in document.get("payments") or ()).items()
        if n > 1
    )
    return [f"record {settlement_id} has {n} lines of {payer}" for settlement_id, payer, n in twice]


def _without_a_first(records: list[Record]) -> list[str]:
    """Every adjustment or reversal follows a first record (settlement or year_end) of its person's claim."""
    firsts = {(r.psn_no, r.key) for r in records if r.kind in ("settlement", "year_end")}
    return [
        f"record {r.settlement_id} corrects a claim that has no first record"
        for r in records
        if r.kind in ("adjustment", "reversal") and (r.psn_no, r.key) not in firsts
    ]
