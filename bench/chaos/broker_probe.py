"""Does the embedded broker alone lose an acknowledged record? `python -m bench.chaos.broker_probe`
starts a Tansu of its own, has several producers (each its own connection, acks=all, 5 ms linger:
multi-record batches) send keyed records to the same four partitions while a consumer group reads
them live in small fetches and commits, as the workers do; then reads the topic again from the
start. It prints how many acknowledged records the live reader and the second reading missed,
whether two acknowledged records were given the same place, and the broker's end offsets against
the last acknowledged offset + 1 (issue 28 item 4: the message lost between two workers). With
``--members 2`` a second reader joins the group, leaves after a few seconds and joins again, so that
partitions move between the two while the records come, as between two ledger instances."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

import click
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from runtime.embedded import EmbeddedBroker
from streams.admin import create_topics

TOPIC, PARTITIONS = "probe", 4
#: a reader stops after this long without a record once the sends are over: longer than a rebalance
QUIET = 20.0
Acked = tuple[int, int, str]  # (partition, offset, value)


async def _produce(kafka: str, producer_number: int, records: int, pause: float) -> list[Acked]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=5)
    await producer.start()
    try:
        sent = []
        for i in range(records):
            value = f"{producer_number}-{i}"
            sent.append((value, await producer.send(TOPIC, value=value.encode(), key=f"k{i % 97}".encode())))
            if i % 500 == 0:
                await asyncio.sleep(pause)  # bursts, as a payer's batches
        return [(meta.partition, meta.offset, value) for value, meta in [(v, await f) for v, f in sent]]
    finally:
        await producer.stop()


async def _read_live(kafka: str, got: dict[str, tuple[int, int]], stop: asyncio.Event, leave_after: float = 0) -> None:
    """A member of the group "probe", as a worker reads: small fetches, each fetch's offsets committed
    once it is taken; with ``leave_after``, it stops that long after starting (the group rebalances)."""
    began = time.monotonic()
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=kafka,
        group_id="probe",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4096,
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:
        quiet = time.monotonic()
        while not stop.is_set() or time.monotonic() - quiet < QUIET:
            if leave_after and time.monotonic() - began > leave_after:
                return
            fetched = await consumer.getmany(timeout_ms=200)
            for tp, records in fetched.items():
                for record in records:
                    got[record.value.decode()] = (tp.partition, record.offset)
                    quiet = time.monotonic()
            if fetched:
                await consumer.commit()
    finally:
        await consumer.stop()


async def _read_again(kafka: str) -> tuple[dict[str, tuple[int, int]], dict[int, int]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        got: dict[str, tuple[int, int]] = {}
        quiet = time.monotonic()
        while time.monotonic() - quiet < 3:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    got[record.value.decode()] = (tp.partition, record.offset)
                    quiet = time.monotonic()
        ends = await consumer.end_offsets(tps)
        return got, {tp.partition: ends[tp] for tp in tps}
    finally:
        await consumer.stop()


async def _members(kafka: str, got: dict[str, tuple[int, int]], stop: asyncio.Event, members: int) -> None:
    """``members`` readers in one group; with two or more, every one but the first leaves and joins
    again every few seconds while the records come, so that partitions move between them mid-stream."""
    if members == 1:
        return await _read_live(kafka, got, stop)
    steady = asyncio.create_task(_read_live(kafka, got, stop))
    while not stop.is_set():
        await asyncio.gather(*(_read_live(kafka, got, stop, leave_after=8 + n) for n in range(members - 1)))
    await steady


async def probe(kafka: str, producers: int, records: int, members: int = 1, pause: float = 0.01) -> str:
    await create_topics(kafka, [TOPIC], PARTITIONS, config={})
    live: dict[str, tuple[int, int]] = {}
    stop = asyncio.Event()
    reader = asyncio.create_task(_members(kafka, live, stop, members))
    await asyncio.sleep(6)  # the group's first join takes half the session timeout
    acked = [
        a
        for batch in await asyncio.gather(*(_produce(kafka, n, records, pause) for n in range(producers)))
        for a in batch
    ]
    stop.set()
    await reader
    again, ends = await _read_again(kafka)
    places = Counter((p, o) for p, o, _ in acked)
    last = {p: max((o for (q, o) in places if q == p), default=-1) + 1 for p in range(PARTITIONS)}
    return (
        f"{len(acked)} records acknowledged ({producers} producers, {members} group members): the live group missed "
        f"{sum(v not in live for _, _, v in acked)}, reading again missed {sum(v not in again for _, _, v in acked)}, "
        f"{sum(again.get(v, (p, o)) != (p, o) for p, o, v in acked)} read at another place than acknowledged, "
        f"{sum(n > 1 for n in places.values())} places acknowledged twice; end offsets "
        f"{[ends[p] for p in range(PARTITIONS)]} against the last acknowledged + 1 "
        f"{[last[p] for p in range(PARTITIONS)]}"
    )


@click.command()
@click.option("--producers", default=6, show_default=True)
@click.option("--records", default=5000, show_default=True, help="per producer")
@click.option("--runs", default=1, show_default=True)
@click.option("--members", default=1, show_default=True, help="readers in the group; all but one leave and rejoin")
@click.option("--pause", default=0.01, show_default=True, help="seconds between bursts of 500 records")
def main(producers: int, records: int, runs: int, members: int, pause: float) -> None:
    for _ in range(runs):
        broker = EmbeddedBroker(Path(tempfile.mkdtemp(prefix="onestop-probe-"))).start()
        try:
            click.echo(asyncio.run(probe(broker.bootstrap, producers, records, members, pause)))
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
