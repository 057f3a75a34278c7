"""Intake's writes: every discharge event archived; a claim recorded once per revision, its first
receipt with the identity snapshot it travels with, and its place in its person's queue."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

import asyncpg
import orjson

from schemas.events import CategoryHeld, DischargeClaim

from ..records import Arrival, ClaimReceipt, Outbox, StalledClaim
from .archive import archive_all
from .connection import columns, dumps, persons_locked
from .ledger import settle_in_order

#: attach(claim, every period the person holds a category) -> the snapshot the claim travels with
Attach = Callable[[DischargeClaim, list[CategoryHeld]], dict]

# A batch's new claims, queue places and outcomes, in one round trip
_WRITE_ALL = """
WITH claims AS (
    INSERT INTO claims_received (claim_id, psn_no, digest, payload, snapshot, topic, "partition", "offset", revision, seq, year, region)
    SELECT c, p, d, convert_from(j, 'UTF8')::jsonb, convert_from(s, 'UTF8')::jsonb, t, pa, o, r, q, y, g
    FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::text[], $7::integer[], $8::bigint[],
                $9::integer[], $10::bigint[], $11::integer[], $12::text[]) AS x(c, p, d, j, s, t, pa, o, r, q, y, g)
), queued AS (
    INSERT INTO person_queue (psn_no, seq, sub, kind, ref, ready, flagged)
    SELECT * FROM unnest($13::text[], $14::bigint[], $15::integer[], $16::text[], $17::text[], $18::boolean[], $19::boolean[])
)
UPDATE inputs AS i SET outcome = x.outcome, reason = x.reason
FROM unnest($20::bigint[], $21::text[], $22::text[]) AS x(seq, outcome, reason) WHERE i.seq = x.seq"""

# What intake must know of a batch before deciding, in one round trip ($1 the claim_ids, $2 the persons)
_KNOWN = """
SELECT
    ARRAY(SELECT ROW(claim_id, revision, digest, snapshot, seq) FROM claims_received
          WHERE claim_id = ANY($1::text[]) ORDER BY claim_id, revision) AS revisions,
    ARRAY(SELECT ROW(psn_no, category, valid_from, valid_to, authority, event_id) FROM identity_periods
          WHERE psn_no = ANY($2::text[])) AS periods,
    -- a claim must be settled by the rules when anything but an unflagged claim waits before it in its person's queue
    ARRAY(SELECT DISTINCT psn_no FROM person_queue WHERE psn_no = ANY($2::text[])
          AND NOT (kind = 'claim' AND NOT flagged)) AS blocked,
    ARRAY(SELECT ROW(region, year) FROM year_closes) AS closed,
    ARRAY(SELECT DISTINCT claim_id FROM cancellations WHERE claim_id = ANY($1::text[]) AND status = 'waiting') AS waited"""

_MATCH_WAITING = """
UPDATE cancellations SET status = 'applied'
WHERE claim_id = $1 AND psn_no = $2 AND status = 'waiting' AND coalesce(event ->> 'fixmedins_code', $3, '') = coalesce($3, '')
RETURNING event_id"""


def content_digest(claim: DischargeClaim) -> str:
    """A claim's content, whatever order its fields came in: the same bill twice has one digest."""
    return hashlib.sha256(orjson.dumps(claim.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)).hexdigest()


