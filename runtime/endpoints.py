"""Where the broker and the database are: ONESTOP_KAFKA / ONESTOP_DATABASE_URL, or a running `onestop up`.

`onestop up` writes `.onestop/runtime.json` in the project directory (the current directory, or
ONESTOP_HOME) so that the other commands find its embedded broker and database by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson

from schemas.settings import settings


def home() -> Path:
    return settings.home


def runtime_file() -> Path:
    return home() / "runtime.json"


@dataclass(frozen=True)
class Endpoints:
    kafka: str
    database: str  # the owner's URL: migrations, operators' commands
    worker_database: str | None = None  # the workers' URL: a role that cannot change the schema

    @property
    def for_workers(self) -> str:
        return self.worker_database or self.database

    @property
    def for_admin(self) -> str:
        """The URL the key registry's commands use: the administrator's role (admin_url), else the owner's."""
        return admin_url(self.database) or self.database

    @property
    def for_console(self) -> str:
        """The URL the web console uses: its own role (console_url), else the owner's."""
        return console_url(self.database) or self.database


def worker_url(owner_url: str) -> str | None:
    """The URL workers connect with: ONESTOP_WORKER_DATABASE_URL; else, on a database reached by a
    local socket (the embedded PostgreSQL), the same database as the role onestop_worker
    (migration 0005); else None (the workers use ONESTOP_DATABASE_URL)."""
    return settings.worker_database_url or _as_role(owner_url, "onestop_worker")


def admin_url(owner_url: str) -> str | None:
    """The URL the administrator's commands (`onestop keys …`) connect with: ONESTOP_ADMIN_DATABASE_URL;
    else, on a database reached by a local socket (the embedded PostgreSQL), the same database as
    the role onestop_admin (migration 0008); else None (they use ONESTOP_DATABASE_URL)."""
    return settings.admin_database_url or _as_role(owner_url, "onestop_admin")


def console_url(owner_url: str) -> str | None:
    """The URL the web console connects with: ONESTOP_CONSOLE_DATABASE_URL; else, on a database
    reached by a local socket (the embedded PostgreSQL), the same database as the role
    onestop_console (migration 0012); else None (it uses ONESTOP_DATABASE_URL)."""
    return settings.console_database_url or _as_role(owner_url, "onestop_console")


def _as_role(owner_url: str, role: str) -> str | None:
    """The same database as ``role``, when it is reached by a local socket (no password needed); else None."""
    parts = urlsplit(owner_url)
    if "host=/" not in parts.query:
        return None
    netloc = role + "@" + parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc))


class NotRunning(RuntimeError):
    pass


def endpoints() -> Endpoints:
    """The environment's endpoints, else those of the `onestop up` running for this directory."""
    kafka, database = settings.kafka, settings.database_url
    if kafka and database:
        return Endpoints(kafka, database)
    path = runtime_file()
    if not path.is_file():
        raise NotRunning(
            "no broker and database to talk to: start them with `onestop up` in this directory, "
            "or set ONESTOP_KAFKA and ONESTOP_DATABASE_URL"
        )
    running = orjson.loads(path.read_bytes())
    return Endpoints(kafka or running["kafka"], database or running["database"], running.get("worker_database"))


def write_runtime(found: Endpoints, pid: int) -> None:
    runtime_file().parent.mkdir(parents=True, exist_ok=True)
    runtime_file().write_bytes(
        orjson.dumps(
            {"kafka": found.kafka, "database": found.database, "worker_database": found.worker_database, "pid": pid}
        )
    )


def clear_runtime() -> None:
    runtime_file().unlink(missing_ok=True)
