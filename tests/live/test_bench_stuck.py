"""bench.pipeline.stuck on the real broker: when a phase leaves claims unsettled, the bench names
each partition whose records a worker's group has not committed, and the group's members."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.pipeline.stuck import described, waiting_work
from streams.admin import create_topics


async def test_the_partitions_a_group_has_not_committed_are_named_with_what_waits_on_them(broker):
    topic, worker = f"test.stuck.{uuid.uuid4().hex[:8]}", f"stuck-{uuid.uuid4().hex[:8]}"
    await create_topics(broker, [topic], 4)
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    try:
        for i in range(40):
            await producer.send_and_wait(topic, b"{}", key=f"P{i}".encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker,
        group_id=f"onestop-{worker}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=10_000,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    try:
        read: dict = {}
        while sum(len(records) for records in read.values()) < 40:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                read.setdefault(tp, []).extend(records)
        left = min(read, key=lambda tp: tp.partition)  # read, not committed: the work "waits" there
        await consumer.commit({tp: records[-1].offset + 1 for tp, records in read.items() if tp != left})
        waiting = await waiting_work(broker, {worker: topic})
    finally:
        await consumer.stop()
    assert [(w["topic"], w["partition"], w["committed"], w["end"]) for w in waiting] == [
        (topic, left.partition, 0, len(read[left]))
    ]
    assert waiting[0]["members"] == 1
    assert described(waiting) == [
        f"    {worker}: {topic}[{left.partition}] committed 0 of {len(read[left])} "
        f"({len(read[left])} waiting); 1 member(s) in the group, the broker does not say "
        "which holds it"
    ]


async def test_a_group_that_has_committed_everything_has_nothing_waiting(broker):
    topic, worker = f"test.stuck.{uuid.uuid4().hex[:8]}", f"stuck-{uuid.uuid4().hex[:8]}"
    await create_topics(broker, [topic], 2)
    assert await waiting_work(broker, {worker: topic}) == []  # an empty topic, a group that never read it
