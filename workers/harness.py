"""The harness every worker runs in: one topic read in batches, the handler's output sent.

A worker supplies only ``handle(batch) -> outgoing``: receive, look up, call the rules, record,
pass on. The harness sends what it returns and waits for the broker's acknowledgement before
the driver (drivers/: aiokafka by default, Faust when ONESTOP_DRIVER=faust) may commit the
batch's offsets: at-least-once, and the ledger makes effects exactly-once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TypeVar

from schemas.events import Rejection
from schemas.settings import settings
from store import DATABASE_AWAY, Arrival, Store, open_store
from store.roles import url_for
from streams.admin import create_topics
from streams.codecs import BadInput, as_text, decode, encode
from streams.topics import config_of, sink_covering

from . import metrics

log = logging.getLogger("onestop.worker")
M = TypeVar("M")
T = TypeVar("T")
E = TypeVar("E")


@dataclass(frozen=True)
class Incoming:
    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None  # the producer's timestamp (CreateTime): when it was published

    def arrival(self, event: E) -> Arrival[E]:
        """This message as the store archives it: its raw bytes and position, with what it parsed to."""
        return Arrival(self.topic, self.partition, self.offset, self.value or b"", event)


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes
    #: ("record" | "alert", psn_no, id): marked published once the broker has it
    published: tuple[str, str, str] | None = None


class Context:
    """What a worker's handler may use: the store, and a way to reject with a reason."""

    def __init__(self, dsn: str, worker: str = "", kafka: str | None = None) -> None:
        self._dsn = dsn
        self.worker = worker  # whose context: the metrics' label
        #: the broker the driver sends to, where hospitals' topics are made; None: the sender makes any topic
        #: (the tests' and benchmarks' brokers in memory)
        self.kafka = kafka
        self._topics_made: set[str] = set()
        self._store: Store | None = None
        self._opening = asyncio.Lock()
        #: the persons with something parked for this worker, kept between batches while it is empty,
        #: when the driver tells of partitions changing hands (workers/parking.py); None: read it again
        self.parked_keys: set[bytes] | None = None
        self.keeps_parked_keys = False

    async def store(self) -> Store:
        async with self._opening:
            if self._store is None:
                self._store = await open_store(self._dsn, migrate=False)
        return self._store

    async def reject(
        self, topic: str, incoming: Incoming, reason: str, kind: str = "other", psn_no: str | None = None
    ) -> Outgoing:
        """Archive and keep the rejection (once per place it came from) and return it for the
        rejection topic: never dropped, never fatal."""
        await (await self.store()).reject(incoming.arrival(None), kind, reason, psn_no)
        metrics.REJECTIONS.labels(self.worker, kind).inc()
        rejection = Rejection(
            original=as_text(incoming.value),
            topic=incoming.topic,
            partition=incoming.partition,
            offset=incoming.offset,
            reason=reason,
            rejected_at=datetime.now(timezone.utc),
        )
        log.warning("rejected %s[%s]@%s: %s", incoming.topic, incoming.partition, incoming.offset, reason.split(":")[0])
        return Outgoing(topic, incoming.key, encode(rejection))

    async def decode_all(
        self, model: type[M], batch: list[Incoming], reject_to: str, what: str = "", kind: str = "other"
    ) -> tuple[list[tuple[Incoming, M]], list[Outgoing]]:
        """The batch's events that validate as ``model`` (with their message), and the rejections
        of those that do not."""
        return await self.read_all(lambda raw: decode(model, raw), batch, reject_to, what, kind)

    async def read_all(
        self,
        read: Callable[[bytes | None], T],
        batch: list[Incoming],
        reject_to: str,
        what: str = "",
        kind: str = "other",
    ) -> tuple[list[tuple[Incoming, T]], list[Outgoing]]:
        """The batch's messages as ``read`` makes them (with their message), and the rejections of
        those it refuses (BadInput)."""
        good: list[tuple[Incoming, T]] = []
        rejected: list[Outgoing] = []
        for incoming in batch:
            try:
                good.append((incoming, read(incoming.value)))
            except BadInput as problem:
                rejected.append(await self.reject(reject_to, incoming, f"{what}{problem}", kind))
        return good, rejected

    async def ensure_topics(self, topics: Iterable[str]) -> None:
        """Make the topics (hospitals' own ones) this process has not made yet: they do not exist
        until a hospital first needs one. Made once each per process; one that exists is left as it is."""
        new = sorted(set(topics) - self._topics_made)
        if not new:
            return
        if self.kafka is not None:
            by_config: dict[tuple, list[str]] = {}
            for topic in new:
                by_config.setdefault(tuple(sorted(config_of(topic).items())), []).append(topic)
            for config, names in by_config.items():
                await create_topics(self.kafka, names, settings.partitions, config=dict(config))
        self._topics_made.update(new)

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()

    async def reset(self) -> None:
        """Drop the pool (its connections may be broken); the next use opens a new one."""
        async with self._opening:
            store, self._store = self._store, None
        if store is not None:
            store.terminate()


