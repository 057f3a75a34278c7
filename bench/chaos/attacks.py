"""`onestop chaos --attacks`: events that must move no money, published during the attacked run
among the good ones (issues 12 and 27).

Every hospital and authority of the input gets a key pair registered before the workers start;
the good events are signed by the key entitled to them. The attacks:

- on signatures: unsigned, signed by a forger, by an unknown or revoked key, by a hospital for
  another hospital's claim, by an authority for a category it does not issue or by a hospital for
  a category, altered by one byte after it was signed;
- hostile inside though signed by the rightful key: oversize, deeply nested, a huge number, a
  control or invisible character in a string field;
- whose claim it is: another hospital's correction of a good claim; another hospital's
  cancellation of a good claim, and one lodged before the rightful hospital's own; another
  hospital's claim with a good claim's claim_id, sent before the rightful hospital's;
- internal topics: a claim in flight no intake recorded, written to a payer's topic; real claims
  in flight copied off the payers' topics with their lines removed or changed, written to
  claims.ledger;
- unsigned or wrongly signed year-end closes and pre-settlement requests;
- implausible though well signed: a stay from year 1021 or longer than the limit, a discharge in
  the future, a bill above the ceiling, a grant recorded in 9999 or without an offset, amounts
  written "1e5" or as a JSON number.

Each carries the word its rejection's reason must hold, except those a hospital may rightly send,
which are accepted and must be harmless (``expect`` None): another hospital's cancellation waits
for a claim of that hospital, for ever, and another hospital's claim with the same claim_id is
that hospital's own claim (made one the funds pay nothing of). What the database roles of the
workers may not do is tried at the end of the run (run.py). Replays are the run's exact repeats of
good signed events: they must change nothing (the exactly-once check).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import orjson

from policies.loader import policy_for
from policies.plausible import implausible
from schemas.codes import ISSUING_AUTHORITY, Authority, Category, Payer
from schemas.events import CategoryHeld, ClaimInFlight, DischargeClaim, EligibilityChange, PaymentLine, PolicyRef
from schemas.keys import KeyFile
from streams.codecs import BadInput, decode, encode
from streams.signing import KEY_HEADER, SIGNATURE_HEADER, new_key, sign
from streams.topics import (
    CANCELLED,
    DISCHARGED,
    ELIGIBILITY,
    LEDGER,
    PRESETTLE,
    YEAR_END,
    pay_topic,
)

from .attack import MARKER, Attack, Keys, key_of
from .inputs import ChaosInput, claim_dict
from .life import DECIDED_AT

#: a control character, an escape sequence, a right-to-left override, a zero-width joiner, a byte-order
#: mark, a private-use character: each hides or changes what a caseworker reads
HOSTILE = ["\x00", "\x1b[2J", "\u202e", "\u200d", "\ufeff", "\ue000"]
WHEN = DECIDED_AT.isoformat()


class _Targets:
    """Good claims to aim at, each at most once: two attacks on one claim would meet (a hospital's
    claim with another's claim_id makes that hospital's correction of it a correction of its own)."""

    def __init__(self, made: ChaosInput, rng: random.Random) -> None:
        self.claims = [claim_dict(c, made.names[c.psn_no]) for c in made.good.values()]  # in publish order
        self.early = {key_of(c) for c in self.claims[: max(1, len(self.claims) // 5)]}
        self.taken: set[str] = set()
        self.rng = rng

    def take(self, among: set[str] | None = None, but: set[str] = frozenset()) -> dict:
        """A claim not taken yet: of ``among`` if it has one left, else any (none of ``but``)."""
        free = [c for c in self.claims if key_of(c) not in self.taken and key_of(c) not in but]
        pool = [c for c in free if among is None or key_of(c) in among] or free
        chosen = self.rng.choice(pool)
        self.taken.add(key_of(chosen))
        return chosen


class _Made:
    """The attacks made so far, and how each new one is added."""

    def __init__(self, rng: random.Random) -> None:
        self.attacks: list[Attack] = []
        self.rng = rng
        self._numbers = iter(range(1_000_000))

    def claim(self, claims: list[dict], **changes) -> dict:
        """A copy of a random good claim under a new claim_id (one no hospital sent)."""
        return {**self.rng.choice(claims), "claim_id": f"ATK{next(self._numbers):06d}", **changes}

    def add(
        self,
        kind: str,
        topic: str,
        event: dict | bytes,
        signer: KeyFile | None,
        expect: str | None,
        headers: list[tuple[str, bytes]] | None = None,
        **more,
    ) -> None:
        raw = event if isinstance(event, bytes) else orjson.dumps(event)
        psn = event.get("psn_no", "attack") if isinstance(event, dict) else "attack"
        if isinstance(event, dict) and topic == DISCHARGED and isinstance(event.get("claim_id"), str):
            more.setdefault("claim", key_of(event))
        if isinstance(event, dict) and topic in (CANCELLED, YEAR_END, ELIGIBILITY):
            more.setdefault("event_id", event.get("event_id"))
        if topic == YEAR_END and isinstance(event, dict):
            psn = event["region"]
        self.attacks.append(
            Attack(
                kind,
                topic,
                raw,
                headers if headers is not None else (sign(raw, signer) if signer else None),
                expect,
                psn,
                **more,
            )
        )


def make_attacks(made: ChaosInput, keys: Keys, rng: random.Random) -> list[Attack]:
    """One attack of every kind (several for the hostile characters), each aimed at a real person;
    those that make a claim or an event make a new one (its own claim_id or event_id), but those on
    whose claim it is, which take a good claim's."""
    targets = _Targets(made, rng)
    out = _Made(rng)
    claims = targets.claims
    _signatures(claims, out, keys)
    _hostile_claims(claims, out, keys)
    _attacks_on_eligibility([orjson.loads(raw) for raw in made.grants], out, keys, rng)
    _whose_claim(made, targets, out, keys)
    _internal_topics(targets, out)
    _closes_and_presettlements(claims, out, keys)
    _implausible(claims, [orjson.loads(raw) for raw in made.grants], out, keys)
    return out.attacks


