"""The real parts the live and store tests share: starting one or failing with the reason, and
databases of a test's own on the test PostgreSQL server (tests/conftest.py starts the server once
per session)."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from runtime.embedded import EmbeddedBroker, EmbeddedPostgres


def start_or_fail(part: EmbeddedBroker | EmbeddedPostgres, name: str) -> None:
    """Start *part*, or fail (never skip) the tests that need it, saying why."""
    try:
        part.start()
    except Exception as exc:  # noqa: BLE001 - any reason is reported, loudly
        reason = f"{name} could not start: {type(exc).__name__}: {exc}"
    else:
        return
    pytest.fail(reason, pytrace=False)


async def created_database(server: str) -> str:
    """A new, empty database on the server of ``server`` (a URL); its URL."""
    name = f"store_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


async def drop_database(server: str, url: str) -> None:
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'DROP DATABASE "{urlsplit(url).path[1:]}" WITH (FORCE)')
    finally:
        await admin.close()
