"""Starting and stopping the whole system: the real parts, the topics and schema, every worker.

Used by `onestop up`, `onestop demo` and the tests: each worker is its own process (its own
Faust app and consumer group), as it is deployed.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from streams.topics import PARTITIONS, all_topics

from .embedded import EmbeddedBroker, EmbeddedPostgres, create_topics, database_from_env, kafka_from_env
from .registry import WORKERS
from .settings import Endpoints
from .store import Store


async def initialise(found: Endpoints) -> None:
    """Create every topic (config is only accepted at creation) and migrate the database."""
    by_config: dict[tuple, list[str]] = {}
    for name, config in all_topics().items():
        by_config.setdefault(tuple(sorted(config.items())), []).append(name)
    for config, names in by_config.items():
        await create_topics(found.kafka, names, PARTITIONS, config=dict(config))
    store = await Store.open(found.database, migrate=True)
    await store.close()


@dataclass
class Parts:
    """The embedded broker and database, unless ONESTOP_KAFKA / ONESTOP_DATABASE_URL name real ones."""

    data_dir: Path
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None

    def start(self) -> Endpoints:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        kafka, database = kafka_from_env(), database_from_env()
        if kafka is None:
            self.broker = EmbeddedBroker(self.data_dir / "broker").start()
            kafka = self.broker.bootstrap
        if database is None:
            self.postgres = EmbeddedPostgres(self.data_dir / "pgdata").start()
            database = self.postgres.dsn
        return Endpoints(kafka, database)

    def stop(self) -> None:
        if self.postgres is not None:
            self.postgres.stop()
        if self.broker is not None:
            self.broker.stop()


@dataclass
class Workers:
    """Worker processes, each `python -m workers.cli worker NAME`, logging to log_dir/NAME.log."""

    found: Endpoints
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, names: list[str] | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in names or list(WORKERS):
            self.start_one(name)

    def start_one(self, name: str) -> None:
        env = {**os.environ, **self.extra_env, "ONESTOP_KAFKA": self.found.kafka, "ONESTOP_DATABASE_URL": self.found.database}
        log = open(self.log_dir / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "workers.cli", "worker", name], env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash would: no clean leave, no final commit."""
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def crashed(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is not None]

    def stop(self, timeout: float = 20.0) -> None:
        stop_processes(self.processes.values(), timeout)
        self.processes.clear()


def stop_processes(processes: Iterable[subprocess.Popen], timeout: float) -> None:
    """SIGTERM each, give them ``timeout`` seconds together to stop cleanly, then SIGKILL the rest."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def initialise_sync(found: Endpoints) -> None:
    asyncio.run(initialise(found))
