"""The real parts a system needs, and getting them ready: the embedded broker and PostgreSQL
unless ONESTOP_KAFKA / ONESTOP_DATABASE_URL name real ones; every topic created, the schema migrated."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from schemas.settings import WORKER_KINDS, settings
from store import open_store
from store.roles import url_for
from streams.admin import create_topics
from streams.topics import DISCHARGED, all_topics

from .embedded import EmbeddedBroker, EmbeddedPostgres
from .endpoints import Endpoints, worker_url


async def initialise(found: Endpoints) -> None:
    """Create every topic (config is only accepted at creation), migrate the database, and give the
    workers', the administrator's and the console's roles the passwords their URLs name (ONESTOP_<KIND>_DATABASE_URL,
    else ONESTOP_WORKER_DATABASE_URL for every kind; ONESTOP_ADMIN_DATABASE_URL; ONESTOP_CONSOLE_DATABASE_URL)."""
    by_config: dict[tuple, list[str]] = {}
    for name, config in all_topics().items():
        by_config.setdefault(tuple(sorted(config.items())), []).append(name)
    created: list[str] = []
    for config, names in by_config.items():
        created += await create_topics(found.kafka, names, settings.partitions, config=dict(config))
    store = await open_store(found.database, migrate=True)
    try:
        if DISCHARGED in created:  # the topics are new: offsets start again at 0, in a new life
            await store.begin_life(found.kafka)
        urls = [url_for(kind, settings.worker_database_url or "") for kind in WORKER_KINDS]
        for url in [*urls, settings.admin_database_url or "", settings.console_database_url or ""]:
            named = urlsplit(url)
            if named.username and named.username.startswith("onestop_") and named.password:
                await store.set_role_password(named.username, unquote(named.password))
    finally:
        await store.close()


def initialise_sync(found: Endpoints) -> None:
    asyncio.run(initialise(found))


@dataclass
class Parts:
    """The embedded broker and database, unless ONESTOP_KAFKA / ONESTOP_DATABASE_URL name real ones."""

    data_dir: Path
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None

    def start(self) -> Endpoints:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        kafka, database = settings.kafka, settings.database_url
        if kafka is None:
            self.broker = EmbeddedBroker(self.data_dir / "broker").start()
            kafka = self.broker.bootstrap
        if database is None:
            self.postgres = EmbeddedPostgres(self.data_dir / "pgdata").start()
            database = self.postgres.dsn
        return Endpoints(kafka, database, worker_url(database))

    def stop(self) -> None:
        if self.postgres is not None:
            self.postgres.stop()
        if self.broker is not None:
            self.broker.stop()