def _signatures(claims: list[dict], out: _Made, keys: Keys) -> None:
    """Claims unsigned, forged, signed by a key not entitled to them, altered after signing."""
    hospitals = keys.hospitals()
    forger = new_key("forger", "hospital", hospitals[0])
    out.add("unsigned claim", DISCHARGED, out.claim(claims), None, "unsigned")
    forged = out.claim(claims)
    raw = orjson.dumps(forged)
    out.add(
        "forged signature",
        DISCHARGED,
        raw,
        None,
        "does not match",
        [
            (KEY_HEADER, keys.of(forged["fixmedins_code"]).key_id.encode()),
            (SIGNATURE_HEADER, dict(sign(raw, forger))[SIGNATURE_HEADER]),
        ],
        claim=key_of(forged),
    )
    unknown = out.claim(claims)
    out.add(
        "unknown key",
        DISCHARGED,
        unknown,
        new_key("nobody-knows", "hospital", unknown["fixmedins_code"]),
        "unknown key",
    )
    others = out.claim(claims)
    out.add(
        "a hospital signs another hospital's claim",
        DISCHARGED,
        others,
        keys.of(keys.other_than(others["fixmedins_code"])),
        "speaks for hospital",
    )
    revoked = out.claim(claims, fixmedins_code=keys.revoked.signer)
    out.add("a revoked key's claim", DISCHARGED, revoked, keys.revoked, "was revoked")
    altered = out.claim(claims)
    raw = orjson.dumps(altered)
    one_byte = raw.replace(b'"medfee_sumamt":"', b'"medfee_sumamt":"9', 1)  # one more digit: ten times the bill
    out.add(
        "altered after signing",
        DISCHARGED,
        one_byte,
        None,
        "does not match",
        sign(raw, keys.of(altered["fixmedins_code"])),
        claim=key_of(altered),
    )


