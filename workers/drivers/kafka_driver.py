"""The plain aiokafka driver: the same consumer group onestop-<worker>, batches of what one poll
returns, output acknowledged before offsets are marked done, offsets committed every second,
on revocation and on stop. Redelivery after a crash is what the idempotent ledger is for."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from schemas.settings import settings
from streams.continuity import Continuity
from streams.security import client_options

from .. import metrics
from ..batches import handle_and_send, sweep_and_send
from ..harness import Context, Incoming, Worker
from .trace import OffsetTrace

log = logging.getLogger("onestop.driver")


class _CommitOnRevoke(ConsumerRebalanceListener):
    def __init__(
        self,
        name: str,
        consumer: AIOKafkaConsumer,
        done: dict[TopicPartition, int],
        context: Context,
        trace: OffsetTrace,
        continuity: Continuity,
    ) -> None:
        self.name, self.consumer, self.done, self.context = name, consumer, done, context
        self.trace, self.continuity = trace, continuity

    async def on_partitions_revoked(self, revoked):
        self.trace.moved("V", revoked)
        mine = {tp: offset for tp, offset in self.done.items() if tp in revoked}
        if mine:
            try:
                await self.consumer.commit(mine)
                self.trace.committed(mine)
            except Exception as error:  # noqa: BLE001 - the next owner replays; the ledger deduplicates
                log.warning("%s: commit on revocation failed: %s", self.name, type(error).__name__)
        for tp in revoked:
            self.done.pop(tp, None)
        self.continuity.forget(revoked)
        metrics.forget_partitions(self.name, ((tp.topic, tp.partition) for tp in revoked))

    async def on_partitions_assigned(self, assigned):
        self.trace.moved("A", assigned)
        self.context.parked_keys = None  # a partition may come with what another instance parked on it


async def serve(worker: Worker, kafka: str, database: str, stopping: asyncio.Event) -> None:
    context = Context(worker.database_url(database), worker.name, kafka)
    context.keeps_parked_keys = True  # on_partitions_assigned forgets them
    done: dict[TopicPartition, int] = {}
    continuity = Continuity()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka,
        group_id=f"onestop-{worker.name}",
        client_id=f"onestop-{worker.name}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=worker.fetch_max_wait_ms,
        session_timeout_ms=int(1000 * settings.session_timeout),
        heartbeat_interval_ms=1000,
        max_poll_records=worker.batch_max,
        **client_options(),
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=settings.linger_ms, **client_options())

    trace = OffsetTrace.for_worker(worker.name)

    async def send(topic: str, key: bytes | None, value: bytes):
        acknowledged = await producer.send(topic, value=value, key=key)
        if trace.out is not None:
            acknowledged.add_done_callback(lambda ack: trace.acknowledged(ack, key))
        return acknowledged

    await producer.start()
    consumer.subscribe(
        [worker.source], listener=_CommitOnRevoke(worker.name, consumer, done, context, trace, continuity)
    )
    await consumer.start()
    commit_every = settings.commit_interval
    loop = asyncio.get_running_loop()
    last_commit = last_sweep = loop.time()
    try:
        while not stopping.is_set():
            records = await consumer.getmany(timeout_ms=200, max_records=worker.batch_max)
            metrics.polled(worker.name)
            trace.received(records)
            records = await _in_order(worker.name, consumer, continuity, records)
            batch = [
                Incoming(r.key, r.value, r.topic, r.partition, r.offset, tuple(r.headers or ()), r.timestamp)
                for rs in records.values()
                for r in rs
            ]
            if batch and not await _unless_stopping(handle_and_send(worker, context, batch, send), stopping):
                break  # told to stop and the batch could not finish (the broker away): it is replayed, as after a crash
            if batch:
                # a rebalance may have taken a partition while the batch was handled: its offset is
                # the new owner's to commit (committing it here would raise IllegalStateError)
                owned = consumer.assignment()
                done.update({tp: rs[-1].offset + 1 for tp, rs in records.items() if tp in owned})
                _forget_unowned(done, owned)
                metrics.lag(
                    worker.name,
                    {(tp.topic, tp.partition): n for tp, n in done.items()},
                    lambda position: consumer.highwater(TopicPartition(*position)),
                )
            if worker.sweep is not None and loop.time() - last_sweep >= worker.sweep_every:
                await _unless_stopping(sweep_and_send(worker, context, send), stopping)
                last_sweep = loop.time()
            _forget_unowned(done, consumer.assignment())
            if done and loop.time() - last_commit >= commit_every:
                if await _unless_stopping(consumer.commit(dict(done)), stopping):
                    trace.committed(done)
                last_commit = loop.time()
    finally:
        try:
            if done:
                await _on_stopping(worker.name, "the last commit", consumer.commit(dict(done)))
        finally:
            await _on_stopping(worker.name, "the consumer's stop", consumer.stop())
            await _on_stopping(worker.name, "the producer's stop", producer.stop())
            await context.close()
            trace.close()


async def _in_order(
    name: str, consumer: AIOKafkaConsumer, continuity: Continuity, fetched: dict[TopicPartition, list]
) -> dict[TopicPartition, list]:
    """Each partition's records up to its first gap; at a gap the partition is read again from the
    first offset not handed (streams/continuity.py: the embedded broker can hand a later batch before
    an earlier one is stored, and a reader that moved on never saw the earlier one)."""
    kept = {}
    for tp, records in fetched.items():
        if not continuity.knows(tp):  # first records since the assignment: they follow the group's commit
            continuity.expect(tp, await _committed(name, consumer, tp, records[0].offset))
        taken = continuity.take(tp, records)
        if taken.passed is not None:
            metrics.GAPS_PASSED.labels(name).inc()
        if taken.read_again_from is not None and tp in consumer.assignment():
            consumer.seek(tp, taken.read_again_from)
            metrics.READ_AGAIN.labels(name).inc()
        if taken.records:
            kept[tp] = list(taken.records)
    return kept


async def _committed(name: str, consumer: AIOKafkaConsumer, tp: TopicPartition, first_handed: int) -> int:
    """Where the group's reading of ``tp`` starts: its commit, or 0 (a partition no one committed is
    read from its first record). With the broker gone (aiokafka asks again for ever) the first record
    handed is taken as the start, unchecked."""
    try:
        committed = await asyncio.wait_for(consumer.committed(tp), STOPPING_PATIENCE)
    except (asyncio.TimeoutError, KafkaError) as error:
        log.warning("%s: no committed offset of %s (%s): its first records are not checked", name, tp, error)
        return first_handed
    return 0 if committed is None else committed


def _forget_unowned(done: dict[TopicPartition, int], owned: set[TopicPartition]) -> None:
    """Drop what is done on partitions this consumer no longer owns: their new owner replays it. The
    revocation's callback drops them too, but a batch finishing while the callback awaits its commit
    (the old assignment still in place) put one back, and the partition's next highwater() or commit
    then raised (AssertionError, IllegalStateError) and ended the process."""
    for tp in done.keys() - owned:
        del done[tp]


async def _unless_stopping(work: Awaitable[object], stopping: asyncio.Event) -> bool:
    """``work`` (a batch, a commit), given up STOPPING_PATIENCE seconds after the worker is told to stop:
    with the broker gone, aiokafka retries a commit for ever and a send until its request timeout
    (40 s). True if it finished; what fails in it fails the loop, as before."""
    doing, told = asyncio.ensure_future(work), asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({doing, told}, return_when=asyncio.FIRST_COMPLETED)
        if not doing.done():
            await asyncio.wait({doing}, timeout=STOPPING_PATIENCE)
    finally:
        told.cancel()
        if not doing.done():
            doing.cancel()
            await asyncio.gather(doing, return_exceptions=True)
    if doing.cancelled():
        return False
    doing.result()
    return True


#: how long a stopping worker waits for each goodbye to the broker. With the broker gone, aiokafka
#: retries a commit for ever (GroupCoordinator.commit_offsets loops while the error is retriable),
#: so a worker told to stop after the broker died never stopped; what it could not commit, the next
#: owner of the partition replays, which the ledger makes harmless.
STOPPING_PATIENCE = 5.0


async def _on_stopping(name: str, what: str, goodbye: Awaitable[object]) -> None:
    try:
        await asyncio.wait_for(goodbye, STOPPING_PATIENCE)
    except asyncio.TimeoutError:
        log.warning(
            "%s: %s did not finish in %.0f s (is the broker away?); stopping anyway", name, what, STOPPING_PATIENCE
        )
    except KafkaError as error:
        log.warning("%s: %s failed on stopping: %s; stopping anyway", name, what, type(error).__name__)
    except asyncio.CancelledError:
        if (this := asyncio.current_task()) is not None and this.cancelling():
            raise  # the loop itself is being cancelled: not ours to swallow
        # aiokafka's consumer.stop() awaits its fetcher's task after cancelling it, and lets the
        # CancelledError out: the process ended with a traceback and exit code 1 on a plain stop
        log.warning("%s: %s was cancelled; stopping anyway", name, what)


def run(worker: Worker, kafka: str, database: str, loglevel: str) -> None:
    run_together([worker], kafka, database, loglevel)


def run_together(workers: list[Worker], kafka: str, database: str, loglevel: str) -> None:
    """Every worker's loop on one event loop: each its own consumer, group, producer and store.
    If one fails the process ends (its supervisor restarts it; the others' uncommitted batches
    are redelivered, which the ledger makes harmless)."""
    logging.basicConfig(level=getattr(logging, loglevel.upper(), logging.WARNING))
    metrics.serve("+".join(w.name for w in workers), [w.name for w in workers])

    async def main() -> None:
        stopping = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stopping.set)
        loops = [asyncio.create_task(serve(worker, kafka, database, stopping)) for worker in workers]
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_EXCEPTION)
            for worker, task in zip(workers, loops):
                if task.done() and task.exception() is not None:
                    metrics.loop_ended(worker.name, type(task.exception()).__name__)
            for task in done:
                task.result()  # a loop that failed ends the process with its error
        finally:
            stopping.set()
            await asyncio.gather(*loops, return_exceptions=True)

    asyncio.run(main())
