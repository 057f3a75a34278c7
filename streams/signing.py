"""Signed events: trust travels with the record (Kafka's own authentication says who connected,
not which hospital or authority a record speaks for).

A producer signs the exact bytes it publishes with its Ed25519 key; the signature and the key's
id travel in the record's headers (``onestop-key``, ``onestop-signature``), the event's fields
unchanged (CONTRACTS.md). A worker (:func:`verified`) checks the bytes it received against the
registry of public keys and that the key was in force when they arrived, then reads them, checks
that the key was valid at the event's own time (:func:`event_time`) and that it may speak for
what the event says (:func:`entitled`). One byte changed and the signature fails.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from pydantic import BaseModel

from schemas.codes import Authority, issuing_authority
from schemas.events import (
    ClaimCancellation,
    DischargeClaim,
    EligibilityChange,
    EnrollmentChange,
    PremiumRoll,
    YearEndClose,
)
from schemas.keys import KeyFile, KeyProof, SigningKey, registration_statement, signature_holds
from schemas.nhsa import PresettleRequest

KEY_HEADER = "onestop-key"
SIGNATURE_HEADER = "onestop-signature"
Headers = Sequence[tuple[str, bytes]]
E = TypeVar("E", bound=BaseModel)

#: the events only a key of the authority that runs the funds signs (CONTRACTS.md)
SIGNED_BY_MEDICAL_INSURANCE: dict[type, str] = {
    YearEndClose: "year-end closes",
    EnrollmentChange: "enrollment changes",
    PremiumRoll: "premium rolls",
}


class Untrusted(ValueError):
    """An event that is not signed by a key entitled to it; ``str()`` says why."""


@dataclass(frozen=True)
class EventTime:
    """When an event happened by its own account, and which field says so (for the reason of a refusal)."""

    field: str
    at: date | datetime


#: the field that dates each kind of event; None: the event is dated by its arrival
TIME_FIELD: dict[type, str | None] = {
    PresettleRequest: None,  # a question asked now (a subclass of DischargeClaim: it comes first)
    DischargeClaim: "enddate",
    ClaimCancellation: "cancelled_at",
    EligibilityChange: "recorded_at",
    YearEndClose: "recorded_at",
    EnrollmentChange: "recorded_at",
    PremiumRoll: "recorded_at",
}


def event_time(event: BaseModel, received_at: datetime) -> EventTime:
    """The event's own time: a claim's discharge (``enddate``), a cancellation's ``cancelled_at``, an
    eligibility change's ``recorded_at``, a close's ``recorded_at``; a pre-settlement request, or a
    kind named nowhere here, its arrival."""
    for kind in type(event).__mro__:
        if kind in TIME_FIELD:
            name = TIME_FIELD[kind]
            return EventTime(name, getattr(event, name)) if name else EventTime("arrival", received_at)
    return EventTime("arrival", received_at)


def new_key(key_id: str, signer_kind: str, signer: str) -> KeyFile:
    """A fresh Ed25519 key pair for one hospital or authority."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return KeyFile(
        key_id=key_id,
        signer_kind=signer_kind,
        signer=signer,
        private_key=base64.b64encode(raw).decode(),
        public_key=base64.b64encode(public).decode(),
    )


def _signature(data: bytes, key: KeyFile) -> bytes:
    return base64.b64encode(Ed25519PrivateKey.from_private_bytes(base64.b64decode(key.private_key)).sign(data))


def sign(value: bytes, key: KeyFile) -> list[tuple[str, bytes]]:
    """The headers that sign ``value`` with ``key``."""
    return [(KEY_HEADER, key.key_id.encode()), (SIGNATURE_HEADER, _signature(value, key))]


def prove(key: KeyFile, challenge: str) -> KeyProof:
    """The holder's proof of having ``key``'s private half, for registering it against ``challenge``."""
    statement = registration_statement(challenge, key.key_id, key.signer_kind, key.signer, key.public_key)
    return KeyProof(
        key_id=key.key_id,
        signer_kind=key.signer_kind,
        signer=key.signer,
        public_key=key.public_key,
        challenge=challenge,
        signature=_signature(statement, key).decode(),
    )


def verified(
    value: bytes, headers: Headers, keys: Mapping[str, SigningKey], received_at: datetime, read: Callable[[bytes], E]
) -> tuple[SigningKey, E]:
    """The event these bytes carry (``read`` makes it) and the registered key entitled to it that
    signed them. The signature is checked on the bytes as received before they are read (an
    altered event is refused as altered, whatever else is wrong with it); then the key's validity
    at the event's own time (:func:`event_time`), then that it may speak for the event."""
    key = signer_of(value, headers, keys, received_at)
    event = read(value)
    valid_at(key, event_time(event, received_at))
    entitled(key, event)
    return key, event


