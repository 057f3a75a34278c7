"""The archive: every input as received — raw bytes, topic, partition, offset, time — accepted or
not, once per place it came from. An input takes its person's next ``seq`` (their order: the order
inputs take effect in, store/life.py); one that names no person is the person "". A place is
(person, life of the topics, topic, partition, offset, digest): the same bytes at the same place
are the same input delivered again, and keep their first place."""

from __future__ import annotations

from ..columns import digest
from ..records import Arrival
from .connection import Persons

_ARCHIVE_ALL = """
INSERT INTO inputs (psn_no, seq, life, topic, "partition", "offset", digest, raw, kind, outcome, reason)
SELECT n, q, $1, t, p, o, d, r, $9, x.outcome, x.reason
FROM unnest($2::text[], $3::bigint[], $4::text[], $5::integer[], $6::bigint[], $7::text[], $8::bytea[],
            $10::text[], $11::text[])
    WITH ORDINALITY AS x(n, q, t, p, o, d, r, outcome, reason, ord)
ORDER BY ord
ON CONFLICT (psn_no, life, topic, "partition", "offset", digest) WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL
DO NOTHING
RETURNING psn_no, seq"""

_ARCHIVED_ALL = """
SELECT i.psn_no, i.seq, i.topic, i."partition", i."offset", i.digest FROM inputs AS i
JOIN unnest($2::text[], $3::text[], $4::integer[], $5::bigint[], $6::text[]) AS x(n, t, p, o, d)
  ON i.psn_no = x.n AND i.life = $1 AND i.topic = x.t AND i."partition" = x.p AND i."offset" = x.o AND i.digest = x.d"""


async def archive(
    locked: Persons,
    life: int,
    arrival: Arrival,
    kind: str,
    psn_no: str | None,
    outcome: str = "accepted",
    reason: str | None = None,
) -> tuple[int, bool]:
    """(seq, new): the input's place in its person's order; an input delivered again keeps its first place."""
    [place] = await archive_all(locked, life, [arrival], kind, [psn_no], [(outcome, reason)])
    return place


async def archive_all(
    locked: Persons,
    life: int,
    arrivals: list[Arrival],
    kind: str,
    psn_nos: list[str | None],
    outcomes: list[tuple[str, str | None]] | None = None,
) -> list[tuple[int, bool]]:
    """``archive`` for a batch, in two statements at most: the places in the order given (the batch's
    order is the order its inputs take effect), each (seq, new) as ``archive`` says. The persons must be
    locked by the caller."""
    persons = [p or "" for p in psn_nos]
    outcomes = outcomes or [("accepted", None)] * len(arrivals)
    places = [(p, a.topic, a.partition, a.offset, digest(a.raw)) for p, a in zip(persons, arrivals)]
    seqs = [locked.next_seq(p) for p in persons]
    rows = await locked.conn.fetch(
        _ARCHIVE_ALL,
        life,
        persons,
        seqs,
        [a.topic for a in arrivals],
        [a.partition for a in arrivals],
        [a.offset for a in arrivals],
        [p[4] for p in places],
        [a.raw for a in arrivals],
        kind,
        [o for o, _ in outcomes],
        [r for _, r in outcomes],
    )
    new = {(row["psn_no"], row["seq"]) for row in rows}
    known = {}
    if len(rows) < len(places):
        columns = [list(column) for column in zip(*places)]
        known = {
            (r["psn_no"], r["topic"], r["partition"], r["offset"], r["digest"]): r["seq"]
            for r in await locked.conn.fetch(_ARCHIVED_ALL, life, *columns)
        }
    out = []
    for place, seq in zip(places, seqs):
        out.append((seq, True) if (place[0], seq) in new else (known[place], False))
    return out


async def set_outcome(locked: Persons, psn_no: str | None, seq: int, outcome: str, reason: str | None = None) -> None:
    await locked.conn.execute(
        "UPDATE inputs SET outcome = $3, reason = $4 WHERE psn_no = $1 AND seq = $2", psn_no or "", seq, outcome, reason
    )
