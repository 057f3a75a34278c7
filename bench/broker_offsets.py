"""Does the embedded broker lose an acknowledged record, or misreport where a partition ends?

    .venv/bin/python -m bench.broker_offsets [--bursts 400] [--producers 4]

Several producers send keyed records in bursts (the workers' linger, ONESTOP_LINGER_MS, and
acks=all, as they do) to a topic of four partitions while one consumer-group member reads at the
tail (getmany, 100 ms fetch wait); then a second phase on the same partitions after a pause, as
the bench's next phase. It prints how many acknowledged records were read, any gap or repeat in
the offsets read, and each partition's end offset as the broker reports it (``end_offsets``)
against the last offset read plus one. README, Faults: what was found.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from runtime.embedded import EmbeddedBroker
from schemas.settings import settings

TOPIC, PARTITIONS, MOST_IN_A_BURST = "offsets", 4, 12


class Reader:
    """A consumer-group member at the tail: every value read, and any offset that does not follow its predecessor."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(
            TOPIC,
            bootstrap_servers=bootstrap,
            group_id="offsets",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
            max_poll_records=500,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )
        self.seen: set[bytes] = set()
        self.last: dict[int, int] = {}
        self.gaps: list[tuple[int, int, int]] = []

    async def run(self) -> None:
        while True:
            for tp, records in (await self.consumer.getmany(timeout_ms=200)).items():
                for record in records:
                    last = self.last.get(tp.partition)
                    if last is not None and record.offset != last + 1:
                        self.gaps.append((tp.partition, last, record.offset))
                    self.last[tp.partition] = record.offset
                    self.seen.add(record.value)

    async def ends(self) -> dict[int, tuple[int, int]]:
        """Per partition: (the end the broker reports, the last offset read + 1)."""
        reported = await self.consumer.end_offsets(list(self.consumer.assignment()))
        return {tp.partition: (end, self.last.get(tp.partition, -1) + 1) for tp, end in sorted(reported.items())}


async def produce(bootstrap: str, name: str, bursts: int, acked: set[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=settings.linger_ms)
    await producer.start()
    try:
        for burst in range(bursts):
            pending = []
            for i in range(random.randint(1, MOST_IN_A_BURST)):
                value = f"{name}-{burst}-{i}".encode()
                pending.append(
                    (value, await producer.send(TOPIC, value=value, key=f"k{random.randint(0, 5000)}".encode()))
                )
            for value, future in pending:
                await future
                acked.add(value)
            await asyncio.sleep(random.random() * 0.01)
    finally:
        await producer.stop()


async def read_up(reader: Reader, acked: set[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not reader.seen >= acked:
        await asyncio.sleep(0.5)


def report(phase: str, reader: Reader, acked: set[bytes], ends: dict[int, tuple[int, int]]) -> None:
    wrong = {p: e for p, e in ends.items() if e[0] != e[1]}
    print(
        f"{phase}: {len(acked)} acknowledged, {len(reader.seen & acked)} read, {len(acked - reader.seen)} never read; "
        f"offsets out of order {len(reader.gaps)} {reader.gaps[:5]}"
    )
    print(
        "  end offset reported / last read + 1, per partition: "
        + ", ".join(
            f"{p}: {reported} / {read}" + (" WRONG" if (p in wrong) else "") for p, (reported, read) in ends.items()
        )
    )


async def main(args: argparse.Namespace) -> None:
    broker = EmbeddedBroker(tempfile.mkdtemp(prefix="onestop-offsets-")).start()
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
        await admin.close()
        reader, acked = Reader(broker.bootstrap), set()
        await reader.consumer.start()
        reading = asyncio.create_task(reader.run())
        try:
            await asyncio.gather(
                *(produce(broker.bootstrap, f"p{i}", args.bursts, acked) for i in range(args.producers))
            )
            await read_up(reader, acked)
            report("first phase", reader, acked, await reader.ends())
            await produce(broker.bootstrap, "after-the-pause", args.bursts, acked)
            await read_up(reader, acked)
            report("after a pause", reader, acked, await reader.ends())
        finally:
            reading.cancel()
            await reader.consumer.stop()
    finally:
        broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.broker_offsets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bursts", type=int, default=400, help="bursts per producer (1-12 records each)")
    parser.add_argument("--producers", type=int, default=4)
    asyncio.run(main(parser.parse_args()))
