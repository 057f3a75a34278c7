"""Reading a topic from its beginning, without joining a consumer group (nothing is committed).

The embedded broker reports wrong end offsets after multi-record batches (BROKER-NOTES.md), so
"caught up" is judged on the high-water mark that fetch responses carry.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition


async def read_topic(bootstrap: str, topic: str, *, follow: bool = False, idle_seconds: float = 1.0) -> AsyncIterator[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        for _ in range(50):
            if partitions:
                break
            await asyncio.sleep(0.1)
            await consumer._client.force_metadata_update()  # first call may race topic metadata
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise LookupError(f"topic {topic} does not exist on {bootstrap}")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        idle = 0.0
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            records = [r for tp in assigned for r in batches.get(tp, [])]
            for record in sorted(records, key=lambda r: (r.timestamp, r.partition, r.offset)):
                yield record.value
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
