"""Databases of a test module's own on the test PostgreSQL server."""
from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg


async def _created_database(server: str) -> str:
    """A new, empty database on the server of ``server`` (a URL); its URL."""
    name = f"store_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


async def _drop_database(server: str, url: str) -> None:
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'DROP DATABASE "{urlsplit(url).path[1:]}" WITH (FORCE)')
    finally:
        await admin.close()
