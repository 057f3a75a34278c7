"""A message a worker cannot handle does not stop its partition (ARCHITECTURE.md, rule 5).

An unexpected error in a handler (a bug, a policy version this worker does not have, …) parks
the message that caused it, with the error; the person's later messages to this worker wait
behind it, parked too, so per-person order is kept; everyone else's go on. A message is parked
whole, headers included: a signed input run again is verified again. `onestop parked` lists what
is parked and why; `onestop parked retry` runs it again, in order, after a fix; `onestop parked
drop ID --reason` resolves one that must not run (kept, with who dropped it and why), and runs
again what of its person waited behind it.
Errors of the database being away are not parked: the batch is retried (harness.until_done).
Logs name the worker, topic, partition and offset and the kind of error, never the person.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from store import DATABASE_AWAY, DroppedParked, Parked

from . import metrics
from .harness import Context, Incoming, Outgoing, SendOne, Worker, send_all

log = logging.getLogger("onestop.parking")


async def _parked_keys(worker: Worker, context: Context) -> set[bytes]:
    """The persons with something parked for this worker. Read once per batch — unless the driver
    tells the context when partitions change hands (``keeps_parked_keys``, the aiokafka driver):
    then an empty set is kept between batches, since only this worker parks its messages, and a
    partition another instance of it parked on comes with a rebalance, which forgets the set. A
    set that is not empty is read every batch: `onestop parked retry` empties it from outside."""
    if context.keeps_parked_keys and context.parked_keys == set():
        return set()
    keys = await (await context.store()).parked_keys(worker.name)
    context.parked_keys = keys if context.keeps_parked_keys else None
    return keys


async def handle_or_park(worker: Worker, context: Context, batch: list[Incoming]) -> list[Outgoing]:
    """The handler's output for the batch, with the messages it cannot handle parked."""
    waiting = await _parked_keys(worker, context)
    go_on = []
    for incoming in batch:
        if incoming.key is not None and incoming.key in waiting:
            await _park(context, worker, incoming, "waiting behind a parked message of the same person", behind=True)
        else:
            go_on.append(incoming)
    if not go_on:
        return []
    try:
        return await worker.handle(context, go_on)
    except DATABASE_AWAY:
        raise
    except Exception:  # noqa: BLE001 - found below, one message at a time
        return await _one_by_one(worker, context, go_on)


async def _one_by_one(worker: Worker, context: Context, batch: list[Incoming]) -> list[Outgoing]:
    """Handle each message alone (handlers are idempotent); park the ones that fail and whatever
    of their persons comes after them."""
    out: list[Outgoing] = []
    stuck: set[bytes | None] = set()
    for incoming in batch:
        if incoming.key in stuck and incoming.key is not None:
            await _park(context, worker, incoming, "waiting behind a parked message of the same person", behind=True)
            continue
        try:
            out += await worker.handle(context, [incoming])
        except DATABASE_AWAY:
            raise
        except Exception as error:  # noqa: BLE001 - parked with the error, never fatal
            await _park(context, worker, incoming, f"{type(error).__name__}: {error}", behind=False)
            stuck.add(incoming.key)
    return out


async def park_unplaced(worker: Worker, context: Context, topic: str, key: bytes, value: bytes, error: str) -> None:
    """Park a message a worker made itself and could not handle (the ledger's sweep: a wake-up for a
    queue it could not apply), at no place of ``topic``: listed, run again or dropped as any other,
    and its person's messages to the worker wait behind it."""
    context.parked_keys = None
    await (await context.store()).park(worker.name, topic, None, None, key, value, error, False)
    metrics.PARKED.labels(worker.name, "error").inc()
    log.error("%s: parked its own message to %s (%s)", worker.name, topic, error.split(":")[0])


async def _park(context: Context, worker: Worker, incoming: Incoming, error: str, *, behind: bool) -> None:
    context.parked_keys = None  # read again with the next batch
    await (await context.store()).park(
        worker.name,
        incoming.topic,
        incoming.partition,
        incoming.offset,
        incoming.key,
        incoming.value,
        error,
        behind,
        incoming.headers,
    )
    metrics.PARKED.labels(worker.name, "behind an earlier one" if behind else "error").inc()
    log.error(
        "%s: parked %s[%s]@%s (%s)",
        worker.name,
        incoming.topic,
        incoming.partition,
        incoming.offset,
        "behind an earlier one" if behind else error.split(":")[0],
    )


async def retry_parked(
    worker: Worker, context: Context, send: SendOne, *, person: bytes | None = None
) -> tuple[int, int]:
    """Run a worker's parked messages again (only ``person``'s, when given), person by person in the
    order parked, each as it was received, headers included: each that is handled is sent and
    forgotten; a person whose message fails again stays parked from there. Returns (handled, still
    parked for the worker)."""
    store = await context.store()
    handled, blocked = 0, set()
    for parked in await store.parked(worker.name):
        if parked.key in blocked or (person is not None and parked.key != person):
            continue
        try:
            outgoing = await worker.handle(context, [_as_received(parked)])
        except DATABASE_AWAY:
            raise
        except Exception as error:  # noqa: BLE001 - stays parked, with the new error
            if parked.partition is not None and parked.offset is not None:  # (one parked at no place keeps its first)
                await store.park(
                    worker.name,
                    parked.topic,
                    parked.partition,
                    parked.offset,
                    parked.key,
                    parked.value,
                    f"{type(error).__name__}: {error}",
                    False,
                    parked.headers,
                )
            log.error(
                "%s: parked %s[%s]@%s failed again (%s)",
                worker.name,
                parked.topic,
                parked.partition,
                parked.offset,
                type(error).__name__,
            )
            blocked.add(parked.key)
            continue
        await send_all(worker, context, outgoing, send)
        await store.unpark(parked.parked_id)
        handled += 1
    return handled, len(await store.parked(worker.name))


async def drop_parked(
    workers: Mapping[str, Worker], context: Context, send: SendOne, parked_id: int, reason: str, by: str
) -> tuple[DroppedParked, int, int]:
    """An operator resolves a parked message without handling it: it is kept among the dropped ones
    with ``reason`` and ``by`` (the store refuses a blank one), and the messages of its person that
    waited behind it for the same worker run again, in order, as `retry` runs them. Returns (what was
    dropped, how many of those were handled, how many are still parked for the worker)."""
    store = await context.store()
    dropped = await store.drop_parked(parked_id, reason, by)
    worker = workers[dropped.parked.worker]
    log.warning(
        "%s: dropped parked %s[%s]@%s by an operator",
        worker.name,
        dropped.parked.topic,
        dropped.parked.partition,
        dropped.parked.offset,
    )
    if dropped.parked.key is None:  # (nothing waits behind a message of no person)
        return dropped, 0, len(await store.parked(worker.name))
    handled, left = await retry_parked(worker, context, send, person=dropped.parked.key)
    return dropped, handled, left


def _as_received(parked: Parked) -> Incoming:
    return Incoming(parked.key, parked.value, parked.topic, parked.partition or 0, parked.offset or 0, parked.headers)
