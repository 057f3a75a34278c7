"""`onestop chaos --attacks`: events that must move no money, published during the attacked run
among the good ones (issue 12).

Every hospital and authority of the input gets a key pair registered before the workers start;
the good events are signed by the key entitled to them. An attack is an event that is unsigned,
signed by a forger, by an unknown or revoked key, by a hospital for another hospital's claim or
cancellation, by an authority for a category it does not issue or by a hospital for a category,
altered by one byte after it was signed, or signed by its rightful key but hostile inside:
oversize, deeply nested, a huge number, a control or invisible character in a string field.
Each carries the word its rejection's reason must hold. Replays are the run's exact repeats of
good signed events: they must change nothing (the exactly-once check).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaProducer

from schemas.codes import ISSUING_AUTHORITY, Authority, Category
from schemas.keys import KeyFile
from streams.security import client_options
from streams.signing import KEY_HEADER, SIGNATURE_HEADER, new_key, sign
from streams.topics import CANCELLED, DISCHARGED, ELIGIBILITY

REVOKED_KEY = "hospital-revoked"
#: a control character, an escape sequence, a right-to-left override, a zero-width joiner, a byte-order
#: mark, a private-use character: each hides or changes what a caseworker reads
HOSTILE = ["\x00", "\x1b[2J", "\u202e", "\u200d", "\ufeff", "\ue000"]


@dataclass(frozen=True)
class Attack:
    kind: str
    topic: str
    raw: bytes
    headers: list[tuple[str, bytes]] | None
    expect: str  # a word the rejection's reason must hold
    psn_no: str  # the key it is published under (the person it targets)


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


def make_attacks(claims: list[dict], grants: list[dict], keys: Keys, rng: random.Random) -> list[Attack]:
    """One attack of every kind (several for the hostile characters), each new (its own claim_id or
    event_id) and aimed at a real person."""
    attacks: list[Attack] = []
    hospitals = sorted(h for h in keys.by_signer if h.startswith("H"))
    forger = new_key("forger", "hospital", hospitals[0])
    counter = iter(range(1_000_000))

    def claim(**changes) -> dict:
        source = rng.choice(claims)
        return {**source, "claim_id": f"ATK{next(counter):06d}", **changes}

    def add(kind: str, topic: str, event: dict | bytes, signer: KeyFile | None, expect: str,
            headers: list[tuple[str, bytes]] | None = None) -> None:
        raw = event if isinstance(event, bytes) else orjson.dumps(event)
        psn = event["psn_no"] if isinstance(event, dict) else "attack"
        attacks.append(Attack(kind, topic, raw, headers if headers is not None else (sign(raw, signer) if signer else None),
                              expect, psn))

    own = claim()
    add("unsigned claim", DISCHARGED, own, None, "unsigned")
    forged = claim()
    raw = orjson.dumps(forged)
    add("forged signature", DISCHARGED, raw, None, "does not match",
        [(KEY_HEADER, keys.of(forged["fixmedins_code"]).key_id.encode()), (SIGNATURE_HEADER, dict(sign(raw, forger))[SIGNATURE_HEADER])])
    unknown = claim()
    add("unknown key", DISCHARGED, unknown, new_key("nobody-knows", "hospital", unknown["fixmedins_code"]), "unknown key")
    others = claim()
    other = next(h for h in hospitals if h != others["fixmedins_code"])
    add("a hospital signs another hospital's claim", DISCHARGED, others, keys.of(other), "speaks for hospital")
    revoked = claim(fixmedins_code=keys.revoked.signer)
    add("a revoked key's claim", DISCHARGED, revoked, keys.revoked, "was revoked")
    altered = claim()
    raw = orjson.dumps(altered)
    one_byte = raw.replace(b'"medfee_sumamt":"', b'"medfee_sumamt":"9', 1)  # one more digit: ten times the bill
    add("altered after signing", DISCHARGED, one_byte, None, "does not match", sign(raw, keys.of(altered["fixmedins_code"])))
    _hostile_claims(claim, add, keys)
    _attacks_on_eligibility(grants, add, keys, rng)
    _attacks_on_cancellations(claims, add, keys, hospitals, rng)
    return attacks


def _hostile_claims(claim, add, keys: Keys) -> None:
    """Signed by the rightful hospital, hostile inside."""
    def signed(event: dict) -> KeyFile:
        return keys.of(event["fixmedins_code"])

    big = claim()
    big["note"] = "x" * 100_000
    add("oversize", DISCHARGED, big, signed(big), "too large")
    nested = claim()
    raw = orjson.dumps(nested)[:-1] + b',"note":' + b"[" * 3_000 + b"]" * 3_000 + b"}"
    add("deeply nested", DISCHARGED, raw, signed(nested), "depth")
    shallow = claim(note=[[[[["deep"]]]]])
    add("nested beyond the contracts", DISCHARGED, shallow, signed(shallow), "nested")
    for amount, expect in [("1" + "0" * 40 + ".00", "too large"), ("1e400", "medfee_sumamt")]:
        huge = claim(medfee_sumamt=amount)
        add("huge number", DISCHARGED, huge, signed(huge), expect)
    for n, hostile in enumerate(HOSTILE):
        name = ["claim_id", "psn_no", "fixmedins_name"][n % 3]
        event = claim()
        event[name] = f"{event[name]}{hostile}" if name != "fixmedins_name" else f"人民医院{hostile}"
        add(f"hostile character in {name}", DISCHARGED, event, signed(event), "holds the character")
    coded = claim()
    signer = keys.of(coded["fixmedins_code"])
    coded["fixmedins_code"] += "\u200b"
    add("hostile character in fixmedins_code", DISCHARGED, coded, signer, "holds the character")


def _attacks_on_eligibility(grants: list[dict], add, keys: Keys, rng: random.Random) -> None:
    """Grants of 100% assistance by those who may not give them."""
    person = rng.choice(grants)["psn_no"]
    for n, category in enumerate(Category):
        issuer = ISSUING_AUTHORITY[category]
        wrong = next(a for a in Authority if a != issuer)
        event = {"event_id": f"ATKELG{n:04d}", "psn_no": person, "category": category.value, "action": "grant",
                 "valid_from": "2000-01-01", "authority": wrong.value, "recorded_at": "2026-01-05T09:00:00+00:00"}
        add(f"{wrong.value} grants {category.value}", ELIGIBILITY, event, keys.of(wrong.value), "is issued by")
    tekun = {"event_id": "ATKELG9000", "psn_no": person, "category": "tekun", "action": "grant", "valid_from": "2000-01-01",
             "authority": ISSUING_AUTHORITY[Category("tekun")].value, "recorded_at": "2026-01-05T09:00:00+00:00"}
    add("a hospital grants a category", ELIGIBILITY, tekun, next(k for s, k in keys.by_signer.items() if s.startswith("H")),
        "only an authority")
    add("unsigned grant", ELIGIBILITY, {**tekun, "event_id": "ATKELG9001"}, None, "unsigned")
    add("hostile character in event_id", ELIGIBILITY, {**tekun, "event_id": "ATKELG9002\u202e"},
        keys.of(tekun["authority"]), "holds the character")


def _attacks_on_cancellations(claims: list[dict], add, keys: Keys, hospitals: list[str], rng: random.Random) -> None:
    """Cancellations of good claims (each would take money back) by those who may not send them."""
    for n, kind in enumerate(["unsigned", "another hospital"]):
        target = rng.choice(claims)
        other = next(h for h in hospitals if h != target["fixmedins_code"])
        event = {"event_id": f"ATKCXL{n:04d}", "claim_id": target["claim_id"], "psn_no": target["psn_no"],
                 "reason": "attack", "cancelled_at": "2026-01-05T09:00:00+00:00"}
        if kind == "unsigned":
            add("unsigned cancellation", CANCELLED, {**event, "fixmedins_code": target["fixmedins_code"]}, None, "unsigned")
        else:
            add("a hospital cancels another hospital's claim", CANCELLED, {**event, "fixmedins_code": other},
                keys.of(other), "is not hospital")


async def publish_attacks(kafka: str, attacks: list[Attack]) -> None:
    """Send each attack as it is, with its own headers (or none)."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", max_request_size=1_048_576, **client_options())
    await producer.start()
    try:
        sent = [await producer.send(a.topic, value=a.raw, key=a.psn_no.encode("utf-8", "replace"), headers=a.headers)
                for a in attacks]
        for future in sent:
            await future
    finally:
        await producer.stop()