def signer_of(value: bytes, headers: Headers, keys: Mapping[str, SigningKey], received_at: datetime) -> SigningKey:
    """The registered key that signed exactly these bytes and was in force when they were received."""
    found = dict(headers or ())
    if KEY_HEADER not in found or SIGNATURE_HEADER not in found:
        raise Untrusted("unsigned: the event carries no onestop-key / onestop-signature headers")
    key_id = found[KEY_HEADER].decode(errors="replace")
    key = keys.get(key_id)
    if key is None:
        raise Untrusted(f"signed by an unknown key {key_id!r}")
    if not signature_holds(key.public_key, found[SIGNATURE_HEADER].decode(errors="replace"), value):
        raise Untrusted(
            f"the signature by key {key_id} does not match the event's bytes (altered, or signed by another key)"
        )
    if key.revoked_at is not None and received_at >= key.revoked_at:
        raise Untrusted(f"key {key_id} was revoked at {key.revoked_at:%Y-%m-%d %H:%M:%S}")
    if received_at < key.valid_from:
        raise Untrusted(f"key {key_id} is valid only from {key.valid_from:%Y-%m-%d %H:%M:%S}: the event arrived before")
    if key.valid_to is not None and received_at >= key.valid_to:
        raise Untrusted(f"key {key_id} expired at {key.valid_to:%Y-%m-%d %H:%M:%S}, before the event arrived")
    return key


def valid_at(key: SigningKey, happened: EventTime) -> None:
    """Raise Untrusted unless the event's own time is inside the key's validity: a key registered
    today does not sign a claim of a 2021 discharge unless its validity reaches back to it. A date
    (a discharge) is inside when some moment of that day (UTC) is: a key valid from noon signs that
    day's claims."""
    at = happened.at
    if isinstance(at, datetime):
        first = last = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        shown = f"{at:%Y-%m-%d %H:%M:%S}"
    else:
        first = datetime.combine(at, time(), timezone.utc)
        last = first + timedelta(days=1) - timedelta(microseconds=1)
        shown = f"{at:%Y-%m-%d}"
    if last < key.valid_from:
        raise Untrusted(
            f"key {key.key_id} was not yet valid at the event's own time: its {happened.field} is {shown}, "
            f"the key is valid from {key.valid_from:%Y-%m-%d %H:%M:%S}"
        )
    if key.valid_to is not None and first >= key.valid_to:
        raise Untrusted(
            f"key {key.key_id} had expired at the event's own time: its {happened.field} is {shown}, "
            f"the key expired at {key.valid_to:%Y-%m-%d %H:%M:%S}"
        )


def entitled(key: SigningKey, event: BaseModel) -> None:
    """Raise Untrusted unless the key may speak for this event: a hospital for its own claims,
    cancellations and pre-settlement requests, an authority for changes of the categories it issues
    (DOMAIN.md), the authority medical_insurance for year-end closes, enrollment changes and premium
    rolls (CONTRACTS.md)."""
    if isinstance(event, (DischargeClaim, ClaimCancellation)):
        _hospital_entitled(key, event)
    elif isinstance(event, EligibilityChange):
        _authority_entitled(key, event)
    elif type(event) in SIGNED_BY_MEDICAL_INSURANCE:
        what = SIGNED_BY_MEDICAL_INSURANCE[type(event)]
        if key.signer_kind != "authority" or key.signer != Authority.medical_insurance.value:
            owner = f"hospital {key.signer}'s" if key.signer_kind == "hospital" else f"{key.signer}'s"
            raise Untrusted(f"key {key.key_id} is {owner}: only a key of the authority medical_insurance signs {what}")
    else:
        raise Untrusted(f"no key may sign a {type(event).__name__}")


def _hospital_entitled(key: SigningKey, event: DischargeClaim | ClaimCancellation) -> None:
    what = (
        "pre-settlement requests"
        if isinstance(event, PresettleRequest)  # (a PresettleRequest is a DischargeClaim)
        else "claims"
        if isinstance(event, DischargeClaim)
        else "cancellations"
    )
    if key.signer_kind != "hospital":
        raise Untrusted(f"key {key.key_id} is {key.signer}'s, an authority's: only a hospital signs {what}")
    if not event.fixmedins_code:
        raise Untrusted(f"signed {what} must name their hospital (fixmedins_code) for the key to speak for it")
    if event.fixmedins_code != key.signer:
        raise Untrusted(f"key {key.key_id} speaks for hospital {key.signer}, not for hospital {event.fixmedins_code}")


def _authority_entitled(key: SigningKey, event: EligibilityChange) -> None:
    if key.signer_kind != "authority":
        raise Untrusted(f"key {key.key_id} is hospital {key.signer}'s: only an authority signs eligibility changes")
    if event.authority.value != key.signer:
        raise Untrusted(f"key {key.key_id} speaks for {key.signer}, not for {event.authority.value}")
    issuer = issuing_authority(event.category)
    if issuer != event.authority:
        raise Untrusted(f"{event.category.value} is issued by {issuer.value}, not by {event.authority.value}")


def now() -> datetime:
    return datetime.now(timezone.utc)
