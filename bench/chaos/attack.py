"""One attack as the attacked run publishes it, the keys of that run, and how a summary names an
attack's kind (bench/chaos/attacks.py makes the attacks; attempts.py sends them and tries the
database roles)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from schemas.codes import Authority
from schemas.ids import claim_key
from schemas.keys import KeyFile
from streams.signing import new_key

REVOKED_KEY = "hospital-revoked"
#: the field a forged claim in flight carries to be told apart: the payers rewrite the message (they
#: append their line), so its rejection's original is not the bytes sent; an extra field survives them
MARKER = "chaos_attack"


@dataclass(frozen=True)
class Attack:
    kind: str
    topic: str
    raw: bytes
    headers: list[tuple[str, bytes]] | None
    expect: str | None  # a word the rejection's reason must hold; None: accepted, and must be harmless
    psn_no: str  # the key it is published under (the person it targets, or the region of a close)
    marker: str | None = None  # a forged claim in flight: its rejection is found by this MARKER
    claim: str | None = None  # the key of the claim it would make (schemas/ids.py): no fund may pay on it
    event_id: str | None = None  # a cancellation's, close's or grant's: no record may name it as its cause
    before: bool = False  # published before the first good event (to come before the rightful hospital)
    copies: str | None = None  # the key of the good claim whose real claim in flight it copies (run.py)
    forge: Callable[[dict], dict] | None = None  # how a copied claim in flight is changed

    @property
    def harmless(self) -> bool:
        return self.expect is None


@dataclass
class Keys:
    """Every signer's key pair, by signer (a hospital code or an authority's name)."""

    by_signer: dict[str, KeyFile] = field(default_factory=dict)
    revoked: KeyFile | None = None

    def of(self, signer: str) -> KeyFile:
        return self.by_signer[signer]

    def every(self) -> list[KeyFile]:
        """Every key pair, the revoked one's too (it is registered, then revoked)."""
        return [*self.by_signer.values(), *([self.revoked] if self.revoked else [])]

    def hospitals(self) -> list[str]:
        return sorted(h for h in self.by_signer if h.startswith("H"))

    def other_than(self, hospital: str) -> str:
        """Another hospital of the run (one with a registered key)."""
        return next(h for h in self.hospitals() if h != hospital)


def make_keys(hospitals: set[str]) -> Keys:
    keys = Keys({code: new_key(f"hospital-{code}", "hospital", code) for code in sorted(hospitals)})
    keys.by_signer.update({a.value: new_key(f"authority-{a.value}", "authority", a.value) for a in Authority})
    keys.revoked = new_key(REVOKED_KEY, "hospital", sorted(hospitals)[0])
    return keys


def signer_of_event(raw: bytes) -> str | None:
    """Who signs a good event: the claim's or cancellation's hospital, the change's authority."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict):
        return None
    if "authority" in event:
        return event.get("authority")
    return event.get("fixmedins_code")


def kind_group(kind: str) -> str:
    """The kinds as a summary counts them: the hostile characters together, the authorities' wrong grants together."""
    if kind.startswith("hostile character"):
        return "hostile character"
    if kind.split(" ")[0] in {a.value for a in Authority} and " grants " in kind:
        return "an authority grants a category it does not issue"
    return kind


def key_of(claim: dict) -> str:
    return claim_key(claim.get("fixmedins_code"), claim["claim_id"])
