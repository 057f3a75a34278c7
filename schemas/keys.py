"""Who may speak for whom: the public keys of hospitals and authorities, what each may sign, and
the proof a key's holder gives that it has the private half before the key is registered."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Literal

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict

from .codes import Authority, Identifier, NonEmpty

#: how long a registration challenge may be answered: time to pass it to the key's holder and back
CHALLENGE_LIFETIME = timedelta(hours=24)


class SigningKey(BaseModel):
    """A public key in the registry, bound to the one hospital or authority it speaks for.

    A hospital key (``signer_kind`` hospital, ``signer`` its fixmedins_code) signs that hospital's
    claims and cancellations; an authority key (``signer`` an authority code) signs changes of the
    categories that authority issues, and a key of ``medical_insurance`` the year-end closes. An
    event is refused when it arrives, or when its own time falls (a claim's discharge, a
    cancellation's ``cancelled_at`` …: streams/signing.py ``event_time``), outside
    [valid_from, valid_to), or when it arrives from the moment the key is revoked; earlier ones stay valid.
    """

    model_config = ConfigDict(frozen=True)
    key_id: Identifier
    signer_kind: Literal["hospital", "authority"]
    signer: Identifier  # a hospital's fixmedins_code, or an authority's code
    public_key: NonEmpty  # Ed25519, the 32 raw bytes in base64
    valid_from: datetime
    valid_to: datetime | None = None
    revoked_at: datetime | None = None

    def authority(self) -> Authority | None:
        return Authority(self.signer) if self.signer_kind == "authority" else None


class KeyFile(BaseModel):
    """A signer's own key file (kept secret by the hospital or authority): the private key with its id."""

    key_id: str
    signer_kind: Literal["hospital", "authority"]
    signer: str
    private_key: str  # Ed25519, the 32 raw bytes in base64
    public_key: str


class KeyChallenge(BaseModel):
    """A random challenge the registry issues for one key registration: answered once, before it expires."""

    model_config = ConfigDict(frozen=True)
    challenge: NonEmpty
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    key_id: str | None = None  # the key registered with it

    @classmethod
    def issue(cls, now: datetime, lifetime: timedelta = CHALLENGE_LIFETIME) -> "KeyChallenge":
        return cls(challenge=secrets.token_urlsafe(24), issued_at=now, expires_at=now + lifetime)


class KeyProof(BaseModel):
    """A public key and its holder's proof of having the private half (`onestop keys prove`): the
    key's signature of a statement that binds a registry's challenge to this key id, signer and
    public key. The administrator registers the key from it (`onestop keys add`)."""

    model_config = ConfigDict(frozen=True)
    key_id: NonEmpty
    signer_kind: Literal["hospital", "authority"]
    signer: NonEmpty
    public_key: NonEmpty
    challenge: NonEmpty
    signature: NonEmpty  # Ed25519 of registration_statement(...), base64

    def key(self, valid_from: datetime, valid_to: datetime | None = None) -> SigningKey:
        """The key this proof is for, valid over [valid_from, valid_to)."""
        return SigningKey(
            key_id=self.key_id,
            signer_kind=self.signer_kind,
            signer=self.signer,
            public_key=self.public_key,
            valid_from=valid_from,
            valid_to=valid_to,
        )


class ProofRefused(ValueError):
    """A key registration refused: no, a wrong, a reused or an expired proof of possession; ``str()`` says why."""


def registration_statement(challenge: str, key_id: str, signer_kind: str, signer: str, public_key: str) -> bytes:
    """The bytes a key's holder signs to register it. The prefix is not JSON, so no signed event can
    ever pass for a proof, nor a proof for an event."""
    fields = {
        "challenge": challenge,
        "key_id": key_id,
        "signer_kind": signer_kind,
        "signer": signer,
        "public_key": public_key,
    }
    return b"onestop key registration\n" + orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def signature_holds(public_key: str, signature: str, data: bytes) -> bool:
    """Whether ``signature`` (base64) is the Ed25519 signature of ``data`` by ``public_key`` (base64)."""
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key)).verify(base64.b64decode(signature), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def proof_refusal(key: SigningKey, proof: KeyProof, issued: KeyChallenge | None, now: datetime) -> str | None:
    """Why registering ``key`` with ``proof`` is refused (None: it may be), given the challenge as the
    registry issued it (None: it never did). One rule for every store."""
    signed = registration_statement(proof.challenge, key.key_id, key.signer_kind, key.signer, key.public_key)
    if not signature_holds(key.public_key, proof.signature, signed):
        return (
            f"the proof does not hold for key {key.key_id} of {key.signer_kind} {key.signer} with this public key: "
            f"it was signed by another key, or made for another key id, signer or challenge"
        )
    if issued is None:
        return (
            f"challenge {proof.challenge!r} was not issued by this registry: ask for one with `onestop keys challenge`"
        )
    if issued.used_at is not None:
        return (
            f"challenge {proof.challenge!r} was used at {issued.used_at:%Y-%m-%d %H:%M:%S} (for key {issued.key_id}): "
            f"a proof is good once; ask for a new challenge"
        )
    if now >= issued.expires_at:
        return f"challenge {proof.challenge!r} expired at {issued.expires_at:%Y-%m-%d %H:%M:%S}: ask for a new one"
    return None