class Claims:
    _pool: asyncpg.Pool

    async def receive_claims(self, arrivals: list[Arrival[DischargeClaim]], attach: Attach,
                             now: datetime) -> tuple[list[ClaimReceipt], Outbox]:
        """Archive each discharge event and say what it is: a new claim (snapshot attached, queued
        for its payers), the same as before, a corrected bill (settled again at once, in order), or
        refused with the reason. Persons are locked, so the snapshot and the claim's place in its
        person's order are taken together."""
        if not arrivals:
            return [], Outbox()
        async with persons_locked(self._pool, (a.event.psn_no for a in arrivals)) as conn:
            known = await _Known.read(conn, [a.event for a in arrivals])
            places = await archive_all(conn, arrivals, "claim", [a.event.psn_no for a in arrivals])
            writes = _Writes()
            receipts = [await _receive(conn, arrival, place, attach, known, writes) for arrival, place in zip(arrivals, places)]
            await writes.flush(conn)
            corrected = {a.event.psn_no for a, r in zip(arrivals, receipts) if r.status == "correction"}
            outbox = await settle_in_order(conn, corrected, now)
        return receipts, outbox

    async def stalled_claims(self, received_before: datetime, limit: int = 500) -> list[StalledClaim]:
        """Claims received before ``received_before`` still on their way to the ledger, oldest first."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_STALLED, received_before, limit)
        return [StalledClaim(DischargeClaim.model_validate(row["payload"]), row["seq"], row["snapshot"]) for row in rows]


_STALLED = """
SELECT c.payload, c.snapshot, q.seq
FROM person_queue AS q JOIN claims_received AS c ON c.claim_id = q.ref AND c.snapshot IS NOT NULL
WHERE q.kind = 'claim' AND NOT q.ready AND c.received_at < $1
  AND NOT EXISTS (SELECT 1 FROM parked AS p WHERE p.msg_key = convert_to(q.psn_no, 'UTF8'))
ORDER BY q.seq
LIMIT $2"""


class _Writes:
    """A batch's new claims, queue places and outcomes, written in one statement — before
    anything reads those tables again (``flush``) and at the end of the batch."""

    def __init__(self) -> None:
        self.claims: list[tuple] = []
        self.queue: list[tuple] = []
        self.outcomes: list[tuple] = []

    async def flush(self, conn: asyncpg.Connection) -> None:
        claims, queue, outcomes = self.claims, self.queue, self.outcomes
        self.claims, self.queue, self.outcomes = [], [], []
        if claims or queue or outcomes:
            await conn.execute(_WRITE_ALL, *columns(claims, 12), *columns(queue, 7), *columns(outcomes, 3))


class _Known:
    """What intake must know of a batch's claims and persons before deciding, read in one query
    (the persons are locked, so nothing else changes it) and kept up to date as each claim of the
    batch is recorded: earlier revisions, each person's periods, who has something other than an
    unflagged claim in their queue, the closed years, the claims a cancellation waits for."""

    def __init__(self, revisions: dict, periods: dict, blocked: set[str], closed: set[tuple[str, int]], waited: set[str]) -> None:
        self.revisions, self.periods, self.blocked, self.closed, self.waited = revisions, periods, blocked, closed, waited

    @classmethod
    async def read(cls, conn: asyncpg.Connection, claims: list[DischargeClaim]) -> "_Known":
        known = await conn.fetchrow(_KNOWN, sorted({c.claim_id for c in claims}), sorted({c.psn_no for c in claims}))
        revisions: dict[str, list] = {}
        for claim_id, revision, digest, snapshot, seq in known["revisions"]:
            revisions.setdefault(claim_id, []).append({"revision": revision, "digest": digest, "snapshot": snapshot, "seq": seq})
        periods: dict[str, list[CategoryHeld]] = {}
        for psn_no, category, valid_from, valid_to, authority, event_id in known["periods"]:
            periods.setdefault(psn_no, []).append(CategoryHeld(
                code=category, valid_from=valid_from, valid_to=valid_to, authority=authority, event_id=event_id))
        closed = {(region, year) for region, year in known["closed"]}
        return cls(revisions, periods, set(known["blocked"]), closed, set(known["waited"]))

    def periods_of(self, psn_no: str) -> list[CategoryHeld]:
        """In the rules' order (by code, then start), not the database's collation: the snapshot is the rules' identity."""
        return sorted(self.periods.get(psn_no, []), key=lambda h: (h.code.value, h.valid_from))

    def recorded(self, claim: DischargeClaim, digest: str, snapshot: dict | None, seq: int) -> None:
        self.revisions.setdefault(claim.claim_id, []).append(
            {"revision": claim.revision, "digest": digest, "snapshot": snapshot, "seq": seq})
        self.revisions[claim.claim_id].sort(key=lambda r: r["revision"])


