"""The registry of public keys in memory (store/postgres/keys.py): added once on its holder's proof
of having the private half (a challenge of this registry, signed), revoked from a moment on."""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.keys import CHALLENGE_LIFETIME, KeyChallenge, KeyProof, ProofRefused, SigningKey, proof_refusal

from .rows import utc
from .tables import Memory


class Keys:
    _m: Memory

    async def key_challenge(self, now: datetime, lifetime: timedelta = CHALLENGE_LIFETIME) -> KeyChallenge:
        """A new random challenge for registering one key, good once until ``now + lifetime``."""
        async with self._m.transaction() as m:
            issued = KeyChallenge.issue(utc(now), lifetime)
            m.set(m.t.challenges, issued.challenge, issued)
            return issued

    async def add_key(self, key: SigningKey, proof: KeyProof, now: datetime) -> bool:
        """Register a public key on its holder's proof; True if new. The same id with another key or
        signer is refused. The challenge is checked and used up in the key's own transaction."""
        async with self._m.transaction() as m:
            refusal = proof_refusal(key, proof, m.t.challenges.get(proof.challenge), utc(now))
            if refusal:
                raise ProofRefused(refusal)
            m.set(
                m.t.challenges,
                proof.challenge,
                m.t.challenges[proof.challenge].model_copy(update={"used_at": utc(now), "key_id": key.key_id}),
            )
            known = m.t.keys.get(key.key_id)
            if known is not None:
                if (known.signer_kind, known.signer, known.public_key) != (key.signer_kind, key.signer, key.public_key):
                    raise ValueError(f"key id {key.key_id} is registered for another key or signer; choose another id")
                return False
            m.set(
                m.t.keys,
                key.key_id,
                SigningKey(
                    key_id=key.key_id,
                    signer_kind=key.signer_kind,
                    signer=key.signer,
                    public_key=key.public_key,
                    valid_from=utc(key.valid_from),
                    valid_to=utc(key.valid_to) if key.valid_to else None,
                    revoked_at=utc(key.revoked_at) if key.revoked_at else None,
                ),
            )
            return True

    async def revoke_key(self, key_id: str, at: datetime) -> SigningKey:
        """Refuse the key's events received from ``at`` on (earlier ones stay valid)."""
        async with self._m.transaction() as m:
            known = m.t.keys.get(key_id)
            if known is None:
                raise LookupError(f"no key {key_id!r} in the registry")
            revoked = min(known.revoked_at or utc(at), utc(at))
            m.set(m.t.keys, key_id, known.model_copy(update={"revoked_at": revoked}))
            return m.t.keys[key_id]

    async def signing_keys(self) -> dict[str, SigningKey]:
        """Every registered key by id."""
        async with self._m.transaction() as m:
            return {key_id: m.t.keys[key_id] for key_id in sorted(m.t.keys)}
