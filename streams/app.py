"""The Faust app factory: one app (and consumer group) per worker, tuned for low latency.

Faust hard-codes a 1,500 ms fetch wait for its consumers; this broker then sleeps half of it
after each fetch, adding up to 750 ms a hop (BROKER-NOTES.md). The transport here overrides it.
"""
from __future__ import annotations

import os
from pathlib import Path

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

#: How long a fetch may wait for data, in ms (faust's own is 1,500).
FETCH_MAX_WAIT_MS = int(os.environ.get("ONESTOP_FETCH_MAX_WAIT_MS", "100"))


class _QuickFetchThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by aiokafka when it starts its fetcher
        return consumer


class _QuickFetchConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self):
        return _QuickFetchThread(self, loop=self.loop, beacon=self.beacon)


class _QuickFetchTransport(faust_aiokafka.Transport):
    Consumer = _QuickFetchConsumer


class OnestopApp(faust.App):
    def _new_transport(self):
        return _QuickFetchTransport(self.conf.broker_consumer, self)


def make_app(worker: str, bootstrap: str, **settings) -> faust.App:
    """A Faust app for one worker: its own consumer group `onestop-<worker>`, money state kept
    out of Faust tables (PostgreSQL holds it), no web server, short session timeouts."""
    home = Path(os.environ.get("ONESTOP_HOME", ".")).resolve() / ".onestop" / "faust"
    home.mkdir(parents=True, exist_ok=True)
    options = dict(
        broker=f"kafka://{bootstrap}",
        datadir=str(home / "{conf.name}-data"),
        store="memory://",
        web_enabled=False,
        topic_partitions=int(os.environ.get("ONESTOP_PARTITIONS", "4")),
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=float(os.environ.get("ONESTOP_SESSION_TIMEOUT", "10")),
        broker_heartbeat_interval=1.0,
        broker_commit_interval=float(os.environ.get("ONESTOP_COMMIT_INTERVAL", "1.0")),
        producer_linger_ms=int(os.environ.get("ONESTOP_LINGER_MS", "5")),
        producer_acks=-1,
        stream_wait_empty=False,
        agent_supervisor="mode.CrashingSupervisor",
    )
    options.update(settings)
    return OnestopApp(f"onestop-{worker}", **options)