def _hostile_claims(claims: list[dict], out: _Made, keys: Keys) -> None:
    """Signed by the rightful hospital, hostile inside."""

    def signed(event: dict) -> KeyFile:
        return keys.of(event["fixmedins_code"])

    big = out.claim(claims)
    big["note"] = "x" * 100_000
    out.add("oversize", DISCHARGED, big, signed(big), "too large")
    nested = out.claim(claims)
    raw = orjson.dumps(nested)[:-1] + b',"note":' + b"[" * 3_000 + b"]" * 3_000 + b"}"
    out.add("deeply nested", DISCHARGED, raw, signed(nested), "depth", claim=key_of(nested))
    shallow = out.claim(claims, note=[[[[["deep"]]]]])
    out.add("nested beyond the contracts", DISCHARGED, shallow, signed(shallow), "nested")
    for amount, expect in [("1" + "0" * 40 + ".00", "too large"), ("1e400", "medfee_sumamt")]:
        huge = out.claim(claims, medfee_sumamt=amount)
        out.add("huge number", DISCHARGED, huge, signed(huge), expect)
    for n, hostile in enumerate(HOSTILE):
        name = ["claim_id", "psn_no", "fixmedins_name"][n % 3]
        event = out.claim(claims)
        event[name] = f"{event[name]}{hostile}" if name != "fixmedins_name" else f"人民医院{hostile}"
        out.add(f"hostile character in {name}", DISCHARGED, event, signed(event), "holds the character")
    coded = out.claim(claims)
    signer = keys.of(coded["fixmedins_code"])
    coded["fixmedins_code"] += "\u200b"
    out.add("hostile character in fixmedins_code", DISCHARGED, coded, signer, "holds the character")


def _attacks_on_eligibility(grants: list[dict], out: _Made, keys: Keys, rng: random.Random) -> None:
    """Grants of 100% assistance by those who may not give them."""
    person = rng.choice(grants)["psn_no"]
    for n, category in enumerate(Category):
        issuer = ISSUING_AUTHORITY[category]
        wrong = next(a for a in Authority if a != issuer)
        event = {
            "event_id": f"ATKELG{n:04d}",
            "psn_no": person,
            "category": category.value,
            "action": "grant",
            "valid_from": "2000-01-01",
            "authority": wrong.value,
            "recorded_at": WHEN,
        }
        out.add(f"{wrong.value} grants {category.value}", ELIGIBILITY, event, keys.of(wrong.value), "is issued by")
    tekun = {
        "event_id": "ATKELG9000",
        "psn_no": person,
        "category": "tekun",
        "action": "grant",
        "valid_from": "2000-01-01",
        "authority": ISSUING_AUTHORITY[Category("tekun")].value,
        "recorded_at": WHEN,
    }
    out.add("a hospital grants a category", ELIGIBILITY, tekun, keys.of(keys.hospitals()[0]), "only an authority")
    out.add("unsigned grant", ELIGIBILITY, {**tekun, "event_id": "ATKELG9001"}, None, "unsigned")
    out.add(
        "hostile character in event_id",
        ELIGIBILITY,
        {**tekun, "event_id": "ATKELG9002\u202e"},
        keys.of(tekun["authority"]),
        "holds the character",
    )


