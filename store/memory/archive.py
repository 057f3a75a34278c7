"""The archive in memory (store/postgres/archive.py): every input as received, accepted or not, once
per place it came from, at its person's next ``seq`` (the person "" when it names no one person). A
place is (person, life of the topics, topic, partition, offset, digest): the same bytes at the same
place are the same input delivered again, and keep their first place."""

from __future__ import annotations

from dataclasses import replace

from ..columns import digest
from ..records import Arrival
from .rows import Archived
from .tables import Memory

#: inputs.kind's CHECK
KINDS = ("claim", "cancellation", "eligibility", "close", "other", "enrollment", "roll")


def archive(
    m: Memory,
    life: int,
    arrival: Arrival,
    kind: str,
    psn_no: str | None,
    outcome: str = "accepted",
    reason: str | None = None,
) -> tuple[int, bool]:
    """(seq, new): the input's place in its person's order; an input delivered again keeps its first place."""
    [place] = archive_all(m, life, [arrival], kind, [psn_no], [(outcome, reason)])
    return place


def archive_all(
    m: Memory,
    life: int,
    arrivals: list[Arrival],
    kind: str,
    psn_nos: list[str | None],
    outcomes: list[tuple[str, str | None]] | None = None,
) -> list[tuple[int, bool]]:
    """``archive`` for a batch: each input takes its person's next seq, in the order given (also one
    delivered again, which keeps its first place), then the new ones are inserted."""
    persons = [p or "" for p in psn_nos]
    outcomes = outcomes or [("accepted", None)] * len(arrivals)
    seqs = [m.next_seq(p) for p in persons]
    if kind not in KINDS:
        raise ValueError(f"an input of kind {kind!r} violates the check on inputs.kind: one of {', '.join(KINDS)}")
    return [
        _insert(m, life, arrival, kind, psn_no, seq, outcome)
        for arrival, psn_no, seq, outcome in zip(arrivals, persons, seqs, outcomes)
    ]


def _insert(
    m: Memory, life: int, arrival: Arrival, kind: str, psn_no: str, seq: int, outcome: tuple[str, str | None]
) -> tuple[int, bool]:
    hashed = digest(arrival.raw)
    if arrival.partition is not None and arrival.offset is not None:  # the unique place (inputs_position)
        place = (psn_no, life, arrival.topic, arrival.partition, arrival.offset, hashed)
        known = m.t.input_places.get(place)
        if known is not None:
            return known, False
        m.set(m.t.input_places, place, seq)
    m.set(
        m.t.inputs,
        (psn_no, seq),
        Archived(
            psn_no,
            seq,
            life,
            arrival.topic,
            arrival.partition,
            arrival.offset,
            hashed,
            bytes(arrival.raw),
            kind,
            outcome[0],
            outcome[1],
            m.now,
        ),
    )
    return seq, True


def set_outcome(m: Memory, psn_no: str | None, seq: int, outcome: str, reason: str | None = None) -> None:
    row = m.t.inputs.get((psn_no or "", seq))
    if row is not None:
        m.set(m.t.inputs, (row.psn_no, seq), replace(row, outcome=outcome, reason=reason))
