"""The message lost between two workers (issue 28): the embedded broker can hand a reader at the end
of a partition a later batch before an earlier one is stored (bench/chaos/broker_race.py), and a
reader that moved on never saw the earlier one. With several producers racing into one partition,
the workers' driver must still hand its worker every stored record, once."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from bench.chaos.broker_race import offsets_stored, race_into
from store.postgres import PostgresStore
from streams.admin import create_topics
from workers.drivers.kafka_driver import serve
from workers.harness import Worker

from ..parts import created_database, drop_database

PRODUCERS, SECONDS = 8, 8.0


@pytest.mark.asyncio
async def test_the_driver_hands_its_worker_every_record_once_while_producers_race_into_a_partition(broker, database):
    topic = f"race-driver-{uuid.uuid4().hex[:8]}"
    await create_topics(broker, [topic], 1, config={})
    url = await created_database(database)
    await (await PostgresStore.open(url)).close()  # the schema: the driver's parking reads it
    handled: list[int] = []

    async def handle(context, batch):
        handled.extend(incoming.offset for incoming in batch)
        return []

    worker = Worker(name=f"race-{uuid.uuid4().hex[:6]}", source=topic, handle=handle, kind="intake")
    stopping = asyncio.Event()
    serving = asyncio.create_task(serve(worker, broker, url, stopping))
    try:
        await asyncio.sleep(4)  # the group's first join
        await race_into(broker, topic, PRODUCERS, SECONDS)
        stored = await offsets_stored(broker, topic)
        deadline = time.monotonic() + 30
        while len(set(handled)) < len(stored) and time.monotonic() < deadline and not serving.done():
            await asyncio.sleep(0.2)
    finally:
        stopping.set()
        await asyncio.wait_for(serving, 30)
        await drop_database(database, url)
    assert stored == list(range(len(stored)))
    assert sorted(set(stored) - set(handled)) == [], "records the worker was never handed"
    assert len(handled) == len(set(handled)), "records handed to the worker twice"