def _whose_claim(made: ChaosInput, targets: _Targets, out: _Made, keys: Keys) -> None:
    """A claim is its hospital's and its id: another hospital's correction is refused; another
    hospital's cancellation of a good claim waits for a claim of its own (for ever: it blocks nothing,
    not even the rightful hospital's cancellation after it); another hospital's claim with a good
    claim's claim_id, sent first, is that hospital's own (all outside the funds' scope: it pays
    nothing) and leaves the good claim to settle exactly as without it."""
    life = made.life
    unsigned = targets.take()
    out.add(
        "unsigned cancellation",
        CANCELLED,
        _cancellation("ATKCXL0000", unsigned, unsigned["fixmedins_code"]),
        None,
        "unsigned",
    )
    target = targets.take(but=life.cancelled)
    other = keys.other_than(target["fixmedins_code"])
    out.add(
        "a hospital cancels another hospital's claim",
        CANCELLED,
        _cancellation("ATKCXL0001", target, other),
        keys.of(other),
        None,
    )
    target = targets.take(among=life.cancelled)
    other = keys.other_than(target["fixmedins_code"])
    out.add(
        "a hospital cancels another hospital's claim before it does",
        CANCELLED,
        _cancellation("ATKCXL0002", target, other),
        keys.of(other),
        None,
        before=True,
    )
    target = targets.take(among=life.corrected & targets.early)
    other = keys.other_than(target["fixmedins_code"])
    larger = Decimal("200000.00")
    correction = {
        **target,
        "fixmedins_code": other,
        "revision": 1,
        "inscp_scp_amt": f"{Decimal(target['inscp_scp_amt']) + larger:.2f}",
        "medfee_sumamt": f"{Decimal(target['medfee_sumamt']) + larger:.2f}",
    }
    out.add(
        "another hospital corrects a hospital's claim", DISCHARGED, correction, keys.of(other), "was never received"
    )
    target = targets.take(but=life.cancelled | life.corrected)
    other = keys.other_than(target["fixmedins_code"])
    own = {
        **target,
        "fixmedins_code": other,
        "fulamt_ownpay_amt": target["medfee_sumamt"],
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "0.00",
        "inscp_scp_amt": "0.00",
    }
    out.add(
        "a hospital's claim with another hospital's claim_id, first", DISCHARGED, own, keys.of(other), None, before=True
    )


def _cancellation(event_id: str, claim: dict, hospital: str) -> dict:
    return {
        "event_id": event_id,
        "claim_id": claim["claim_id"],
        "psn_no": claim["psn_no"],
        "reason": "attack",
        "cancelled_at": WHEN,
        "fixmedins_code": hospital,
    }


def _internal_topics(targets: _Targets, out: _Made) -> None:
    """Internal topics carry no authority. A claim in flight no intake recorded, written to the
    assistance payer's topic, of a real person said to be 特困 (whom assistance pays most); real
    claims in flight (run.py copies them off the payers' topics, as anyone who can read those could)
    written to claims.ledger without their lines, or with one line paying the whole bill."""
    source = targets.take()
    claim = DischargeClaim.model_validate({**source, "claim_id": "ATKFLT0000"})
    policy = policy_for(claim.insuplc_admdvs, claim.enddate)
    flight = ClaimInFlight(
        claim=claim,
        identity=[CategoryHeld(code=Category.tekun, valid_from=date(2000, 1, 1), authority=Authority.civil_affairs)],
        policy=PolicyRef(region=policy.region, period=policy.period, version=policy.version),
        route=[Payer.assistance],
        received_at=DECIDED_AT,
    )
    out.add(
        "a claim in flight no intake recorded, on claims.pay.assistance",
        pay_topic(Payer.assistance),
        {**orjson.loads(encode(flight)), MARKER: "ATKFLT0000"},
        None,
        "intake recorded no claim",
        marker="ATKFLT0000",
        claim=claim.key,
    )
    for n, (what, forge) in enumerate(
        [("without its lines", _no_lines), ("with a line paying the whole bill", _whole_bill)], start=1
    ):
        target = targets.take(among=targets.early)
        marker = f"ATKFLT{n:04d}"
        out.attacks.append(
            Attack(
                f"a real claim in flight {what}, on claims.ledger",
                LEDGER,
                b"",
                None,
                "not the rules'",
                target["psn_no"],
                marker=marker,
                copies=key_of(target),
                forge=forge,
            )
        )


def _no_lines(flight: dict) -> dict:
    return {**flight, "lines": [], "accounts": {}}


def _whole_bill(flight: dict) -> dict:
    """One line of the route's last payer paying the whole bill: the person pays nothing."""
    bill = flight["claim"]["medfee_sumamt"]
    line = PaymentLine(
        payer=Payer(flight["route"][-1]),
        fund_pay_type="forged",
        amount=Decimal(bill),
        base=Decimal(bill),
        rule="forged",
        explanation="the whole bill",
    )
    return {**flight, "lines": [line.model_dump(mode="json")]}


