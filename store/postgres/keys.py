"""The registry of public keys (streams/signing.py): added once on its holder's proof of having the
private half (a challenge of this registry, signed), revoked from a moment on."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from schemas.keys import CHALLENGE_LIFETIME, KeyChallenge, KeyProof, ProofRefused, SigningKey, proof_refusal


class Keys:
    _pool: asyncpg.Pool

    async def key_challenge(self, now: datetime, lifetime: timedelta = CHALLENGE_LIFETIME) -> KeyChallenge:
        """A new random challenge for registering one key, good once until ``now + lifetime``."""
        issued = KeyChallenge.issue(now, lifetime)
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO key_challenges (challenge, issued_at, expires_at) VALUES ($1, $2, $3)",
                issued.challenge,
                issued.issued_at,
                issued.expires_at,
            )
        return issued

    async def add_key(self, key: SigningKey, proof: KeyProof, now: datetime) -> bool:
        """Register a public key on its holder's proof; True if new. The same id with another key or
        signer is refused. The challenge is locked, checked and used up in the key's own transaction,
        so two registrations cannot both use it."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT * FROM key_challenges WHERE challenge = $1 FOR UPDATE", proof.challenge)
            refusal = proof_refusal(key, proof, _challenge(row) if row else None, now)
            if refusal:
                raise ProofRefused(refusal)
            await conn.execute(
                "UPDATE key_challenges SET used_at = $2, key_id = $3, signature = $4 WHERE challenge = $1",
                proof.challenge,
                now,
                key.key_id,
                proof.signature,
            )
            known = await conn.fetchrow(
                "SELECT signer_kind, signer, public_key FROM signing_keys WHERE key_id = $1", key.key_id
            )
            if known is not None:
                if (known["signer_kind"], known["signer"], known["public_key"]) != (
                    key.signer_kind,
                    key.signer,
                    key.public_key,
                ):
                    raise ValueError(f"key id {key.key_id} is registered for another key or signer; choose another id")
                return False
            inserted = await conn.execute(
                "INSERT INTO signing_keys (key_id, signer_kind, signer, public_key, valid_from, valid_to)"
                " VALUES ($1, $2, $3, $4, $5, $6) "
                "ON CONFLICT (key_id) DO NOTHING",
                key.key_id,
                key.signer_kind,
                key.signer,
                key.public_key,
                key.valid_from,
                key.valid_to,
            )
            if inserted == "INSERT 0 0":  # registered at this moment by another: the same key, or refused as above
                raise ValueError(
                    f"key id {key.key_id} was registered at this moment by another registration;"
                    " list the keys and try again"
                )
            return True

    async def revoke_key(self, key_id: str, at: datetime) -> SigningKey:
        """Refuse the key's events received from ``at`` on (earlier ones stay valid)."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "UPDATE signing_keys SET revoked_at = least(coalesce(revoked_at, $2), $2) WHERE key_id = $1 "
                "RETURNING *",
                key_id,
                at,
            )
        if row is None:
            raise LookupError(f"no key {key_id!r} in the registry")
        return _key(row)

    async def signing_keys(self) -> dict[str, SigningKey]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM signing_keys ORDER BY key_id")
        return {row["key_id"]: _key(row) for row in rows}


def _key(row) -> SigningKey:
    return SigningKey(
        key_id=row["key_id"],
        signer_kind=row["signer_kind"],
        signer=row["signer"],
        public_key=row["public_key"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        revoked_at=row["revoked_at"],
    )


def _challenge(row) -> KeyChallenge:
    return KeyChallenge(
        challenge=row["challenge"],
        issued_at=row["issued_at"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
        key_id=row["key_id"],
    )
