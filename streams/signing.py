"""Signed events: trust travels with the record (Kafka's own authentication says who connected,
not which hospital or authority a record speaks for).

A producer signs the exact bytes it publishes with its Ed25519 key; the signature and the key's
id travel in the record's headers (``onestop-key``, ``onestop-signature``), the event's fields
unchanged (CONTRACTS.md). A worker verifies the bytes it received against the registry of public
keys, then that the key may speak for what the event says (:func:`entitled`). One byte changed
and the signature fails.
"""
from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat, PublicFormat, NoEncryption

from schemas.codes import ISSUING_AUTHORITY
from schemas.events import ClaimCancellation, DischargeClaim, EligibilityChange
from schemas.keys import KeyFile, SigningKey
from schemas.nhsa import PresettleRequest

KEY_HEADER = "onestop-key"
SIGNATURE_HEADER = "onestop-signature"
Headers = Sequence[tuple[str, bytes]]


class Untrusted(ValueError):
    """An event that is not signed by a key entitled to it; ``str()`` says why."""


def new_key(key_id: str, signer_kind: str, signer: str) -> KeyFile:
    """A fresh Ed25519 key pair for one hospital or authority."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return KeyFile(key_id=key_id, signer_kind=signer_kind, signer=signer,
                   private_key=base64.b64encode(raw).decode(), public_key=base64.b64encode(public).decode())


def sign(value: bytes, key: KeyFile) -> list[tuple[str, bytes]]:
    """The headers that sign ``value`` with ``key``."""
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(key.private_key))
    return [(KEY_HEADER, key.key_id.encode()), (SIGNATURE_HEADER, base64.b64encode(private.sign(value)))]


def signer_of(value: bytes, headers: Headers, keys: Mapping[str, SigningKey], received_at: datetime) -> SigningKey:
    """The registered key that signed exactly these bytes and was in force when they were received."""
    found = dict(headers or ())
    if KEY_HEADER not in found or SIGNATURE_HEADER not in found:
        raise Untrusted("unsigned: the event carries no onestop-key / onestop-signature headers")
    key_id = found[KEY_HEADER].decode(errors="replace")
    key = keys.get(key_id)
    if key is None:
        raise Untrusted(f"signed by an unknown key {key_id!r}")
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(key.public_key)).verify(base64.b64decode(found[SIGNATURE_HEADER]), value)
    except (InvalidSignature, ValueError):
        raise Untrusted(f"the signature by key {key_id} does not match the event's bytes (altered, or signed by another key)") from None
    if key.revoked_at is not None and received_at >= key.revoked_at:
        raise Untrusted(f"key {key_id} was revoked at {key.revoked_at:%Y-%m-%d %H:%M:%S}")
    if received_at < key.valid_from:
        raise Untrusted(f"key {key_id} is valid only from {key.valid_from:%Y-%m-%d}")
    if key.valid_to is not None and received_at >= key.valid_to:
        raise Untrusted(f"key {key_id} expired at {key.valid_to:%Y-%m-%d}")
    return key


def entitled(key: SigningKey, event: DischargeClaim | ClaimCancellation | PresettleRequest | EligibilityChange) -> None:
    """Raise Untrusted unless the key may speak for this event: a hospital for its own claims,
    cancellations and pre-settlement requests, an authority for changes of the categories it issues
    (DOMAIN.md)."""
    if isinstance(event, (DischargeClaim, ClaimCancellation)):
        what = ("pre-settlement requests" if isinstance(event, PresettleRequest)  # (a PresettleRequest is a DischargeClaim)
                else "claims" if isinstance(event, DischargeClaim) else "cancellations")
        if key.signer_kind != "hospital":
            raise Untrusted(f"key {key.key_id} is {key.signer}'s, an authority's: only a hospital signs {what}")
        if not event.fixmedins_code:
            raise Untrusted(f"signed {what} must name their hospital (fixmedins_code) for the key to speak for it")
        if event.fixmedins_code != key.signer:
            raise Untrusted(f"key {key.key_id} speaks for hospital {key.signer}, not for hospital {event.fixmedins_code}")
        return
    if key.signer_kind != "authority":
        raise Untrusted(f"key {key.key_id} is hospital {key.signer}'s: only an authority signs eligibility changes")
    if event.authority.value != key.signer:
        raise Untrusted(f"key {key.key_id} speaks for {key.signer}, not for {event.authority.value}")
    issuer = ISSUING_AUTHORITY[event.category]
    if issuer != event.authority:
        raise Untrusted(f"{event.category.value} is issued by {issuer.value}, not by {event.authority.value}")


def now() -> datetime:
    return datetime.now(timezone.utc)