def _closes_and_presettlements(claims: list[dict], out: _Made, keys: Keys) -> None:
    """Year-end closes unsigned or signed by a key other than medical_insurance's; pre-settlement
    requests unsigned or signed by another hospital: refused, answered nowhere."""
    source = claims[0]
    claim = DischargeClaim.model_validate(source)
    close = {"region": policy_for(claim.insuplc_admdvs, claim.enddate).region, "year": claim.year, "recorded_at": WHEN}
    hospital = keys.hospitals()[0]
    for n, (who, signer, expect) in enumerate(
        [
            ("unsigned", None, "unsigned"),
            ("signed by a hospital", keys.of(hospital), "only a key of the authority medical_insurance"),
            (
                "signed by civil_affairs",
                keys.of(Authority.civil_affairs.value),
                "only a key of the authority medical_insurance",
            ),
        ]
    ):
        out.add(f"a year-end close {who}", YEAR_END, {"event_id": f"ATKCLS{n:04d}", **close}, signer, expect)
    unsigned = out.claim(claims, request_id="ATKPRE0000")
    out.add("unsigned pre-settlement request", PRESETTLE, unsigned, None, "unsigned")
    others = out.claim(claims, request_id="ATKPRE0001")
    out.add(
        "a pre-settlement request signed by another hospital",
        PRESETTLE,
        others,
        keys.of(keys.other_than(others["fixmedins_code"])),
        "speaks for hospital",
    )


def _implausible(claims: list[dict], grants: list[dict], out: _Made, keys: Keys) -> None:
    """Well formed and signed by the rightful hospital or authority, but not possibly true at receipt.
    Each is checked here first: the reason the workers will give must hold the word expected."""

    def claim(**changes) -> dict:
        made = out.claim(claims, **changes)
        parts = sum(Decimal(made[k]) for k in ("overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt"))
        if "medfee_sumamt" in changes and isinstance(changes["medfee_sumamt"], str):
            made["fulamt_ownpay_amt"] = f"{Decimal(changes['medfee_sumamt']) - parts:.2f}"  # the parts still add up
        return made

    def back_dated() -> dict:
        made = claim()
        made["begndate"] = (date.fromisoformat(made["enddate"]) - timedelta(days=400)).isoformat()
        return made

    events = [
        ("a stay from year 1021", claim(begndate="1021-03-01"), "before 1900-01-01"),
        ("a begndate back-dated 400 days", back_dated(), "ONESTOP_MAX_STAY_DAYS"),
        ("a discharge in the future", claim(begndate="2099-12-01", enddate="2099-12-10"), "is in the future"),
        ("a bill of 999,999,999,999.99", claim(medfee_sumamt="999999999999.99"), "ONESTOP_MAX_AMOUNT"),
        ("an amount written 1e5", claim(inscp_scp_amt="1e5"), "exponent"),
        ("an amount as a JSON number", claim(medfee_sumamt=100000), "JSON strings"),
    ]
    for kind, event, expect in events:
        _holds(DischargeClaim, event, expect)
        out.add(kind, DISCHARGED, event, keys.of(event["fixmedins_code"]), expect)
    grant = {**grants[0], "event_id": "ATKELG9100"}
    for n, (kind, recorded_at, expect) in enumerate(
        [
            ("a grant recorded in 9999", "9999-01-01T09:00:00+00:00", "after 2100-12-31"),
            ("a grant recorded without an offset", "2026-01-05T09:00:00", "has no offset"),
        ]
    ):
        event = {**grant, "event_id": f"ATKELG91{n:02d}", "recorded_at": recorded_at}
        _holds(EligibilityChange, event, expect)
        out.add(kind, ELIGIBILITY, event, keys.of(event["authority"]), expect)


def _holds(model, event: dict, expect: str) -> None:
    """The reason the schemas or policies.plausible give for ``event`` holds ``expect``."""
    try:
        reason = implausible(decode(model, orjson.dumps(event)), datetime.now(timezone.utc))
    except BadInput as problem:
        reason = str(problem)
    if reason is None or expect not in reason:
        raise AssertionError(f"an implausible event would get the reason {reason!r}, not one holding {expect!r}")
