"""The embedded broker hands a reader at the end of a partition a later record before an earlier
one is stored, and the reader never sees the earlier one: `python -m bench.chaos.broker_race`.

Tansu 0.6.0's storage (tansu-storage/src/dynostore.rs, used for its ``memory://`` storage) takes a
produced batch's offsets by raising the partition's high watermark, and only then stores the batch.
A fetch in between, from a reader at the end of the partition, sees the new high watermark, lists
the batches stored below it — another producer's later batch already among them, this one's not
yet — and returns the batches from its fetch offset on: the later one. The reader's position moves
past the earlier batch, which is stored a moment later, at offsets the reader has passed. Kafka
does not do this (a fetch returns nothing past the high watermark, which moves only once the batch
is in the log).

This starts a Tansu of its own, has several producers send one-record batches to a single
partition as fast as each is acknowledged, and a plain consumer (no group) read them live with short
fetch waits, noting every time a record's offset is not the one after the last record it read; a
second reader does the same through streams/continuity.py, as the workers read. Then it reads the
partition again from the start: a skipped offset that is there is a record a live reader was never
handed. ``--burn`` starts busy processes beside it (the pipeline's machine is busy:
the broker's tasks wait for a core between the two steps, which widens the window)."""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import time
from pathlib import Path

import click
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from runtime.embedded import EmbeddedBroker
from streams.admin import create_topics
from streams.continuity import Continuity

TOPIC = "race"
PLACE = TopicPartition(TOPIC, 0)


async def race_into(kafka: str, topic: str, producers: int, seconds: float) -> int:
    """``producers`` producers, each its own connection, send one-record batches to partition 0 of
    ``topic`` for ``seconds``, each as soon as the one before was acknowledged: how many were sent."""
    until = time.monotonic() + seconds

    async def produce() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=0)
        await producer.start()
        sent = 0
        try:
            while time.monotonic() < until:
                await (await producer.send(topic, value=b"x" * 200, key=b"same-person", partition=0))
                sent += 1
            return sent
        finally:
            await producer.stop()

    return sum(await asyncio.gather(*(produce() for _ in range(producers))))


async def _read_live(kafka: str, until: float, guarded: bool) -> tuple[list[tuple[int, int]], int, int]:
    """Reads at the end of the partition until ``until``: ([(expected offset, offset handed)], records
    read, times read again). ``guarded``: as the workers read, through streams/continuity.py."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False, fetch_max_wait_ms=5)
    await consumer.start()
    skips, read, expected, again = [], 0, 0, 0
    continuity = Continuity()
    continuity.expect(PLACE, 0)
    try:
        consumer.assign([PLACE])
        consumer.seek(PLACE, 0)
        last_read = time.monotonic()
        while time.monotonic() < until or time.monotonic() - last_read < 2:
            records = (await consumer.getmany(timeout_ms=100)).get(PLACE, [])
            if records:
                last_read = time.monotonic()
            if guarded:
                taken = continuity.take(PLACE, records)
                if taken.read_again_from is not None:
                    consumer.seek(PLACE, taken.read_again_from)
                    again += 1
                records = list(taken.records)
            for record in records:
                if record.offset != expected:  # (an offset below it would be a record read twice)
                    skips.append((expected, record.offset))
                expected, read = record.offset + 1, read + 1
        return skips, read, again
    finally:
        await consumer.stop()


async def offsets_stored(kafka: str, topic: str) -> list[int]:
    """Every offset of partition 0 of ``topic``, read from the start once the sends are over."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        place = TopicPartition(topic, 0)
        consumer.assign([place])
        consumer.seek(place, 0)
        offsets: list[int] = []
        quiet = time.monotonic()
        while time.monotonic() - quiet < 2:
            for record in (await consumer.getmany(timeout_ms=300)).get(place, []):
                offsets.append(record.offset)
                quiet = time.monotonic()
        return offsets
    finally:
        await consumer.stop()


async def race(kafka: str, producers: int, seconds: float) -> str:
    await create_topics(kafka, [TOPIC], 1, config={})
    until = time.monotonic() + seconds
    readers = [asyncio.create_task(_read_live(kafka, until, guarded)) for guarded in (False, True)]
    sent = await race_into(kafka, TOPIC, producers, seconds)
    (skips, read, _), (guarded_skips, guarded_read, again) = await asyncio.gather(*readers)
    stored = set(await offsets_stored(kafka, TOPIC))
    return (
        f"{sent} records acknowledged by {producers} producers in {seconds:.0f} s, {len(stored)} stored; "
        f"a plain reader read {read} and {_passed(skips, stored)}; a reader through streams/continuity.py "
        f"read {guarded_read}, read again {again} times and {_passed(guarded_skips, stored)}"
    )


def _passed(skips: list[tuple[int, int]], stored: set[int]) -> str:
    passed = [offset for expected, handed in skips for offset in range(expected, handed) if offset in stored]
    twice = sum(handed < expected for expected, handed in skips)
    return (
        f"passed {len(passed)} stored records it never read"
        + (f" (offsets {passed[:10]})" if passed else "")
        + (f", went back {twice} times to records it had read" if twice else "")
    )


def _burn(until: float) -> None:
    while time.monotonic() < until:
        pass


@click.command()
@click.option("--producers", default=8, show_default=True)
@click.option("--seconds", default=20.0, show_default=True)
@click.option("--runs", default=1, show_default=True)
@click.option("--burn", default=0, show_default=True, help="busy processes beside the broker")
def main(producers: int, seconds: float, runs: int, burn: int) -> None:
    for _ in range(runs):
        broker = EmbeddedBroker(Path(tempfile.mkdtemp(prefix="onestop-race-"))).start()
        burners = [multiprocessing.Process(target=_burn, args=(time.monotonic() + seconds,)) for _ in range(burn)]
        try:
            for burner in burners:
                burner.start()
            click.echo(asyncio.run(race(broker.bootstrap, producers, seconds)))
        finally:
            for burner in burners:
                burner.join()
            broker.stop()


if __name__ == "__main__":
    main()
