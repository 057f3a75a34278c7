"""The ledger's invariants, checked in SQL; person numbers masked in every message."""

from __future__ import annotations

import asyncpg

from schemas.personal import mask

_COUNTS = """
SELECT (SELECT count(*) FROM inputs) AS inputs,
       (SELECT count(*) FROM claims_received) AS claims_received,
       (SELECT count(*) FROM settlements) AS settlements,
       (SELECT count(*) FROM rejections) AS rejections,
       (SELECT count(*) FROM identity_events) AS identity_events,
       (SELECT count(*) FROM cancellations) AS cancellations,
       (SELECT count(*) FROM person_queue) AS queued,
       (SELECT count(*) FROM parked) AS parked"""

# A year's totals are the lines of its records: the ledger writes both, in one transaction.
_TOTALS_VS_PAYMENTS = """
WITH record_lines AS (
    SELECT s.psn_no, s.year, l ->> 'account' AS account, (l ->> 'amount')::numeric AS amount
    FROM settlements AS s, jsonb_array_elements(s.record -> 'payments') AS l
), p AS (
    SELECT psn_no, year, account, sum(amount) AS amount FROM record_lines
    WHERE account IS NOT NULL GROUP BY psn_no, year, account
)
SELECT psn_no, year, account, coalesce(y.paid, 0) AS paid, coalesce(p.amount, 0) AS amount
FROM year_totals AS y FULL JOIN p USING (psn_no, year, account)
WHERE coalesce(y.paid, 0) <> coalesce(p.amount, 0)
ORDER BY psn_no, year, account"""

_PAYMENTS_WITHOUT_ACCOUNT = """
SELECT s.claim_key AS claim_id, l ->> 'payer' AS payer, (l ->> 'amount')::numeric AS amount
FROM settlements AS s, jsonb_array_elements(s.record -> 'payments') AS l
WHERE s.kind = 'settlement' AND l ->> 'account' IS NULL AND (l ->> 'amount')::numeric <> 0 ORDER BY 1, 2"""

_UNBALANCED_SETTLEMENTS = """
SELECT settlement_id, medfee_sumamt, fund_pay_sumamt, psn_part_amt FROM settlements
WHERE fund_pay_sumamt + psn_part_amt <> medfee_sumamt ORDER BY psn_no, seq"""

_WITHOUT_A_FIRST = """
SELECT s.settlement_id FROM settlements AS s
WHERE s.kind IN ('adjustment', 'reversal') AND NOT EXISTS (
    SELECT 1 FROM settlements AS f
    WHERE f.psn_no = s.psn_no AND f.claim_key = s.claim_key AND f.kind IN ('settlement', 'year_end'))
ORDER BY s.psn_no, s.seq"""

_LINE_TWICE = """
SELECT s.settlement_id, l ->> 'payer' AS payer, count(*) AS n
FROM settlements AS s, jsonb_array_elements(s.record -> 'payments') AS l
GROUP BY s.psn_no, s.settlement_id, l ->> 'payer' HAVING count(*) > 1 ORDER BY 1, 2"""

_SETTLED_TWICE = """
SELECT claim_key AS claim_id, count(*) AS n FROM settlements WHERE kind = 'settlement'
GROUP BY claim_key HAVING count(*) > 1 ORDER BY claim_key"""


class Checks:
    _pool: asyncpg.Pool

    async def counts(self) -> dict[str, int]:
        """Rows in inputs, claims_received, settlements, rejections, identity_events, cancellations, the queue
        and parked."""
        async with self._pool.acquire() as conn:
            return dict(await conn.fetchrow(_COUNTS))

    async def check_ledger(self) -> list[str]:
        """The ledger's invariant violations, in words (person numbers masked); empty when all hold.

        - every ``year_totals.paid`` equals the lines of that person's records of the year and account
          (and no line counts for an account without totals);
        - no payment of a non-zero amount lacks an account;
        - every record has ``fund_pay_sumamt + psn_part_amt == medfee_sumamt``;
        - at most one record of kind ``settlement`` per claim, and one line per payer in a record;
        - every adjustment or reversal follows a first record (settlement or year_end) of its claim.
        """
        async with self._pool.acquire() as conn:
            totals = await conn.fetch(_TOTALS_VS_PAYMENTS)
            loose = await conn.fetch(_PAYMENTS_WITHOUT_ACCOUNT)
            unbalanced = await conn.fetch(_UNBALANCED_SETTLEMENTS)
            twice = await conn.fetch(_SETTLED_TWICE)
            lines_twice = await conn.fetch(_LINE_TWICE)
            orphans = await conn.fetch(_WITHOUT_A_FIRST)
        return [
            *(
                f"year_totals of {mask(r['psn_no'])} {r['year']} account {r['account']}: paid {r['paid']} "
                f"but its lines sum to {r['amount']}"
                for r in totals
            ),
            *(f"payment of claim {r['claim_id']} by {r['payer']}: {r['amount']} counted in no account" for r in loose),
            *(
                f"settlement {r['settlement_id']}: fund_pay_sumamt {r['fund_pay_sumamt']} + psn_part_amt "
                f"{r['psn_part_amt']} != medfee_sumamt {r['medfee_sumamt']}"
                for r in unbalanced
            ),
            *(f"claim {r['claim_id']} has {r['n']} settlements of kind settlement" for r in twice),
            *(f"record {r['settlement_id']} has {r['n']} lines of {r['payer']}" for r in lines_twice),
            *(f"record {r['settlement_id']} corrects a claim that has no first record" for r in orphans),
        ]
