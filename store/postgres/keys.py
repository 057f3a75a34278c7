"""The registry of public keys (streams/signing.py): added once, revoked from a moment on."""
from __future__ import annotations

from datetime import datetime

import asyncpg

from schemas.keys import SigningKey


class Keys:
    _pool: asyncpg.Pool

    async def add_key(self, key: SigningKey) -> bool:
        """Register a public key; True if new. The same id with another key or signer is refused."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow("SELECT signer_kind, signer, public_key FROM signing_keys WHERE key_id = $1", key.key_id)
            if row is not None:
                if (row["signer_kind"], row["signer"], row["public_key"]) != (key.signer_kind, key.signer, key.public_key):
                    raise ValueError(f"key id {key.key_id} is registered for another key or signer; choose another id")
                return False
            await conn.execute(
                "INSERT INTO signing_keys (key_id, signer_kind, signer, public_key, valid_from, valid_to) VALUES ($1, $2, $3, $4, $5, $6)",
                key.key_id, key.signer_kind, key.signer, key.public_key, key.valid_from, key.valid_to)
            return True

    async def revoke_key(self, key_id: str, at: datetime) -> SigningKey:
        """Refuse the key's events received from ``at`` on (earlier ones stay valid)."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow("UPDATE signing_keys SET revoked_at = least(coalesce(revoked_at, $2), $2) WHERE key_id = $1 "
                                      "RETURNING *", key_id, at)
        if row is None:
            raise LookupError(f"no key {key_id!r} in the registry")
        return _key(row)

    async def signing_keys(self) -> dict[str, SigningKey]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM signing_keys ORDER BY key_id")
        return {row["key_id"]: _key(row) for row in rows}


def _key(row) -> SigningKey:
    return SigningKey(key_id=row["key_id"], signer_kind=row["signer_kind"], signer=row["signer"], public_key=row["public_key"],
                      valid_from=row["valid_from"], valid_to=row["valid_to"], revoked_at=row["revoked_at"])
