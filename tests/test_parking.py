"""A worker keeps the persons it parked for between batches only while nothing is parked, and reads
them again when it parks or when partitions change hands (workers/parking.py)."""

from __future__ import annotations

import uuid

from workers.harness import Context, Incoming, Outgoing, Worker
from workers.parking import handle_or_park

TOPIC = "test.parking"


def _worker(handled: list[bytes]) -> Worker:
    async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
        for incoming in batch:
            if incoming.value == b"bad":
                raise ValueError("cannot handle this one")
            handled.append(incoming.value)
        return []

    return Worker("parking-test", TOPIC, handle)


def _message(key: bytes, value: bytes, offset: int) -> Incoming:
    return Incoming(key, value, TOPIC, 0, offset)


async def test_a_kept_empty_set_is_read_again_after_parking_and_after_a_rebalance():
    context = Context(f"memory://{uuid.uuid4()}", "parking-test")
    context.keeps_parked_keys = True
    handled: list[bytes] = []
    worker = _worker(handled)
    await handle_or_park(worker, context, [_message(b"P1", b"a", 0)])
    assert context.parked_keys == set()  # kept: nothing parked
    # P1's bad message is parked; P1's next waits behind it, P2's goes on
    await handle_or_park(worker, context, [_message(b"P1", b"bad", 1)])
    await handle_or_park(worker, context, [_message(b"P1", b"b", 2), _message(b"P2", b"c", 3)])
    assert handled == [b"a", b"c"]
    assert context.parked_keys is None  # parking forgets the set: the next batch reads it
    await handle_or_park(worker, context, [_message(b"P2", b"e", 5)])
    assert context.parked_keys == {b"P1"}
    store = await context.store()
    assert [p.offset for p in await store.parked("parking-test")] == [1, 2]
    # another instance parked P3 on a partition this one is now given: the rebalance forgets the set
    context.parked_keys = set()
    await store.park("parking-test", TOPIC, 1, 0, b"P3", b"x", "elsewhere", False)
    context.parked_keys = None  # what the aiokafka driver's on_partitions_assigned does
    await handle_or_park(worker, context, [_message(b"P3", b"d", 6)])
    assert b"d" not in handled
    await context.close()


async def test_a_context_that_is_not_told_of_rebalances_reads_the_parked_persons_every_batch():
    context = Context(f"memory://{uuid.uuid4()}", "parking-test")
    handled: list[bytes] = []
    worker = _worker(handled)
    await handle_or_park(worker, context, [_message(b"P1", b"a", 0)])
    assert context.parked_keys is None
    await (await context.store()).park("parking-test", TOPIC, 0, 9, b"P1", b"x", "elsewhere", False)
    await handle_or_park(worker, context, [_message(b"P1", b"b", 1)])
    assert handled == [b"a"]
    await context.close()