async def _receive(conn: asyncpg.Connection, arrival: Arrival[DischargeClaim], place: tuple[int, bool], attach: Attach,
                   known: _Known, writes: _Writes) -> ClaimReceipt:
    claim = arrival.event
    seq, new_position = place
    digest = content_digest(claim)
    receipt = await _decide(conn, claim, digest, seq, known.revisions.get(claim.claim_id, []), arrival, attach, known,
                            writes)
    if new_position and receipt.status not in ("new", "correction"):
        writes.outcomes.append((seq, "repeat" if receipt.status == "same" else "rejected", receipt.reason))
    return receipt


async def _decide(conn, claim: DischargeClaim, digest: str, seq: int, revisions, arrival, attach: Attach,
                  known: _Known, writes: _Writes) -> ClaimReceipt:
    if not revisions:
        return await _first_receipt(conn, claim, digest, seq, arrival, attach, known, writes)
    first, latest = revisions[0], revisions[-1]
    same = next((r for r in revisions if r["revision"] == claim.revision), None)
    if same is not None:
        if same["digest"] == digest:
            return ClaimReceipt("same", first["seq"], first["snapshot"])
        return ClaimReceipt("conflict", seq, reason=(
            f"claim_id {claim.claim_id} revision {claim.revision} was already received with different content; "
            f"send a corrected bill with a revision above {latest['revision']}"))
    if claim.revision < latest["revision"]:
        return ClaimReceipt("stale", seq, reason=(
            f"claim {claim.claim_id} revision {claim.revision} arrived after revision {latest['revision']}; it changes nothing"))
    await writes.flush(conn)  # a correction reads what this batch may have written of its claim
    cancelled = await conn.fetchval("SELECT event_id FROM cancellations WHERE claim_id = $1 AND status = 'applied'", claim.claim_id)
    if cancelled is not None:
        return ClaimReceipt("refused", seq, reason=(
            f"claim {claim.claim_id} was cancelled by {cancelled}; a cancelled claim is not corrected — send the bill as a new claim_id"))
    owner = await conn.fetchval("SELECT psn_no FROM claims_received WHERE claim_id = $1 LIMIT 1", claim.claim_id)
    if owner != claim.psn_no:
        return ClaimReceipt("refused", seq, reason=f"claim {claim.claim_id} belongs to another person; a corrected bill keeps its psn_no")
    region = await conn.fetchval("SELECT region FROM claims_received WHERE claim_id = $1 AND snapshot IS NOT NULL", claim.claim_id)
    writes.claims.append(_claim_row(claim, digest, None, region, arrival, seq))
    writes.queue.append((claim.psn_no, seq, 0, "correction", claim.claim_id, True, False))
    known.recorded(claim, digest, None, seq)
    known.blocked.add(claim.psn_no)
    return ClaimReceipt("correction", seq)


async def _first_receipt(conn, claim: DischargeClaim, digest: str, seq: int, arrival, attach: Attach,
                         known: _Known, writes: _Writes) -> ClaimReceipt:
    snapshot = attach(claim, known.periods_of(claim.psn_no))
    region = snapshot["policy"]["region"]
    flagged = claim.psn_no in known.blocked or (region, claim.year) in known.closed
    writes.claims.append(_claim_row(claim, digest, snapshot, region, arrival, seq))
    writes.queue.append((claim.psn_no, seq, 0, "claim", claim.claim_id, False, flagged))
    known.recorded(claim, digest, snapshot, seq)
    if flagged:
        known.blocked.add(claim.psn_no)
    if claim.claim_id in known.waited:
        matched = await conn.fetch(_MATCH_WAITING, claim.claim_id, claim.psn_no, claim.fixmedins_code)
        for event_id in [row["event_id"] for row in matched][:1]:
            writes.queue.append((claim.psn_no, seq, 1, "cancellation", event_id, True, False))
            known.blocked.add(claim.psn_no)
    return ClaimReceipt("new", seq, snapshot)


def _claim_row(claim: DischargeClaim, digest: str, snapshot: dict | None, region: str | None, arrival: Arrival,
               seq: int) -> tuple:
    return (claim.claim_id, claim.psn_no, digest, dumps(claim.model_dump(mode="json", by_alias=True)),
            None if snapshot is None else dumps(snapshot), arrival.topic, arrival.partition, arrival.offset,
            claim.revision, seq, claim.year, region)
