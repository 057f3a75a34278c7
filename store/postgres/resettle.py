"""Re-settlement: a person's claims settled again after a grant that reaches back, once per grant;
the adjustments' lines and the redone accounts' totals written together."""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import asyncpg

from schemas.events import CategoryHeld, DischargeClaim, PaymentLine, Settlement

from ..records import Resettlement, SettledClaim
from .connection import PAYMENT_LOCKS, lock_persons
from .payments import UPSERT_TOTALS, totals_row

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



class Resettle:
    _pool: asyncpg.Pool

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
            await lock_persons(conn, PAYMENT_LOCKS, [psn_no])
            if await conn.fetchval("SELECT 1 FROM resettlements WHERE grant_event_id = $1", grant_event_id):
                return await _unpublished_adjustments(conn, grant_event_id)
            decided = decide(await _settled_claims_of(conn, psn_no))
            await conn.execute("INSERT INTO resettlements (grant_event_id, psn_no, claims_changed) VALUES ($1, $2, $3)",
                               grant_event_id, psn_no, len(decided.adjustments))
            await _record_adjustments(conn, psn_no, grant_event_id, decided)
        if decided.adjustments:
            await self.record_settlements(decided.adjustments)
        return decided.adjustments



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
        await conn.executemany(UPSERT_TOTALS, [
            totals_row(psn_no, year, account, totals) for (year, account), totals in sorted(decided.totals.items())
        ])


async def _unpublished_adjustments(conn: asyncpg.Connection, grant_event_id: str) -> list[Settlement]:
    rows = await conn.fetch(
        """SELECT s.record FROM settlements AS s
           WHERE s.kind = 'adjustment' AND NOT s.published
             AND s.settlement_id IN (SELECT adjustment_id FROM payment_adjustments WHERE grant_event_id = $1)
           ORDER BY s.seq""", grant_event_id)
    return [Settlement.model_validate(row["record"]) for row in rows]
