"""The archive: every input as received — raw bytes, topic, partition, offset, time — accepted or
not, once per place it came from. Its ``seq`` is the order inputs take effect in (store/life.py)."""
from __future__ import annotations

import hashlib

import asyncpg

from ..records import Arrival

_ARCHIVE = """
INSERT INTO inputs (topic, "partition", "offset", digest, raw, psn_no, kind, outcome, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (topic, "partition", "offset", digest) WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL DO NOTHING
RETURNING seq"""

_ARCHIVED = """
SELECT seq, outcome, reason FROM inputs
WHERE topic = $1 AND "partition" = $2 AND "offset" = $3 AND digest = $4"""


_ARCHIVE_ALL = """
INSERT INTO inputs (topic, "partition", "offset", digest, raw, psn_no, kind, outcome)
SELECT t, p, o, d, r, n, $7, 'accepted'
FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::text[], $5::bytea[], $6::text[]) WITH ORDINALITY AS x(t, p, o, d, r, n, ord)
ORDER BY ord
ON CONFLICT (topic, "partition", "offset", digest) WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL DO NOTHING
RETURNING seq, topic, "partition", "offset", digest"""

_ARCHIVED_ALL = """
SELECT i.seq, i.topic, i."partition", i."offset", i.digest FROM inputs AS i
JOIN unnest($1::text[], $2::integer[], $3::bigint[], $4::text[]) AS x(t, p, o, d)
  ON i.topic = x.t AND i."partition" = x.p AND i."offset" = x.o AND i.digest = x.d"""


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


async def archive(conn: asyncpg.Connection, arrival: Arrival, kind: str, psn_no: str | None,
                  outcome: str = "accepted", reason: str | None = None) -> tuple[int, bool]:
    """(seq, new): the input's place in the archive; an input delivered again keeps its first place."""
    fingerprint = digest(arrival.raw)
    seq = await conn.fetchval(_ARCHIVE, arrival.topic, arrival.partition, arrival.offset, fingerprint, arrival.raw,
                              psn_no, kind, outcome, reason)
    if seq is not None:
        return seq, True
    row = await conn.fetchrow(_ARCHIVED, arrival.topic, arrival.partition, arrival.offset, fingerprint)
    return row["seq"], False


async def archive_all(conn: asyncpg.Connection, arrivals: list[Arrival], kind: str,
                      psn_nos: list[str | None]) -> list[tuple[int, bool]]:
    """``archive`` for a batch, accepted, in two statements at most: the places in the order given
    (the batch's order is the order its inputs take effect), each (seq, new) as ``archive`` says."""
    if any(a.partition is None or a.offset is None for a in arrivals):  # no place to find them by: one by one
        return [await archive(conn, a, kind, psn_no) for a, psn_no in zip(arrivals, psn_nos)]
    places = [(a.topic, a.partition, a.offset, digest(a.raw)) for a in arrivals]
    columns = [list(column) for column in zip(*places)] if places else [[], [], [], []]
    rows = await conn.fetch(_ARCHIVE_ALL, *columns, [a.raw for a in arrivals], psn_nos, kind)
    new = {(r["topic"], r["partition"], r["offset"], r["digest"]): r["seq"] for r in rows}
    known = {}
    if len(rows) < len(places):
        known = {(r["topic"], r["partition"], r["offset"], r["digest"]): r["seq"]
                 for r in await conn.fetch(_ARCHIVED_ALL, *columns)}
    out, taken = [], set()
    for place in places:
        first = place in new and place not in taken  # the same place twice in a batch: its first is the new one
        taken.add(place)
        out.append((new[place], True) if first else (known.get(place) or new[place], False))
    return out


async def set_outcome(conn: asyncpg.Connection, seq: int, outcome: str, reason: str | None = None) -> None:
    await conn.execute("UPDATE inputs SET outcome = $2, reason = $3 WHERE seq = $1", seq, outcome, reason)
