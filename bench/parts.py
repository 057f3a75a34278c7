"""Fresh embedded parts for a bench run: its own broker and PostgreSQL in a directory of its own,
whatever ONESTOP_KAFKA / ONESTOP_DATABASE_URL name (the chaos run stops and starts this PostgreSQL;
the pipeline benchmark measures on nothing else)."""

from __future__ import annotations

from pathlib import Path

from runtime.embedded import EmbeddedBroker, EmbeddedPostgres
from runtime.endpoints import Endpoints, worker_url
from runtime.parts import Parts


def start_embedded(work: Path) -> tuple[Parts, Endpoints]:
    """The embedded broker and PostgreSQL started in ``work``, and where they are."""
    parts = Parts(work)
    work.mkdir(parents=True, exist_ok=True)
    parts.broker = EmbeddedBroker(work / "broker").start()
    try:
        parts.postgres = EmbeddedPostgres(work / "pgdata").start()
    except BaseException:
        parts.stop()
        raise
    return parts, Endpoints(parts.broker.bootstrap, parts.postgres.dsn, worker_url(parts.postgres.dsn))
