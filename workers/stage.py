"""The harness every worker runs in: a Faust app reading one topic in batches per partition.

A worker supplies only ``handle(batch) -> outgoing``: receive, look up, call the rules, record,
pass on. The harness sends what it returns and waits for the broker's acknowledgement before
Faust may commit the batch's offsets: at-least-once, and the ledger makes effects exactly-once.
"""
from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import asyncpg
import faust

from schemas.events import Rejection
from streams.app import make_app
from streams.codecs import as_text, encode

from .store import Store

log = logging.getLogger("onestop.stage")

BATCH_MAX = int(os.environ.get("ONESTOP_BATCH_MAX", "500"))
BATCH_WITHIN = float(os.environ.get("ONESTOP_BATCH_WITHIN", "0.01"))


@dataclass(frozen=True)
class Incoming:
    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes
    record_id: str | None = None  # e.g. the settlement published, for the stage's after_sent


class Context:
    """What a worker's handler may use: the store, and a way to reject with a reason."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._store: Store | None = None
        self._opening = asyncio.Lock()

    async def store(self) -> Store:
        async with self._opening:
            if self._store is None:
                self._store = await Store.open(self._dsn, migrate=False)
        return self._store

    async def reject(self, topic: str, incoming: Incoming, reason: str) -> Outgoing:
        """Record the rejection and return it for the rejection topic (never dropped, never fatal)."""
        original = as_text(incoming.value)
        await (await self.store()).record_rejection(incoming.topic, reason, original, incoming.partition, incoming.offset)
        rejection = Rejection(original=original, topic=incoming.topic, partition=incoming.partition,
                              offset=incoming.offset, reason=reason, rejected_at=datetime.now(timezone.utc))
        log.warning("rejected %s[%s]@%s: %s", incoming.topic, incoming.partition, incoming.offset, reason.split(":")[0])
        return Outgoing(topic, incoming.key, encode(rejection))

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()


Handler = Callable[[Context, list[Incoming]], Awaitable[list[Outgoing]]]
AfterSent = Callable[[Context, list[Outgoing]], Awaitable[None]]


@dataclass(frozen=True)
class Stage:
    name: str
    source: str
    handle: Handler
    after_sent: AfterSent | None = None  # runs once the broker acknowledged a batch's output


RETRY_AFTER = (0.1, 0.5, 1.0, 2.0, 5.0)


async def _until_done(stage: Stage, context: Context, batch: list[Incoming]) -> list[Outgoing]:
    """Handle a batch, retrying while the database is away: handlers are idempotent, and a
    batch is never skipped (its offsets are not committed until it is handled)."""
    attempt = 0
    while True:
        try:
            return await stage.handle(context, batch)
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as error:
            wait = RETRY_AFTER[min(attempt, len(RETRY_AFTER) - 1)]
            log.warning("%s: database unavailable (%s); retrying the batch in %.1fs", stage.name, type(error).__name__, wait)
            attempt += 1
            await asyncio.sleep(wait)


def build_app(stage: Stage, kafka: str, database: str) -> faust.App:
    app = make_app(stage.name, kafka)
    source = app.topic(stage.source, key_serializer="raw", value_serializer="raw")
    context = Context(database)
    sinks: dict[str, faust.TopicT] = {}

    def sink(name: str) -> faust.TopicT:
        if name not in sinks:
            sinks[name] = app.topic(name, key_serializer="raw", value_serializer="raw")
        return sinks[name]

    @app.agent(source, concurrency=1, name=f"onestop.{stage.name}")
    async def run(stream):
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN):
            batch = [Incoming(e.key, e.value, e.message.topic, e.message.partition, e.message.offset) for e in events]
            outgoing = await _until_done(stage, context, batch)
            pending = [await sink(o.topic).send(key=o.key, value=o.value) for o in outgoing]
            await asyncio.gather(*pending)
            if stage.after_sent is not None and outgoing:
                await stage.after_sent(context, outgoing)

    @app.on_before_shutdown.connect
    def _close_store(app, **kwargs):  # noqa: ARG001 - faust's signal signature
        asyncio.ensure_future(context.close())

    return app


def run_stage(stage: Stage, kafka: str, database: str, loglevel: str = "warning") -> None:
    """Run one worker until SIGINT/SIGTERM; Faust stops it cleanly."""
    app = build_app(stage, kafka, database)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