Handler = Callable[[Context, list[Incoming]], Awaitable[list[Outgoing]]]
AfterSent = Callable[[Context, list[Outgoing]], Awaitable[None]]
Sweep = Callable[[Context], Awaitable[list[Outgoing]]]


@dataclass(frozen=True)
class Worker:
    """A worker: its name (and consumer group ``onestop-<name>``), the topic it reads, its handler."""

    name: str
    source: str
    handle: Handler
    after_sent: AfterSent | None = None  # runs once the broker acknowledged a batch's output
    #: the topics it writes: its Kafka principal may write these and no others. A sink ending in '.' is a
    #: prefix: the worker writes one topic ``<prefix><fixmedins_code>`` per hospital, made when first written
    sinks: tuple[str, ...] = ()
    #: nobody waits at a window for it (eligibility, cancellations, closes, wake-ups): it asks the broker
    #: for records less often (ONESTOP_BACKGROUND_FETCH_WAIT_MS), since every idle fetch costs the broker
    background: bool = False
    #: run by the driver every ``sweep_every`` seconds, between batches; its output is sent as a batch's is
    sweep: Sweep | None = None
    sweep_every: float = 0.0
    batch_max: int = field(default_factory=lambda: settings.batch_max)
    batch_within: float = field(default_factory=lambda: settings.batch_within)
    #: what kind of worker it is, and so its database role (store/roles.py); "" means its name
    kind: str = ""

    def database_url(self, workers_url: str) -> str:
        """The URL it connects to PostgreSQL with: the role of its kind (store/roles.py)."""
        return url_for(self.kind or self.name, workers_url)

    def sink_of(self, topic: str) -> str | None:
        """The declared sink that covers ``topic`` (the topic, or the prefix it is a hospital's topic of)."""
        return sink_covering(topic, self.sinks)

    @property
    def fetch_max_wait_ms(self) -> int:
        """How long a fetch of this worker's topic may wait for records at the broker."""
        return settings.background_fetch_wait_ms if self.background else settings.fetch_max_wait_ms


RETRY_AFTER = (0.1, 0.5, 1.0, 2.0, 5.0)


async def until_done(worker: Worker, context: Context, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` until it succeeds, while the database is away: handlers are idempotent, and a
    batch is never skipped (its offsets are not committed until it is handled)."""
    attempt = 0
    while True:
        try:
            return await work()
        except DATABASE_AWAY as error:
            wait = RETRY_AFTER[min(attempt, len(RETRY_AFTER) - 1)]
            log.warning("%s: database unavailable (%s); retrying in %.1fs", worker.name, type(error).__name__, wait)
            attempt += 1
            metrics.DATABASE_RETRIES.labels(worker.name).inc()
            await context.reset()
            await asyncio.sleep(wait)


SendOne = Callable[[str, bytes | None, bytes], Awaitable[Awaitable]]


async def send_all(worker: Worker, context: Context, outgoing: list[Outgoing], send: SendOne) -> None:
    """Send, wait for the broker's acknowledgements, then run the worker's after_sent."""
    topics = {o.topic for o in outgoing}
    stray = sorted(t for t in topics if worker.sink_of(t) is None)
    if stray:
        raise RuntimeError(f"worker {worker.name} wrote {stray}, which it does not declare (its ACLs would refuse it)")
    await context.ensure_topics(t for t in topics if t not in worker.sinks)  # hospitals' own topics
    started = time.perf_counter()
    pending = [await send(o.topic, o.key, o.value) for o in outgoing]
    await asyncio.gather(*pending)
    if outgoing:
        metrics.SEND_SECONDS.labels(worker.name).observe(time.perf_counter() - started)
    if worker.after_sent is not None and outgoing:
        await until_done(worker, context, lambda: worker.after_sent(context, outgoing))
