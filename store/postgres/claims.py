"""Intake's writes: every discharge event archived; a claim recorded once per revision, its first
receipt with the identity snapshot it travels with, and its place in its person's queue.

A claim is its person's, of its hospital, with its id (its key, schemas/ids.py): a corrected bill
corrects only the sending hospital's own claim of that person, and no hospital's claim_id stands in
another's way. A claim of a year its region has closed, of a person the close did not reach yet,
has the close put before it in the person's order. Nothing here records money: a corrected bill is
queued, and the ledger settles it once woken."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from policies.loader import NoPolicy, policy_for
from schemas.events import CategoryHeld, DischargeClaim
from schemas.totals import YearTotals, totals_json

from ..columns import content_digest, dumps, totals_of_rows
from ..reasons import another_persons, claim_named, not_received_to_correct
from ..records import LEDGER_WORKER, Arrival, ClaimReceipt, StalledClaim
from .archive import archive_all
from .closes import Close, closes_of, take_close
from .connection import Persons, columns, persons_locked
from .totals import load_totals

#: attach(claim, every period the person holds a category) -> the snapshot the claim travels with
Attach = Callable[[DischargeClaim, list[CategoryHeld]], dict]

# A batch's new claims, queue places and outcomes, in one round trip
_WRITE_ALL = """
WITH claims AS (
    INSERT INTO claims_received (claim_id, fixmedins_code, psn_no, digest, payload, snapshot, topic, "partition",
                                 "offset", revision, seq, year, region)
    SELECT c, h, p, d, convert_from(j, 'UTF8')::jsonb, convert_from(s, 'UTF8')::jsonb, t, pa, o, r, q, y, g
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bytea[], $7::text[], $8::integer[],
                $9::bigint[], $10::integer[], $11::bigint[], $12::integer[], $13::text[])
         AS x(c, h, p, d, j, s, t, pa, o, r, q, y, g)
), owners AS (
    INSERT INTO claim_owners (claim_key, psn_no) SELECT * FROM unnest($25::text[], $26::text[])
), queued AS (
    INSERT INTO person_queue (psn_no, seq, sub, kind, ref, ready, flagged)
    SELECT * FROM unnest($14::text[], $15::bigint[], $16::integer[], $17::text[], $18::text[], $19::boolean[],
                         $20::boolean[])
)
UPDATE inputs AS i SET outcome = x.outcome, reason = x.reason
FROM unnest($21::text[], $22::bigint[], $23::text[], $24::text[]) AS x(psn_no, seq, outcome, reason)
WHERE i.psn_no = x.psn_no AND i.seq = x.seq"""

# What intake must know of a batch before deciding, in one round trip ($1 and $5 the claims' persons
# and keys, $2 the persons, $3 and $4 the (person, year) pairs whose totals the claims travel with)
_KNOWN = """
SELECT
    ARRAY(SELECT ROW(c.claim_key, c.revision, c.digest, c.snapshot, c.seq, c.psn_no) FROM claims_received AS c
          JOIN unnest($1::text[], $5::text[]) AS k(psn_no, claim_key)
            ON c.psn_no = k.psn_no AND c.claim_key = k.claim_key
          ORDER BY c.claim_key, c.revision) AS revisions,
    ARRAY(SELECT ROW(claim_key, psn_no) FROM claim_owners WHERE claim_key = ANY($5::text[])) AS owners,
    ARRAY(SELECT ROW(psn_no, category, valid_from, valid_to, authority, event_id) FROM identity_periods
          WHERE psn_no = ANY($2::text[])) AS periods,
    -- a claim must be settled by the rules when anything but an unflagged claim waits before it in its person's queue
    ARRAY(SELECT DISTINCT psn_no FROM person_queue WHERE psn_no = ANY($2::text[])
          AND NOT (kind = 'claim' AND NOT flagged)) AS blocked,
    ARRAY(SELECT ROW(psn_no, region, year) FROM person_closes WHERE psn_no = ANY($2::text[])) AS taken,
    ARRAY(SELECT DISTINCT ROW(c.psn_no, c.claim_key) FROM cancellations AS c
          JOIN unnest($1::text[], $5::text[]) AS k(psn_no, claim_key)
            ON c.psn_no = k.psn_no AND c.claim_key = k.claim_key
          WHERE c.status = 'waiting') AS waited,
    ARRAY(SELECT ROW(y.psn_no, y.year, y.account, y.base, y.paid, y.paid_by_day, y.assisted_visits_by_month)
          FROM year_totals AS y JOIN unnest($3::text[], $4::integer[]) AS k(psn_no, year)
          ON y.psn_no = k.psn_no AND y.year = k.year) AS totals"""

_MATCH_WAITING = """
UPDATE cancellations SET status = 'applied'
WHERE claim_key = $1 AND psn_no = $2 AND status = 'waiting'
RETURNING cancellation_key"""


class Claims:
    _pool: asyncpg.Pool
    life: int

    async def receive_claims(self, arrivals: list[Arrival[DischargeClaim]], attach: Attach) -> list[ClaimReceipt]:
        """Archive each discharge event and say what it is: a new claim (snapshot attached, queued
        for its payers, with its year's totals as the ledger has them), the same as before, a
        corrected bill of the same hospital's claim (queued for the ledger), or refused with the
        reason. Persons are locked, so the snapshot and the claim's place in its person's order are
        taken together."""
        if not arrivals:
            return []
        while True:
            try:
                return await self._receive_claims(arrivals, attach)
            except asyncpg.UniqueViolationError as error:
                if error.constraint_name != "claim_owners_pkey":
                    raise
                # another intake took the claim id for another person meanwhile: read again, and refuse it

    async def _receive_claims(self, arrivals: list[Arrival[DischargeClaim]], attach: Attach) -> list[ClaimReceipt]:
        persons = (a.event.psn_no for a in arrivals)
        async with persons_locked(self._pool, persons, behind_region_wide=True) as locked:
            closes = await closes_of(locked.conn)
            known = await _Known.read(locked.conn, [a.event for a in arrivals], closes)
            for person, close in known.closes_owed([a.event for a in arrivals]):
                await take_close(locked, self.life, close, [person])
            places = await archive_all(locked, self.life, arrivals, "claim", [a.event.psn_no for a in arrivals])
            writes = _Writes()
            receipts = [
                await _receive(locked, arrival, place, attach, known, writes)
                for arrival, place in zip(arrivals, places)
            ]
            await writes.flush(locked.conn)
        return receipts

    async def stalled_claims(self, received_before: datetime, limit: int = 500) -> list[StalledClaim]:
        """Claims received before ``received_before`` still on their way to the ledger, oldest first,
        each with its year's totals as the ledger has them now."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_STALLED, received_before, limit, LEDGER_WORKER)
            claims = [DischargeClaim.model_validate(row["payload"]) for row in rows]
            totals = await load_totals(conn, {(c.psn_no, c.year) for c in claims})
        return [
            StalledClaim(claim, row["seq"], row["snapshot"], totals_json(totals[(claim.psn_no, claim.year)]))
            for claim, row in zip(claims, rows)
        ]


# Not a claim whose person has a message parked for a worker the claim passes through (its route's
# payers, then the ledger): sent again, it would only be parked behind that message (store/interface.py)
# an input at a place received before that was refused then: refused again, whatever has come since
# (a corrected bill refused as never received is not taken as a correction when delivered again
# after its first revision arrived)
_REFUSED_BEFORE = "SELECT reason FROM inputs WHERE psn_no = $1 AND seq = $2 AND outcome = 'rejected'"

_STALLED = """
SELECT c.payload, c.snapshot, q.seq
FROM person_queue AS q
    JOIN claims_received AS c ON c.psn_no = q.psn_no AND c.claim_key = q.ref AND c.snapshot IS NOT NULL
WHERE q.kind = 'claim' AND NOT q.ready AND c.received_at < $1
  AND NOT EXISTS (SELECT 1 FROM parked AS p WHERE p.psn_no = q.psn_no
                  AND (p.worker = $3 OR p.worker IN (SELECT jsonb_array_elements_text(c.snapshot -> 'route'))))
ORDER BY c.received_at, q.psn_no, q.seq
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
        owners = [(row[13], row[2]) for row in claims if row[9] == 0]
        if claims or queue or outcomes:
            await conn.execute(
                _WRITE_ALL,
                *columns([row[:13] for row in claims], 13),
                *columns(queue, 7),
                *columns(outcomes, 4),
                *columns(owners, 2),
            )


class _Known:
    """What intake must know of a batch's claims and persons before deciding, read in one query
    (the persons are locked, so nothing else changes it) and kept up to date as each claim of the
    batch is recorded: earlier revisions, each person's periods, who has something other than an
    unflagged claim in their queue, the closes and which of them each person has taken, the claims
    a cancellation waits for, and the year totals the claims travel with."""

    def __init__(
        self,
        revisions: dict,
        owners: dict[str, str],
        periods: dict,
        blocked: set[str],
        closes: dict[tuple[str, int], Close],
        taken: set[tuple[str, str, int]],
        waited: set[tuple[str, str]],
        totals: dict[tuple[str, int], YearTotals],
    ) -> None:
        self.revisions, self.owners, self.periods, self.blocked = revisions, owners, periods, blocked
        self.closes, self.taken, self.waited, self.totals = closes, taken, waited, totals

    @classmethod
    async def read(
        cls, conn: asyncpg.Connection, claims: list[DischargeClaim], closes: dict[tuple[str, int], Close]
    ) -> "_Known":
        years = sorted({(c.psn_no, c.year) for c in claims})
        keys = sorted({(c.psn_no, c.key) for c in claims})
        known = await conn.fetchrow(
            _KNOWN,
            [p for p, _ in keys],
            sorted({c.psn_no for c in claims}),
            [p for p, _ in years],
            [y for _, y in years],
            [k for _, k in keys],
        )
        revisions: dict[tuple[str, str], list] = {}
        for key, revision, digest, snapshot, seq, psn_no in known["revisions"]:
            revisions.setdefault((psn_no, key), []).append(
                {"revision": revision, "digest": digest, "snapshot": snapshot, "seq": seq}
            )
        periods: dict[str, list[CategoryHeld]] = {}
        for psn_no, category, valid_from, valid_to, authority, event_id in known["periods"]:
            periods.setdefault(psn_no, []).append(
                CategoryHeld(
                    code=category, valid_from=valid_from, valid_to=valid_to, authority=authority, event_id=event_id
                )
            )
        taken = {(psn_no, region, year) for psn_no, region, year in known["taken"]}
        waited = {(psn_no, key) for psn_no, key in known["waited"]}
        owners = {key: psn_no for key, psn_no in known["owners"]}
        return cls(
            revisions,
            owners,
            periods,
            set(known["blocked"]),
            closes,
            taken,
            waited,
            totals_of_rows(years, known["totals"]),
        )

    def closes_owed(self, claims: list[DischargeClaim]) -> list[tuple[str, Close]]:
        """(person, close) for each close a claim's year has had that its person has not taken: the
        close comes before the claim in the person's order (it was received before)."""
        owed = []
        for claim in claims:
            try:
                region = policy_for(claim.insuplc_admdvs, claim.enddate).region
            except NoPolicy:
                continue
            close = self.closes.get((region, claim.year))
            if close is not None and (claim.psn_no, region, claim.year) not in self.taken:
                self.taken.add((claim.psn_no, region, claim.year))
                self.blocked.add(claim.psn_no)
                owed.append((claim.psn_no, close))
        return owed

    def revisions_of(self, claim: DischargeClaim) -> list:
        return self.revisions.get((claim.psn_no, claim.key), [])

    def periods_of(self, psn_no: str) -> list[CategoryHeld]:
        """In the rules' order (by code, then start), not the database's collation: the snapshot is the rules'
        identity."""
        return sorted(self.periods.get(psn_no, []), key=lambda h: (h.code.value, h.valid_from))

    def basis_of(self, claim: DischargeClaim) -> dict:
        """The claim's year as the ledger has it now, as it travels."""
        return totals_json(self.totals.get((claim.psn_no, claim.year), {}))

    def recorded(self, claim: DischargeClaim, digest: str, snapshot: dict | None, seq: int) -> None:
        self.owners.setdefault(claim.key, claim.psn_no)
        revisions = self.revisions.setdefault((claim.psn_no, claim.key), [])
        revisions.append({"revision": claim.revision, "digest": digest, "snapshot": snapshot, "seq": seq})
        revisions.sort(key=lambda r: r["revision"])


async def _receive(
    locked: Persons,
    arrival: Arrival[DischargeClaim],
    place: tuple[int, bool],
    attach: Attach,
    known: _Known,
    writes: _Writes,
) -> ClaimReceipt:
    claim = arrival.event
    seq, new_position = place
    if not new_position:  # delivered again: it was decided when first received, and stays so
        await writes.flush(locked.conn)
        refused = await locked.conn.fetchrow(_REFUSED_BEFORE, claim.psn_no, seq)
        if refused is not None:
            return ClaimReceipt("refused", seq, reason=refused["reason"])
    digest = content_digest(claim)
    receipt = await _decide(locked.conn, claim, digest, seq, known.revisions_of(claim), arrival, attach, known, writes)
    if new_position and receipt.status not in ("new", "correction"):
        writes.outcomes.append(
            (claim.psn_no, seq, "repeat" if receipt.status == "same" else "rejected", receipt.reason)
        )
    return receipt


async def _decide(
    conn,
    claim: DischargeClaim,
    digest: str,
    seq: int,
    revisions,
    arrival,
    attach: Attach,
    known: _Known,
    writes: _Writes,
) -> ClaimReceipt:
    if not revisions:
        if known.owners.get(claim.key, claim.psn_no) != claim.psn_no:
            return ClaimReceipt("refused", seq, reason=another_persons(claim))
        if claim.revision:
            return ClaimReceipt("refused", seq, reason=not_received_to_correct(claim))
        return await _first_receipt(conn, claim, digest, seq, arrival, attach, known, writes)
    first, latest = revisions[0], revisions[-1]
    same = next((r for r in revisions if r["revision"] == claim.revision), None)
    if same is not None:
        if same["digest"] == digest:
            return ClaimReceipt("same", first["seq"], first["snapshot"], basis=known.basis_of(claim))
        return ClaimReceipt(
            "conflict",
            seq,
            reason=(
                f"{claim_named(claim)} revision {claim.revision} was already received with different "
                f"content; send a corrected bill with a revision above {latest['revision']}"
            ),
        )
    if claim.revision < latest["revision"]:
        return ClaimReceipt(
            "stale",
            seq,
            reason=(
                f"{claim_named(claim)} revision {claim.revision} arrived after revision "
                f"{latest['revision']}; it changes nothing"
            ),
        )
    await writes.flush(conn)  # a correction reads what this batch may have written of its claim
    cancelled = await conn.fetchval(
        "SELECT event_id FROM cancellations WHERE psn_no = $1 AND claim_key = $2 AND status = 'applied'",
        claim.psn_no,
        claim.key,
    )
    if cancelled is not None:
        return ClaimReceipt(
            "refused",
            seq,
            reason=(
                f"{claim_named(claim)} was cancelled by {cancelled}; a cancelled claim is not corrected "
                "— send the bill as a new claim_id"
            ),
        )
    region = first["snapshot"]["policy"]["region"] if first["snapshot"] else None
    writes.claims.append(_claim_row(claim, digest, None, region, arrival, seq))
    writes.queue.append((claim.psn_no, seq, 0, "correction", claim.key, True, False))
    known.recorded(claim, digest, None, seq)
    known.blocked.add(claim.psn_no)
    return ClaimReceipt("correction", seq)


async def _first_receipt(
    conn, claim: DischargeClaim, digest: str, seq: int, arrival, attach: Attach, known: _Known, writes: _Writes
) -> ClaimReceipt:
    snapshot = attach(claim, known.periods_of(claim.psn_no))
    region = snapshot["policy"]["region"]
    flagged = claim.psn_no in known.blocked or (claim.psn_no, region, claim.year) in known.taken
    writes.claims.append(_claim_row(claim, digest, snapshot, region, arrival, seq))
    writes.queue.append((claim.psn_no, seq, 0, "claim", claim.key, False, flagged))
    known.recorded(claim, digest, snapshot, seq)
    if flagged:
        known.blocked.add(claim.psn_no)
    if (claim.psn_no, claim.key) in known.waited:
        matched = await conn.fetch(_MATCH_WAITING, claim.key, claim.psn_no)
        for cancellation in [row["cancellation_key"] for row in matched][:1]:
            writes.queue.append((claim.psn_no, seq, 1, "cancellation", cancellation, True, False))
            known.blocked.add(claim.psn_no)
    return ClaimReceipt("new", seq, snapshot, basis=known.basis_of(claim))


def _claim_row(
    claim: DischargeClaim, digest: str, snapshot: dict | None, region: str | None, arrival: Arrival, seq: int
) -> tuple:
    return (
        claim.claim_id,
        claim.fixmedins_code or "",
        claim.psn_no,
        digest,
        dumps(claim.model_dump(mode="json", by_alias=True)),
        None if snapshot is None else dumps(snapshot),
        arrival.topic,
        arrival.partition,
        arrival.offset,
        claim.revision,
        seq,
        claim.year,
        region,
        claim.key,
    )
