"""The console's own tables (migration 0012): accounts, sessions, the record of every view of a
person's data, the actions its users took, and the auditor's background runs. Each write is one
statement, under the role onestop_console, which may not change or delete a view or an action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from .auth import LOCK_AFTER, LOCK_FOR, SESSION_IDLE, new_id
from .roles import Account


class AccountExists(ValueError):
    pass


class NotMigrated(RuntimeError):
    pass


@dataclass(frozen=True)
class View:
    account: str
    role: str
    psn_no: str
    page: str
    viewed_at: datetime


@dataclass(frozen=True)
class Action:
    account: str
    action: str
    detail: dict
    done_at: datetime


@dataclass(frozen=True)
class Job:
    job_id: int
    account: str
    kind: str
    state: str
    started_at: datetime
    ended_at: datetime | None
    result: dict | None


_ACCOUNT = "name, role, scope, failures, locked_until, disabled"


def _account(row: asyncpg.Record | None) -> Account | None:
    if row is None:
        return None
    return Account(row["name"], row["role"], tuple(row["scope"]), row["failures"], row["locked_until"], row["disabled"])


async def _jsonb(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, format="text"
    )


class ConsoleTables:
    """``await ConsoleTables.open(url)``: the console's tables on the console's database role."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> "ConsoleTables":
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4, init=_jsonb)
        try:
            if await pool.fetchval("SELECT to_regclass('console_accounts')") is None:
                raise NotMigrated(
                    "the database has no console tables yet (migration 0012): run `onestop init` (or `onestop up`)"
                )
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    # --- accounts

    async def add_account(self, name: str, role: str, scope: tuple[str, ...], password_hash: str, by: str) -> None:
        try:
            await self._pool.execute(
                "INSERT INTO console_accounts (name, role, scope, password_hash, created_by) "
                "VALUES ($1, $2, $3, $4, $5)",
                name,
                role,
                list(scope),
                password_hash,
                by,
            )
        except asyncpg.UniqueViolationError:
            raise AccountExists(f"there is an account {name!r} already") from None
        except asyncpg.CheckViolationError as error:
            raise ValueError(
                f"account {name!r} refused by the database: {error.constraint_name}: a name is 1-64 "
                "characters of A-Z a-z 0-9 . _ @ -"
            ) from None

    async def account(self, name: str) -> tuple[Account | None, str | None]:
        """The account and its password hash (None, None: no such account)."""
        row = await self._pool.fetchrow(f"SELECT {_ACCOUNT}, password_hash FROM console_accounts WHERE name = $1", name)
        return _account(row), row["password_hash"] if row else None

    async def accounts(self) -> list[Account]:
        return [
            _account(r) for r in await self._pool.fetch(f"SELECT {_ACCOUNT} FROM console_accounts ORDER BY role, name")
        ]

    async def wrong_password(self, name: str, now: datetime) -> Account | None:
        """Count a wrong password; the LOCK_AFTER-th in a row locks the account for LOCK_FOR."""
        return _account(
            await self._pool.fetchrow(
                f"UPDATE console_accounts SET failures = failures + 1, locked_until = CASE WHEN failures + 1 >= $2 "
                f"THEN $3 ELSE locked_until END WHERE name = $1 RETURNING {_ACCOUNT}",
                name,
                LOCK_AFTER,
                now + LOCK_FOR,
            )
        )

    async def right_password(self, name: str) -> None:
        await self._pool.execute("UPDATE console_accounts SET failures = 0, locked_until = NULL WHERE name = $1", name)

    async def unlock(self, name: str) -> bool:
        done = await self._pool.execute(
            "UPDATE console_accounts SET failures = 0, locked_until = NULL WHERE name = $1", name
        )
        return done.endswith(" 1")

    async def set_disabled(self, name: str, disabled: bool) -> bool:
        done = await self._pool.execute("UPDATE console_accounts SET disabled = $2 WHERE name = $1", name, disabled)
        if disabled:
            await self._pool.execute(
                "UPDATE console_sessions SET ended_at = now() WHERE account = $1 AND ended_at IS NULL", name
            )
        return done.endswith(" 1")

    async def set_password(self, name: str, password_hash: str) -> bool:
        done = await self._pool.execute(
            "UPDATE console_accounts SET password_hash = $2 WHERE name = $1", name, password_hash
        )
        return done.endswith(" 1")

    # --- sessions

    async def new_session(self, name: str) -> str:
        session_id = new_id()
        await self._pool.execute("INSERT INTO console_sessions (session_id, account) VALUES ($1, $2)", session_id, name)
        return session_id

    async def session(self, session_id: str, now: datetime) -> Account | None:
        """The account of a session still open (not ended, used within SESSION_IDLE, its account not
        disabled), which is seen now; else None."""
        row = await self._pool.fetchrow(
            f"UPDATE console_sessions AS s SET seen_at = $2 FROM console_accounts AS a "
            f"WHERE s.session_id = $1 AND a.name = s.account AND s.ended_at IS NULL AND s.seen_at > $3 "
            f"AND NOT a.disabled "
            f"RETURNING {', '.join('a.' + c.strip() for c in _ACCOUNT.split(','))}",
            session_id,
            now,
            now - SESSION_IDLE,
        )
        return _account(row)

    async def end_session(self, session_id: str) -> None:
        await self._pool.execute(
            "UPDATE console_sessions SET ended_at = now() WHERE session_id = $1 AND ended_at IS NULL", session_id
        )

    # --- what was seen and done

    async def record_view(self, account: Account, psn_no: str, page: str) -> None:
        await self._pool.execute(
            "INSERT INTO console_person_views (account, role, psn_no, page) VALUES ($1, $2, $3, $4)",
            account.name,
            account.role,
            psn_no,
            page,
        )

    async def views(self, psn_no: str | None = None, account: str | None = None, limit: int = 500) -> list[View]:
        rows = await self._pool.fetch(
            "SELECT account, role, psn_no, page, viewed_at FROM console_person_views "
            "WHERE ($1::text IS NULL OR psn_no = $1) AND ($2::text IS NULL OR account = $2) "
            "ORDER BY view_id DESC LIMIT $3",
            psn_no,
            account,
            limit,
        )
        return [View(**dict(r)) for r in rows]

    async def record_action(self, account: str, action: str, detail: dict[str, Any] | None = None) -> None:
        await self._pool.execute(
            "INSERT INTO console_actions (account, action, detail) VALUES ($1, $2, $3)", account, action, detail or {}
        )

    async def actions(self, action: str | None = None, limit: int = 500) -> list[Action]:
        rows = await self._pool.fetch(
            "SELECT account, action, detail, done_at FROM console_actions "
            "WHERE $1::text IS NULL OR action = $1 ORDER BY action_id DESC LIMIT $2",
            action,
            limit,
        )
        return [Action(**dict(r)) for r in rows]

    # --- the auditor's runs

    async def start_job(self, account: str, kind: str) -> int:
        return await self._pool.fetchval(
            "INSERT INTO console_jobs (account, kind, state) VALUES ($1, $2, 'running') RETURNING job_id", account, kind
        )

    async def end_job(self, job_id: int, state: str, result: dict) -> None:
        await self._pool.execute(
            "UPDATE console_jobs SET state = $2, ended_at = now(), result = $3 WHERE job_id = $1", job_id, state, result
        )

    async def abandon_running_jobs(self) -> None:
        """Runs that were going when the console stopped never end: say so."""
        await self._pool.execute(
            "UPDATE console_jobs SET state = 'failed', ended_at = now(), result = $1 WHERE state = 'running'",
            {"error": "the console stopped during the run"},
        )

    async def jobs(self, limit: int = 20) -> list[Job]:
        rows = await self._pool.fetch(
            "SELECT job_id, account, kind, state, started_at, ended_at, result FROM console_jobs "
            "ORDER BY job_id DESC LIMIT $1",
            limit,
        )
        return [Job(**dict(r)) for r in rows]

    async def job(self, job_id: int) -> Job | None:
        row = await self._pool.fetchrow(
            "SELECT job_id, account, kind, state, started_at, ended_at, result FROM console_jobs WHERE job_id = $1",
            job_id,
        )
        return Job(**dict(row)) if row else None
