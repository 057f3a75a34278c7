"""A reader never passes a record it was not handed.

The embedded broker (Tansu 0.6.0, its ``memory://`` storage) gives a produced batch its offsets by
raising the partition's high watermark and only then stores the batch; a fetch from the end of the
partition in between, while another producer's later batch is already stored, is handed that later
batch, and the reader's position moves past the earlier one, stored a moment later
(`python -m bench.chaos.broker_race` shows it on the broker alone; docs/operations.md, Faults).
That was the message lost between two workers. Kafka never does this: it hands nothing past the
high watermark, which moves only once the batch is in the log.

So a reader checks that each record of a partition follows the one before it. At a gap it takes
what came before the gap, and reads the partition again from the first offset it was not handed:
the missing batch is there by then. A gap still there after ``patience`` seconds is a real one
(on Kafka: a compacted topic, a transaction's marker, records deleted by retention) and is passed,
with a warning. Pure: the caller seeks and counts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("onestop.continuity")

#: how long a gap is read again before it is taken to be real
PATIENCE = 2.0


class Record(Protocol):
    @property
    def offset(self) -> int: ...


@dataclass(frozen=True)
class Taken:
    """What to do with one partition's records from a fetch."""

    records: Sequence[Any]  # those to handle now: every record before the first gap
    read_again_from: int | None = None  # where to seek: the first offset not handed, at a gap
    passed: tuple[int, int] | None = None  # a gap given up on: [first, last] offsets never handed


@dataclass
class Continuity:
    """The next offset expected on each partition, and each open gap with the moment it was found."""

    patience: float = PATIENCE
    clock: Callable[[], float] = time.monotonic
    next_offset: dict[Hashable, int] = field(default_factory=dict)
    gaps: dict[Hashable, tuple[int, int, float]] = field(default_factory=dict)

    def expect(self, partition: Hashable, offset: int) -> None:
        """The partition's reading starts at ``offset`` (its group's commit, or where it was sought)."""
        self.next_offset[partition] = offset
        self.gaps.pop(partition, None)

    def knows(self, partition: Hashable) -> bool:
        return partition in self.next_offset

    def forget(self, partitions: Any) -> None:
        for partition in partitions:
            self.next_offset.pop(partition, None)
            self.gaps.pop(partition, None)

    def take(self, partition: Hashable, records: Sequence[Record]) -> Taken:
        if not records:  # nothing handed says nothing of an open gap: its patience runs on
            return Taken(records)
        expected = self.next_offset.get(partition)
        passed = None
        for i, record in enumerate(records):
            if expected is not None and record.offset > expected:
                if self._still_waiting(partition, expected, record.offset):
                    self.next_offset[partition] = expected
                    return Taken(records[:i], read_again_from=expected, passed=passed)
                passed = (expected, record.offset - 1)
            expected = record.offset + 1
        if expected is not None:
            self.next_offset[partition] = expected
        self.gaps.pop(partition, None)  # the missing batch came (or was passed)
        return Taken(records, passed=passed)

    def _still_waiting(self, partition: Hashable, first_missing: int, handed: int) -> bool:
        now = self.clock()
        at, was_handed, since = self.gaps.get(partition, (None, None, now))
        if (at, was_handed) != (first_missing, handed):
            self.gaps[partition] = (first_missing, handed, now)
            log.info(
                "%s: handed offset %d before %d: reading again from %d", partition, handed, first_missing, first_missing
            )
            return True
        if now - since < self.patience:
            return True
        del self.gaps[partition]
        log.warning(
            "%s: offsets %d to %d were never handed in %.1f s: passed",
            partition,
            first_missing,
            handed - 1,
            self.patience,
        )
        return False
