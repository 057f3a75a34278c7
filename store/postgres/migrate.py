"""Versioned migrations: store/migrations/NNNN_*.sql, applied in order, each in its own transaction."""

from __future__ import annotations

import logging
import re
from importlib import resources

import asyncpg

log = logging.getLogger(__name__)

_MIGRATION_FILE = re.compile(r"^(\d{4})_[A-Za-z0-9_\-]+\.sql$")
MIGRATE_LOCK = 0x6F6E6573746F70  # "onestop": session lock held while migrating


def migrations() -> list[tuple[int, str, str]]:
    """``(version, file name, SQL)`` of ``store/migrations/NNNN_*.sql``, in version order."""
    found = []
    for entry in (resources.files("store") / "migrations").iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append((int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migration files share a version: {[name for _, name, _ in found]}")
    return found


_CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""


async def apply_migrations(conn: asyncpg.Connection) -> list[int]:
    await conn.execute(_CREATE_SCHEMA_MIGRATIONS)
    done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        async with conn.transaction():
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
        log.info("applied migration %s", name)
        applied.append(version)
    return applied
