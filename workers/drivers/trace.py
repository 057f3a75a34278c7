"""A trace of every offset a worker's driver reads, sends and commits, for finding where a message
was lost between two workers (docs/operations.md, Faults): set ONESTOP_TRACE_DIR and each worker
writes ``<dir>/<worker>-<pid>.trace``; ``python -m bench.trace DIR`` then names every record the
broker acknowledged to a sender that the reading group never received.

One line per event, tab-separated: seconds since the epoch, then
``R topic partition offset key`` (read), ``S topic partition offset key`` (acknowledged to this
sender), ``C topic partition offset`` (committed), ``A``/``V topic partition`` (assigned/revoked)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO, Any

from schemas.settings import settings


class OffsetTrace:
    def __init__(self, out: IO[str] | None) -> None:
        self.out = out

    @classmethod
    def for_worker(cls, worker: str) -> OffsetTrace:
        directory = settings.trace_dir
        if not directory:
            return cls(None)
        Path(directory).mkdir(parents=True, exist_ok=True)
        return cls(open(Path(directory) / f"{worker}-{os.getpid()}.trace", "a", buffering=1 << 16))

    def _line(self, *fields: object) -> None:
        if self.out is not None:
            self.out.write("\t".join([f"{time.time():.3f}", *map(str, fields)]) + "\n")

    def received(self, records: dict[Any, list[Any]]) -> None:
        if self.out is not None:
            for rs in records.values():
                for r in rs:
                    self._line("R", r.topic, r.partition, r.offset, _text(r.key))

    def acknowledged(self, ack: Any, key: bytes | None) -> None:
        """A send's future, done: its record's place, when the broker acknowledged it."""
        if not ack.cancelled() and ack.exception() is None:
            metadata = ack.result()
            self._line("S", metadata.topic, metadata.partition, metadata.offset, _text(key))

    def committed(self, offsets: dict[Any, int]) -> None:
        for tp, offset in offsets.items():
            self._line("C", tp.topic, tp.partition, offset)

    def moved(self, what: str, partitions: Any) -> None:
        for tp in partitions:
            self._line(what, tp.topic, tp.partition)

    def close(self) -> None:
        if self.out is not None:
            self.out.close()


def _text(key: bytes | None) -> str:
    return "" if key is None else key.decode(errors="replace")
