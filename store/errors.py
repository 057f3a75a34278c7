"""When the database is away or restarting: the work is retried on a new connection, never skipped."""

from __future__ import annotations

import asyncio

import asyncpg

DATABASE_AWAY: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,  # includes ConnectionDoesNotExistError
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, admin shutdown
    asyncpg.exceptions.InternalClientError,  # a connection left mid-operation by a lost server
    asyncpg.exceptions.CannotConnectNowError,
)
