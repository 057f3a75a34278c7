"""Where a message was lost: read the offset traces the workers wrote (ONESTOP_TRACE_DIR, see
workers/drivers/trace.py) and name every record the broker acknowledged to a worker that the
group reading its topic never received, with what that group did on the partition around it.

    .venv/bin/python -m bench.trace DIR [--bootstrap HOST:PORT]

With ``--bootstrap`` (the broker still running) each such record is also read again from the
broker at its acknowledged place, to tell a record the broker holds but did not hand to the group
from one it does not hold there at all."""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from workers.registry import WORKERS


@dataclass
class Traces:
    #: (topic, partition, offset) -> [(sender file, time, key)]: more than one is a place given twice
    acknowledged: dict[tuple[str, int, int], list[tuple[str, float, str]]] = field(default_factory=dict)
    #: group -> (topic, partition) -> offsets read
    read: dict[str, dict[tuple[str, int], set[int]]] = field(default_factory=dict)
    #: group -> (topic, partition) -> [(time, event, file, offset)]
    events: dict[str, dict[tuple[str, int], list[tuple[float, str, str, int]]]] = field(default_factory=dict)
    #: (file, topic, partition, offset expected, offset handed): a reader handed a later record first
    handed_ahead: list[tuple[str, str, int, int, int]] = field(default_factory=list)


def load(directory: Path) -> Traces:
    traces = Traces()
    for path in sorted(directory.glob("*.trace")):
        group = "onestop-" + path.stem.rsplit("-", 1)[0]
        read = traces.read.setdefault(group, defaultdict(set))
        events = traces.events.setdefault(group, defaultdict(list))
        last_read: dict[tuple[str, int], int] = {}
        for line in path.read_text(errors="replace").splitlines():
            at, kind, topic, partition, *rest = line.split("\t")
            place = (topic, int(partition))
            if kind == "S":
                offset, key = int(rest[0]), rest[1]
                traces.acknowledged.setdefault((topic, int(partition), offset), []).append((path.stem, float(at), key))
            elif kind == "R":
                offset = int(rest[0])
                if place in last_read and offset > last_read[place] + 1:
                    traces.handed_ahead.append((path.stem, topic, int(partition), last_read[place] + 1, offset))
                read[place].add(offset)
                last_read[place] = offset
            else:
                if kind in "AV":
                    last_read.pop(place, None)
                events[place].append((float(at), kind, path.stem, int(rest[0]) if rest else -1))
    return traces


def readers_of(topic: str, traced: set[str]) -> list[str]:
    return [
        f"onestop-{name}" for name, worker in WORKERS.items() if worker.source == topic and f"onestop-{name}" in traced
    ]


def findings(traces: Traces) -> tuple[list[dict], list[dict]]:
    """(records acknowledged and never read by a reading group, places acknowledged twice)."""
    lost, twice = [], []
    traced = set(traces.read)
    for (topic, partition, offset), senders in sorted(traces.acknowledged.items()):
        if len(senders) > 1:
            twice.append({"topic": topic, "partition": partition, "offset": offset, "senders": senders})
        for group in readers_of(topic, traced):
            if offset not in traces.read[group].get((topic, partition), set()):
                sender, at, key = senders[0]
                lost.append(
                    {
                        "topic": topic,
                        "partition": partition,
                        "offset": offset,
                        "key": key,
                        "sender": sender,
                        "acknowledged_at": at,
                        "group": group,
                        "read_around": _around(traces.read[group].get((topic, partition), set()), offset),
                        "events_around": [
                            e for e in traces.events[group].get((topic, partition), []) if abs(e[0] - at) < 30
                        ],
                    }
                )
    return lost, twice


def _around(read: set[int], offset: int) -> dict[str, int | None]:
    below = [o for o in read if o < offset]
    above = [o for o in read if o > offset]
    return {"last_read_before": max(below, default=None), "first_read_after": min(above, default=None)}


async def read_again(bootstrap: str, topic: str, partition: int, offset: int) -> str:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.security import client_options

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **client_options())
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        batch = await consumer.getmany(tp, timeout_ms=3000, max_records=1)
        records = batch.get(tp, [])
        if not records:
            return "nothing at or after it"
        r = records[0]
        return f"offset {r.offset} key {r.key!r} {len(r.value or b'')} bytes"
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--bootstrap", default=None)
    args = parser.parse_args()
    traces = load(args.directory)
    lost, twice = findings(traces)
    sends = len(traces.acknowledged)
    reads = sum(len(offsets) for group in traces.read.values() for offsets in group.values())
    print(
        f"{sends} acknowledged records, {reads} reads, {len(lost)} never read, {len(twice)} places given twice, "
        f"{len(traces.handed_ahead)} times a later record was handed first"
    )
    for ahead in traces.handed_ahead[:20]:
        print("handed ahead (reader, topic, partition, expected, handed):", ahead)
    for found in lost:
        print(found)
        if args.bootstrap:
            print(
                "  at the broker now:",
                asyncio.run(read_again(args.bootstrap, found["topic"], found["partition"], found["offset"])),
            )
    for found in twice[:20]:
        print("twice:", found)


if __name__ == "__main__":
    main()
