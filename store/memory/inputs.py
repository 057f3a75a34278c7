"""Bad input kept once per place it came from, and the archive read back for audits, in memory
(store/postgres/inputs.py); parked messages are parking.py's."""

from __future__ import annotations

from ..columns import without_nul
from ..records import START, ArchivedInput, Arrival, Place
from .archive import archive
from .rows import Rejection
from .tables import Memory


class Inputs:
    _m: Memory
    life: int

    async def reject(self, arrival: Arrival, kind: str, reason: str, psn_no: str | None = None) -> bool:
        """Archive a refused input and keep it with its reason; True the first time this place is refused
        (a redelivered bad event is counted once)."""
        original = without_nul(arrival.raw.decode("utf-8", errors="backslashreplace"))
        reason = without_nul(reason)
        async with self._m.transaction() as m:
            archive(m, self.life, arrival, kind, psn_no, "rejected", reason)
            rejection_id = m.serial("rejections")
            if arrival.partition is not None and arrival.offset is not None:  # the unique place (rejections_position)
                place = (psn_no or "", self.life, arrival.topic, arrival.partition, arrival.offset)
                if place in m.t.rejection_places:
                    return False
                m.set(m.t.rejection_places, place, rejection_id)
            m.set(
                m.t.rejections,
                (psn_no or "", rejection_id),
                Rejection(
                    psn_no or "",
                    rejection_id,
                    self.life,
                    arrival.topic,
                    reason,
                    original,
                    arrival.partition,
                    arrival.offset,
                    m.now,
                ),
            )
            return True

    async def inputs(self, *, after: Place = START, limit: int = 10_000) -> list[ArchivedInput]:
        """The archive after the place ``after``: each person's inputs in the order they take effect
        (persons in order of their numbers; "", what names no one person, first)."""
        async with self._m.transaction() as m:
            rows = [row for place, row in sorted(m.t.inputs.items()) if place > after][:limit]
        return [
            ArchivedInput(
                r.seq,
                r.topic,
                r.partition,
                r.offset,
                r.raw,
                r.kind,
                r.outcome,
                r.reason,
                r.received_at,
                r.psn_no,
                r.life,
            )
            for r in rows
        ]
