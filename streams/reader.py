"""Reading a topic from its beginning, without joining a consumer group (nothing is committed):
the one topic reader of the project (`onestop settlements`, audits, tests, benchmarks).

The embedded broker reports wrong end offsets after multi-record batches (BROKER-NOTES.md), so
"caught up" is judged on the high-water mark that fetch responses carry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from .admin import partitions_of
from .security import client_options


async def read_records(
    bootstrap: str, topic: str, *, follow: bool = False, idle_seconds: float = 1.0
) -> AsyncIterator[ConsumerRecord]:
    """Every record of ``topic`` from its beginning, in (timestamp, partition, offset) order per
    fetch; stops once caught up and idle for ``idle_seconds`` unless ``follow``."""
    assigned = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100, **client_options()
    )
    await consumer.start()
    try:
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        idle = 0.0
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            records = [r for tp in assigned for r in batches.get(tp, [])]
            for record in sorted(records, key=lambda r: (r.timestamp, r.partition, r.offset)):
                yield record
            if records or follow:
                idle = 0.0
                continue
            positions = [await consumer.position(tp) for tp in assigned]
            caught_up = all((consumer.highwater(tp) or 0) <= position for tp, position in zip(assigned, positions))
            idle += 0.2
            if caught_up and idle >= idle_seconds:
                return
    finally:
        await consumer.stop()


async def read_topic(
    bootstrap: str, topic: str, *, follow: bool = False, idle_seconds: float = 1.0
) -> AsyncIterator[bytes]:
    """The values of every record of ``topic`` from its beginning (see :func:`read_records`)."""
    async for record in read_records(bootstrap, topic, follow=follow, idle_seconds=idle_seconds):
        yield record.value


async def read_all(bootstrap: str, topic: str, idle_seconds: float = 1.0) -> list[bytes]:
    """Every value of ``topic`` now."""
    return [value async for value in read_topic(bootstrap, topic, idle_seconds=idle_seconds)]
