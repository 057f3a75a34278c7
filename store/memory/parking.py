"""Parked messages in memory (store/postgres/inputs.py, parking): a message a worker could not handle,
or one waiting behind such a message of its person, kept with its headers once per worker and place
(person, life of the topics, topic, partition, offset) until it is handled — or dropped by an
operator, and then kept for good among the dropped ones with who, when and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ..columns import without_nul
from ..reasons import required_for_a_drop
from ..records import DroppedParked, Parked
from .tables import Memory


@dataclass(frozen=True)
class ParkedRow:
    """``parked``, by (psn_no, parked_id): the message, and whose it is (its key) in which life."""

    psn_no: str
    life: int
    parked_id: int
    worker: str
    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    value: bytes | None
    error: str
    parked_at: datetime
    behind: bool
    headers: tuple[tuple[str, bytes], ...]

    def parked(self) -> Parked:
        return Parked(
            self.parked_id,
            self.worker,
            self.topic,
            self.partition,
            self.offset,
            self.key,
            self.value,
            self.error,
            self.parked_at,
            self.behind,
            self.headers,
        )


class Parking:
    _m: Memory
    life: int

    async def park(
        self,
        worker: str,
        topic: str,
        partition: int | None,
        offset: int | None,
        key: bytes | None,
        value: bytes | None,
        error: str,
        behind: bool,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> int:
        """Keep a message a worker could not handle (or one waiting behind such a message of its person),
        with its headers; the same place parked again keeps its id and takes the new error."""
        psn_no = without_nul(key.decode("utf-8", errors="backslashreplace") if key is not None else "")
        error = without_nul(error)
        async with self._m.transaction() as m:
            parked_id = m.serial("parked")
            if partition is not None and offset is not None:  # the unique place (parked_position)
                place = (psn_no, worker, self.life, topic, partition, offset)
                known = m.t.parked_places.get(place)
                if known is not None:
                    m.set(m.t.parked, known, replace(m.t.parked[known], error=error))
                    return known
                m.set(m.t.parked_places, place, parked_id)
            m.set(
                m.t.parked,
                parked_id,
                ParkedRow(
                    psn_no,
                    self.life,
                    parked_id,
                    worker,
                    topic,
                    partition,
                    offset,
                    bytes(key) if key is not None else None,
                    bytes(value) if value is not None else None,
                    error,
                    m.now,
                    behind,
                    tuple((str(name), bytes(data)) for name, data in headers),
                ),
            )
            return parked_id

    async def parked_keys(self, worker: str) -> set[bytes]:
        """The message keys (persons) that have something parked for this worker."""
        async with self._m.transaction() as m:
            return {p.key for p in m.t.parked.values() if p.worker == worker and p.key is not None}

    async def parked(self, worker: str | None = None) -> list[Parked]:
        """What is parked (for one worker, or all), in the order parked."""
        async with self._m.transaction() as m:
            return [p.parked() for _, p in sorted(m.t.parked.items()) if worker is None or p.worker == worker]

    async def unpark(self, parked_id: int) -> None:
        """Forget a parked message (after it was handled)."""
        async with self._m.transaction() as m:
            row = m.t.parked.get(parked_id)
            if row is not None:
                _forget(m, row)

    async def drop_parked(self, parked_id: int, reason: str, by: str) -> DroppedParked:
        """Resolve a parked message without handling it: moved, whole, among the dropped ones with why and by whom."""
        reason, by = required_for_a_drop("a reason", reason), required_for_a_drop("the operator's name", by)
        async with self._m.transaction() as m:
            row = m.t.parked.get(parked_id)
            if row is None:
                raise LookupError(f"nothing is parked as #{parked_id} (`onestop parked` lists what is)")
            _forget(m, row)
            dropped = DroppedParked(m.serial("parked_dropped"), row.parked(), reason, by, m.now)
            m.set(m.t.dropped, dropped.dropped_id, dropped)
            return dropped

    async def dropped(self, worker: str | None = None) -> list[DroppedParked]:
        """The parked messages operators dropped (for one worker, or all), in the order dropped."""
        async with self._m.transaction() as m:
            return [d for _, d in sorted(m.t.dropped.items()) if worker is None or d.parked.worker == worker]


def _forget(m: Memory, row: ParkedRow) -> None:
    m.pop(m.t.parked, row.parked_id)
    place = (row.psn_no, row.worker, row.life, row.topic, row.partition, row.offset)
    if m.t.parked_places.get(place) == row.parked_id:
        m.pop(m.t.parked_places, place)
