"""Signatures judged as the workers judge them (streams/signing.py), without a broker: a key's
validity at the event's own time as well as at arrival, who may sign a year-end close, and the
proof a key's holder gives before the key is registered (schemas/keys.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from schemas.events import ClaimCancellation, DischargeClaim, EligibilityChange, YearEndClose
from schemas.keys import KeyChallenge, SigningKey, proof_refusal, registration_statement
from schemas.nhsa import PresettleRequest
from streams.codecs import decode, encode
from streams.signing import Untrusted, event_time, new_key, prove, sign, verified

from .shared_cases import CASES_DIR, load_case

UTC = timezone.utc
ARRIVAL = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
HOSPITAL = "H620702001"


def registered(key, valid_from: datetime, valid_to: datetime | None = None, revoked_at: datetime | None = None) -> dict:
    return {
        key.key_id: SigningKey(
            key_id=key.key_id,
            signer_kind=key.signer_kind,
            signer=key.signer,
            public_key=key.public_key,
            valid_from=valid_from,
            valid_to=valid_to,
            revoked_at=revoked_at,
        )
    }


def claim(enddate: date):
    base = load_case(CASES_DIR / "zhangye-dibao-rural-1-one-stay.json").claims[0]
    return base.model_copy(update={"fixmedins_code": HOSPITAL, "begndate": enddate, "enddate": enddate})


def judged(event, key, keys: dict, received_at: datetime = ARRIVAL) -> SigningKey:
    """What decode_trusted does with one signed event: verify the exact bytes, read them, judge the
    key at arrival and at the event's own time, and whether it may speak for the event."""
    raw = encode(event)
    return verified(raw, sign(raw, key), keys, received_at, lambda data: decode(type(event), data))[0]


# --- the event's own time ----------------------------------------------------------------------------


def test_each_kind_of_event_is_dated_by_its_own_field():
    discharged = claim(date(2021, 6, 30))
    cancelled = ClaimCancellation(
        event_id="X-1", claim_id="C-1", psn_no="P1", cancelled_at=datetime(2022, 1, 2, 3, tzinfo=UTC)
    )
    change = EligibilityChange(
        event_id="G-1",
        psn_no="P1",
        category="tekun",
        action="grant",
        valid_from="2022-01-01",
        authority="civil_affairs",
        recorded_at=datetime(2022, 1, 5, 9, tzinfo=UTC),
    )
    close = YearEndClose(
        event_id="year-end.zhengzhou.2018", region="zhengzhou", year=2018, closed_at=datetime(2019, 1, 5, tzinfo=UTC)
    )
    request = PresettleRequest(**discharged.model_dump())
    assert [
        (t.field, t.at) for t in (event_time(e, ARRIVAL) for e in (discharged, cancelled, change, close, request))
    ] == [
        ("enddate", date(2021, 6, 30)),
        ("cancelled_at", datetime(2022, 1, 2, 3, tzinfo=UTC)),
        ("recorded_at", datetime(2022, 1, 5, 9, tzinfo=UTC)),
        ("recorded_at", datetime(2019, 1, 5, tzinfo=UTC)),
        ("arrival", ARRIVAL),
    ]  # a pre-settlement request is a question asked now


def test_an_event_altered_after_signing_is_refused_as_altered_before_it_is_read():
    """The bytes are checked before they are read: a bill made ten times larger is refused for its
    signature, not for the parts that no longer add up."""
    key = new_key("h-1", "hospital", HOSPITAL)
    raw = encode(claim(date(2022, 6, 30)))
    altered = raw.replace(b'"medfee_sumamt":"', b'"medfee_sumamt":"9', 1)
    assert altered != raw
    with pytest.raises(Untrusted, match="does not match the event's bytes"):
        verified(
            altered,
            sign(raw, key),
            registered(key, datetime(2018, 1, 1, tzinfo=UTC)),
            ARRIVAL,
            lambda data: decode(DischargeClaim, data),
        )


