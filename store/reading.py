"""Reading the whole archive or ledger a page at a time, by place (store/records.py ``Place``):
no writer waits for a reader, and a reader never sees a row twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .records import START, ArchivedInput, Place


async def pages(read: Callable[..., Awaitable[list[Any]]], *, limit: int, **wanted: Any) -> AsyncIterator[list[Any]]:
    """Every page ``read`` gives (``store.inputs``, ``store.settlements``, ``store.record_documents``),
    each after the last place of the one before."""
    after: Place = START
    while page := await read(after=after, limit=limit, **wanted):
        yield page
        last = page[-1]
        after = last.place if isinstance(last, ArchivedInput) else last[0]


async def every(read: Callable[..., Awaitable[list[Any]]], *, limit: int = 50_000, **wanted: Any) -> list[Any]:
    """All of it, in order."""
    out: list[Any] = []
    async for page in pages(read, limit=limit, **wanted):
        out += page
    return out
