"""Passwords, signed cookies, CSRF tokens, and when an account locks.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommendation).
A cookie carries a random id and an HMAC-SHA256 of it under the console's secret, so a cookie the
server did not make is refused; the session itself (who, since when, ended or not) is in
PostgreSQL, so signing out or disabling an account ends it at once. A form's CSRF token is an HMAC
of the session it belongs to: a page of another site cannot read it, so cannot post it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from schemas.settings import settings

#: wrong passwords in a row that lock an account, and for how long
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
#: a session unused this long is over
SESSION_IDLE = timedelta(minutes=30)
MIN_PASSWORD = 12

_HASHER = PasswordHasher()
#: verified against when the account does not exist, so that a wrong name takes as long as a wrong password
_NOBODY = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from (None: no such account,
    checked all the same)."""
    try:
        return _HASHER.verify(password_hash or _NOBODY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str) -> str | None:
    """Why a new password will not do, or None."""
    if len(password) < MIN_PASSWORD:
        return f"a password has at least {MIN_PASSWORD} characters"
    if password.strip() != password or not password.isprintable():
        return "a password has no leading or trailing space and no control character"
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class Signer:
    """Cookies and CSRF tokens, signed with the console's secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the console's secret must have at least 32 characters (ONESTOP_CONSOLE_SECRET)")
        self._secret = secret

    def _mac(self, purpose: str, value: str) -> str:
        return _b64(hmac.new(self._secret, f"{purpose}\n{value}".encode(), hashlib.sha256).digest())

    def sign(self, value: str) -> str:
        return f"{value}.{self._mac('cookie', value)}"

    def unsign(self, token: str | None) -> str | None:
        """The value a cookie carries if this server signed it, else None."""
        value, dot, mac = (token or "").rpartition(".")
        if not dot or not value or not hmac.compare_digest(mac, self._mac("cookie", value)):
            return None
        return value

    def csrf_token(self, session_id: str) -> str:
        return self._mac("csrf", session_id)

    def csrf_ok(self, session_id: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session_id))


def new_id() -> str:
    return secrets.token_urlsafe(32)


def console_secret(home: Path | None = None) -> bytes:
    """ONESTOP_CONSOLE_SECRET, else a random secret kept (0600) in .onestop/console-secret, made once."""
    if settings.console_secret:
        return settings.console_secret.encode()
    path = (home or settings.home) / "console-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_bytes().strip()
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_bytes().strip()
