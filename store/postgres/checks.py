"""The ledger's invariants, checked in SQL; person numbers masked in every message."""
from __future__ import annotations

import asyncpg

from schemas.personal import mask

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



class Checks:
    _pool: asyncpg.Pool

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
            *(f"year_totals of {mask(r['psn_no'])} {r['year']} account {r['account']}: paid {r['paid']} "
              f"but its payments sum to {r['amount']}" for r in totals),
            *(f"payment of claim {r['claim_id']} by {r['payer']}: {r['amount']} counted in no account" for r in loose),
            *(f"settlement {r['settlement_id']}: fund_pay_sumamt {r['fund_pay_sumamt']} + psn_part_amt "
              f"{r['psn_part_amt']} != medfee_sumamt {r['medfee_sumamt']}" for r in unbalanced),
            *(f"claim {r['claim_id']} has {r['n']} settlements of kind settlement" for r in twice),
        ]
