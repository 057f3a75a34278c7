"""The Faust app factory: one app (and consumer group) per worker, tuned for low latency.

Faust hard-codes a 1,500 ms fetch wait for its consumers; this broker then sleeps half of it
after each fetch, adding up to 750 ms a hop (BROKER-NOTES.md). The transport here overrides it.
"""

from __future__ import annotations

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from schemas.settings import settings

from .security import faust_credentials


class _QuickFetchThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        # read by aiokafka when it starts its fetcher
        consumer._fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", None) or settings.fetch_max_wait_ms
        return consumer


class _QuickFetchConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self):
        return _QuickFetchThread(self, loop=self.loop, beacon=self.beacon)


class _QuickFetchTransport(faust_aiokafka.Transport):
    Consumer = _QuickFetchConsumer


class OnestopApp(faust.App):
    def _new_transport(self):
        return _QuickFetchTransport(self.conf.broker_consumer, self)


def make_app(worker: str, bootstrap: str, fetch_max_wait_ms: int | None = None, **overrides) -> faust.App:
    """A Faust app for one worker: its own consumer group `onestop-<worker>`, money state kept
    out of Faust tables (PostgreSQL holds it), no web server, short session timeouts."""
    home = settings.home / "faust"
    home.mkdir(parents=True, exist_ok=True)
    options = dict(
        broker=f"kafka://{bootstrap}",
        datadir=str(home / "{conf.name}-data"),
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=1.0,
        broker_commit_interval=settings.commit_interval,
        producer_linger_ms=settings.linger_ms,
        producer_acks=-1,
        stream_wait_empty=False,
        agent_supervisor="mode.CrashingSupervisor",
        broker_credentials=faust_credentials(),
    )
    options.update(overrides)
    app = OnestopApp(f"onestop-{worker}", **options)
    app.fetch_max_wait_ms = fetch_max_wait_ms  # the worker's own (a background worker's is longer)
    return app