def test_a_key_registered_today_does_not_sign_a_claim_discharged_years_ago():
    key = new_key("h-2026", "hospital", HOSPITAL)
    keys = registered(key, valid_from=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(Untrusted) as refused:
        judged(claim(date(2021, 6, 30)), key, keys)
    assert str(refused.value) == (
        "key h-2026 was not yet valid at the event's own time: its enddate is 2021-06-30, "
        "the key is valid from 2026-01-01 00:00:00"
    )
    assert judged(claim(date(2026, 3, 1)), key, keys).key_id == "h-2026"


def test_a_discharge_date_is_inside_when_some_moment_of_that_day_is():
    key = new_key("h-noon", "hospital", HOSPITAL)
    keys = registered(
        key, valid_from=datetime(2026, 3, 5, 12, tzinfo=UTC), valid_to=datetime(2026, 12, 31, 12, tzinfo=UTC)
    )
    assert judged(claim(date(2026, 3, 5)), key, keys)  # the day the key begins
    assert judged(claim(date(2026, 12, 31)), key, keys)  # the day it ends
    with pytest.raises(Untrusted, match="not yet valid at the event's own time: its enddate is 2026-03-04"):
        judged(claim(date(2026, 3, 4)), key, keys)


def test_a_key_expired_at_the_events_own_time_does_not_sign_it():
    """Valid when the event arrives, but the event says it happened after the key's end."""
    key = new_key("h-old", "hospital", HOSPITAL)
    keys = registered(key, valid_from=datetime(2020, 1, 1, tzinfo=UTC), valid_to=datetime(2027, 1, 1, tzinfo=UTC))
    late = ClaimCancellation(
        event_id="X-1",
        claim_id="C-1",
        psn_no="P1",
        fixmedins_code=HOSPITAL,
        cancelled_at=datetime(2027, 3, 1, 8, tzinfo=UTC),
    )
    with pytest.raises(Untrusted) as refused:
        judged(late, key, keys)
    assert str(refused.value) == (
        "key h-old had expired at the event's own time: its cancelled_at is 2027-03-01 08:00:00, "
        "the key expired at 2027-01-01 00:00:00"
    )
    assert judged(late.model_copy(update={"cancelled_at": datetime(2026, 12, 1, tzinfo=UTC)}), key, keys)


def test_a_key_valid_at_the_events_time_but_revoked_before_it_arrived_signs_nothing():
    key = new_key("h-stolen", "hospital", HOSPITAL)
    keys = registered(key, valid_from=datetime(2018, 1, 1, tzinfo=UTC), revoked_at=ARRIVAL - timedelta(hours=1))
    with pytest.raises(Untrusted, match="key h-stolen was revoked at 2026-12-04 09:00:00"):
        judged(claim(date(2021, 6, 30)), key, keys)
    assert judged(claim(date(2021, 6, 30)), key, keys, received_at=ARRIVAL - timedelta(hours=2))  # before: still valid


def test_arrival_outside_the_keys_validity_is_refused_and_says_so():
    key = new_key("h-future", "hospital", HOSPITAL)
    with pytest.raises(Untrusted, match="valid only from 2027-01-01 00:00:00: the event arrived before"):
        judged(claim(date(2026, 6, 30)), key, registered(key, valid_from=datetime(2027, 1, 1, tzinfo=UTC)))
    with pytest.raises(Untrusted, match="expired at 2026-01-01 00:00:00, before the event arrived"):
        judged(
            claim(date(2021, 6, 30)),
            key,
            registered(key, datetime(2018, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        )


# --- who signs a year-end close ---------------------------------------------------------------------


def test_only_a_key_of_medical_insurance_signs_a_year_end_close():
    close = YearEndClose(event_id="x", region="zhengzhou", year=2018, closed_at=datetime(2019, 1, 5, tzinfo=UTC))
    since = datetime(2018, 1, 1, tzinfo=UTC)
    finance = new_key("mi-1", "authority", "medical_insurance")
    assert judged(close, finance, registered(finance, since)).key_id == "mi-1"
    for key, reason in [
        (
            new_key("h-1", "hospital", HOSPITAL),
            f"key h-1 is hospital {HOSPITAL}'s: only a key of the authority medical_insurance signs year-end closes",
        ),
        (
            new_key("ca-1", "authority", "civil_affairs"),
            "key ca-1 is civil_affairs's: only a key of the authority medical_insurance signs year-end closes",
        ),
    ]:
        with pytest.raises(Untrusted) as refused:
            judged(close, key, registered(key, since))
        assert str(refused.value) == reason
    with pytest.raises(Untrusted, match="was not yet valid at the event's own time: its recorded_at is 1900-01-01"):
        judged(
            close.model_copy(update={"recorded_at": datetime(1900, 1, 1, tzinfo=UTC)}),
            finance,
            registered(finance, since),
        )


# --- proof of possession ------------------------------------------------------------------------------


NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def test_a_proof_holds_only_for_its_own_key_id_signer_and_challenge():
    holder = new_key("h1", "hospital", "H1")
    issued = KeyChallenge.issue(NOW)
    proof = prove(holder, issued.challenge)
    key = proof.key(valid_from=NOW)
    assert proof_refusal(key, proof, issued, NOW) is None
    someone_else = new_key("h1", "hospital", "H1")  # claims h1's id without h1's private half
    for candidate, forged in [
        (key, prove(someone_else, issued.challenge)),
        (key.model_copy(update={"signer": "H2"}), proof),
        (key.model_copy(update={"key_id": "h9"}), proof),
        (key.model_copy(update={"signer_kind": "authority", "signer": "civil_affairs"}), proof),
        (key, proof.model_copy(update={"challenge": KeyChallenge.issue(NOW).challenge})),
    ]:
        assert "the proof does not hold for key" in proof_refusal(candidate, forged, issued, NOW)


def test_a_proof_is_refused_for_an_unknown_a_used_or_an_expired_challenge():
    holder = new_key("h1", "hospital", "H1")
    issued = KeyChallenge.issue(NOW, timedelta(hours=1))
    proof = prove(holder, issued.challenge)
    key = proof.key(valid_from=NOW)
    assert "was not issued by this registry" in proof_refusal(key, proof, None, NOW)
    used = issued.model_copy(update={"used_at": NOW, "key_id": "h1"})
    assert "was used at 2026-12-04 09:00:00 (for key h1): a proof is good once" in proof_refusal(key, proof, used, NOW)
    assert proof_refusal(key, proof, issued, NOW + timedelta(minutes=59)) is None
    assert "expired at 2026-12-04 10:00:00" in proof_refusal(key, proof, issued, NOW + timedelta(hours=1))


def test_no_signed_event_can_pass_for_a_proof():
    """The statement a holder signs begins with a line that is not JSON, so a signature over an
    event's bytes (always a JSON object) never verifies as a proof, nor a proof as an event."""
    statement = registration_statement("c", "h1", "hospital", "H1", "AAAA")
    assert statement.startswith(b"onestop key registration\n") and not statement.startswith(b"{")
