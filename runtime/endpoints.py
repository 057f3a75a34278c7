"""Where the broker and the database are: ONESTOP_KAFKA / ONESTOP_DATABASE_URL, or a running `onestop up`.

`onestop up` writes `.onestop/runtime.json` in the project directory (the current directory, or
ONESTOP_HOME) so that the other commands find its embedded broker and database by themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from schemas.settings import settings


def home() -> Path:
    return settings.home


def runtime_file() -> Path:
    return home() / "runtime.json"


@dataclass(frozen=True)
class Endpoints:
    kafka: str
    database: str


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
    return Endpoints(kafka or running["kafka"], database or running["database"])


def write_runtime(found: Endpoints, pid: int) -> None:
    runtime_file().parent.mkdir(parents=True, exist_ok=True)
    runtime_file().write_bytes(orjson.dumps({"kafka": found.kafka, "database": found.database, "pid": pid}))


def clear_runtime() -> None:
    runtime_file().unlink(missing_ok=True)
