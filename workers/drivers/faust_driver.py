"""The Faust driver: one Faust app (consumer group onestop-<worker>) reading the worker's topic in
batches per partition; output is acknowledged by the broker before the batch is acked, so Faust
never commits offsets of work whose effects were not sent."""

from __future__ import annotations

import asyncio
import logging
import os
import threading

import faust
from faust.types import TP

from streams.app import make_app

from .. import metrics
from ..batches import handle_and_send, sweep_and_send
from ..harness import Context, Incoming, Worker

log = logging.getLogger("onestop.driver")


def build_app(worker: Worker, kafka: str, database: str) -> faust.App:
    app = make_app(worker.name, kafka, fetch_max_wait_ms=worker.fetch_max_wait_ms)
    source = app.topic(worker.source, key_serializer="raw", value_serializer="raw")
    context = Context(worker.database_url(database), worker.name, kafka)
    handled: dict[metrics.Position, int] = {}
    sinks: dict[str, faust.TopicT] = {}

    def sink(name: str) -> faust.TopicT:
        if name not in sinks:
            sinks[name] = app.topic(name, key_serializer="raw", value_serializer="raw")
        return sinks[name]

    async def send(topic: str, key: bytes | None, value: bytes):
        return await sink(topic).send(key=key, value=value)

    @app.agent(source, concurrency=1, name=f"onestop.{worker.name}")
    async def run(stream):
        async for events in stream.take_events(worker.batch_max, within=worker.batch_within):
            batch = [
                Incoming(
                    e.key,
                    e.value,
                    e.message.topic,
                    e.message.partition,
                    e.message.offset,
                    _headers(e.headers),
                    _milliseconds(e.message.timestamp),
                )
                for e in events
            ]
            try:
                await handle_and_send(worker, context, batch, send)
            except BaseException as error:  # noqa: BLE001 - see _stop_dead
                _stop_dead(worker, error)
            handled.update({(i.topic, i.partition): i.offset + 1 for i in batch})
            metrics.lag(worker.name, handled, lambda position: app.consumer.highwater(TP(*position)))

    @app.timer(interval=1.0)
    async def _alive():
        # Faust polls the broker in its own thread; a timer on the agents' loop shows that loop turns
        metrics.polled(worker.name)

    if worker.sweep is not None:

        @app.timer(interval=worker.sweep_every)
        async def _sweep():
            try:
                await sweep_and_send(worker, context, send)
            except BaseException as error:  # noqa: BLE001 - as a batch's: see _stop_dead
                _stop_dead(worker, error)

    @app.on_before_shutdown.connect
    def _close_store(app, **kwargs):  # noqa: ARG001 - faust's signal signature
        asyncio.ensure_future(context.close())

    return app


def _milliseconds(timestamp: float | None) -> int | None:
    """Faust gives a record's timestamp in seconds."""
    return int(timestamp * 1000) if timestamp else None


def _headers(headers) -> tuple[tuple[str, bytes], ...]:
    """Faust gives headers as a mapping or a list of pairs."""
    if not headers:
        return ()
    return tuple(headers.items()) if hasattr(headers, "items") else tuple(headers)


def _stop_dead(worker: Worker, error: BaseException) -> None:
    """A batch that did not finish must not be acknowledged: Faust acks a take_events batch when
    its loop leaves it (by error or cancellation) and would then commit those offsets, losing the
    batch. So the process ends at once, committing nothing more; its supervisor (`onestop up`,
    the container's restart policy) starts it again and the batch is delivered again."""
    log.critical(
        "%s: stopping at once so that the unfinished batch is delivered again: %s", worker.name, type(error).__name__
    )
    logging.shutdown()
    os._exit(70)


#: how long a worker told to stop may take: with the broker gone, Faust's stop waits in aiokafka's
#: commit, which retries for ever (GroupCoordinator.commit_offsets loops on retriable errors), and the
#: process never ended. What it had not committed is delivered again to the partition's next owner.
STOPPING_DEADLINE = 20.0


class _StoppingWorker(faust.Worker):
    """Faust's worker, ended by a timer if its stop, once asked for, does not end in STOPPING_DEADLINE."""

    def _on_sigterm(self) -> None:
        _end_after(STOPPING_DEADLINE)
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        _end_after(STOPPING_DEADLINE)
        super()._on_sigint()


def _end_after(seconds: float) -> None:
    def end() -> None:
        log.warning("told to stop %.0f s ago and still stopping (is the broker away?): ending now", seconds)
        logging.shutdown()
        os._exit(0)

    timer = threading.Timer(seconds, end)
    timer.daemon = True
    timer.start()


def run(worker: Worker, kafka: str, database: str, loglevel: str) -> None:
    metrics.serve(worker.name, [worker.name])
    worker = _StoppingWorker(build_app(worker, kafka, database), loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.spinner = None  # its spinner turns the root logger to DEBUG: every debug call then builds a record
    worker.execute_from_commandline()
