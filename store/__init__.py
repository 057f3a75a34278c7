"""Where the money state lives: the idempotent ledger behind one interface, chosen by URL
(as faust chooses its stores): ``postgresql://…`` the PostgreSQL store, ``memory://`` one in
this process's memory (tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .errors import DATABASE_AWAY
from .interface import Attach, Store
from .records import (
    LEDGER_WORKER,
    START,
    ArchivedInput,
    Arrival,
    ArrivedClaim,
    ClaimReceipt,
    DroppedParked,
    InputReceipt,
    Outbox,
    Parked,
    Place,
    QueueItem,
    StalledClaim,
)

__all__ = [
    "DATABASE_AWAY",
    "LEDGER_WORKER",
    "START",
    "ArchivedInput",
    "ArrivedClaim",
    "Arrival",
    "Attach",
    "ClaimReceipt",
    "DroppedParked",
    "InputReceipt",
    "Outbox",
    "Parked",
    "Place",
    "QueueItem",
    "StalledClaim",
    "Store",
    "open_store",
    "store_at",
]


async def open_store(url: str, *, migrate: bool = True, **options) -> Store:
    """The store ``url`` names, open (and migrated unless ``migrate`` is False)."""
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return await PostgresStore.open(url, migrate=migrate, **options)
    if url.startswith("memory://"):
        from .memory import MemoryStore

        return MemoryStore.named(url)
    raise ValueError(f"no store for {url!r}: use a postgresql:// URL, or memory:// in tests")


@asynccontextmanager
async def store_at(url: str, *, migrate: bool = False, **options) -> AsyncIterator[Store]:
    """``async with store_at(url) as store:`` an open store, closed on leaving."""
    store = await open_store(url, migrate=migrate, **options)
    try:
        yield store
    finally:
        await store.close()
