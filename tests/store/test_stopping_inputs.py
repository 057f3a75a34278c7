"""Inputs that used to stop a person (issue 28, finding 3), through the workers' own handlers, signed
as their senders sign them, on every backend: each is refused at the door, on the rejection topic,
with its reason; nothing is parked; and the person's later inputs go on and settle.

Before the door checked them, each parked its person's later inputs: a grant valid from 0001-01-01
(ValueError: year 0 in the rules), a timestamp without an offset next to ones with (TypeError in the
ledger), two 12-digit bills (the year's base overflowed), a NUL in the free ``schema`` field (jsonb
refuses it). The last stands for every string: a NUL put in any string of any input — or of a claim
in flight on an internal topic, which anyone who can write that topic could send — is refused,
never parked, and never reaches a column (PostgreSQL's text and jsonb hold none)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from schemas.events import DischargeClaim
from store import Store
from streams.topics import (
    CANCELLED,
    DISCHARGED,
    ELIGIBILITY,
    ELIGIBILITY_REJECTED,
    LEDGER,
    PRESETTLE,
    REJECTED,
    YEAR_END,
)
from workers.harness import Incoming
from workers.registry import WORKERS

from .conftest import Backend
from .handlers import HOSPITAL, KEYS, Pipeline, register_keys, url_of
from .support import case, grants

ZZ = "zhengzhou-dibao-deferred-then-paid"  # P009, dibao; three claims of 2018 in Zhengzhou
RECORDED = "2019-01-05T09:00:00+08:00"


@pytest.fixture
async def person(store: Store, backend: Backend):
    """The Zhengzhou case's person, granted dibao (signed by civil affairs), keys registered; their
    claims (of the hospital whose key signs them) not yet sent; the pipeline the test publishes to."""
    await register_keys(store)
    worked = case(ZZ)
    pipeline = Pipeline(url_of(backend))
    for change in grants(worked):
        await pipeline.publish(ELIGIBILITY, change, change.psn_no, KEYS[change.authority.value])
    claims = [c.model_copy(update={"fixmedins_code": HOSPITAL}) for c in worked.claims]
    try:
        yield pipeline, claims
    finally:
        await pipeline.close()


def as_sent(claim: DischargeClaim, **changes) -> dict:
    return {**claim.model_dump(mode="json", by_alias=True, exclude_none=True), **changes}


async def goes_on(store: Store, pipeline: Pipeline, claim: DischargeClaim) -> None:
    """The person's later claim is received and settled; nothing of anyone's is parked."""
    await pipeline.publish(DISCHARGED, claim, claim.psn_no, KEYS["hospital"])
    await pipeline.drain()
    assert await store.parked() == []
    assert [r.kind for r in await store.records_of(claim.key)] == ["settlement"], claim.claim_id


async def test_a_grant_valid_from_year_1_is_refused_and_the_person_goes_on(store: Store, person) -> None:
    pipeline, claims = person
    psn = claims[0].psn_no
    grant = {
        "event_id": "G-year-1",
        "psn_no": psn,
        "category": "tekun",
        "action": "grant",
        "valid_from": "0001-01-01",
        "authority": "civil_affairs",
        "recorded_at": RECORDED,
    }
    refused = await pipeline.publish(ELIGIBILITY, grant, psn, KEYS["civil_affairs"])
    await pipeline.drain()
    reason = pipeline.refusal_of(refused, ELIGIBILITY_REJECTED)
    assert "valid_from" in reason and "before 1900-01-01" in reason, reason
    await goes_on(store, pipeline, claims[0])
    _, events = await store.identity_history(psn)
    assert "G-year-1" not in {e.event_id for e in events}


async def test_timestamps_without_an_offset_are_refused_and_the_person_goes_on(store: Store, person) -> None:
    """A revocation, a cancellation and a close whose time names no moment, next to the grants and
    claims that have one."""
    pipeline, claims = person
    first, second, _ = claims
    psn = first.psn_no
    await pipeline.publish(DISCHARGED, first, psn, KEYS["hospital"])
    revoke = {
        "event_id": "R-naive",
        "psn_no": psn,
        "category": "dibao",
        "action": "revoke",
        "valid_from": "2018-06-01",
        "authority": "civil_affairs",
        "recorded_at": "2019-01-05T09:00:00",
    }
    cancel = {
        "event_id": "X-naive",
        "claim_id": first.claim_id,
        "psn_no": psn,
        "fixmedins_code": HOSPITAL,
        "cancelled_at": "2019-01-05T09:00:00",
    }
    close = {"event_id": "Y-naive", "region": "zhengzhou", "year": 2018, "recorded_at": "2019-01-05T09:00:00"}
    refused = [
        await pipeline.publish(ELIGIBILITY, revoke, psn, KEYS["civil_affairs"]),
        await pipeline.publish(CANCELLED, cancel, psn, KEYS["hospital"]),
        await pipeline.publish(YEAR_END, close, "zhengzhou", KEYS["medical_insurance"]),
    ]
    await pipeline.drain()
    for message, topic in zip(refused, (ELIGIBILITY_REJECTED, REJECTED, REJECTED)):
        reason = pipeline.refusal_of(message, topic)
        assert "2019-01-05T09:00:00 has no offset" in reason, reason
    await goes_on(store, pipeline, second)
    assert [r.kind for r in await store.records_of(first.key)] == ["settlement"]  # not cancelled


async def test_two_twelve_digit_bills_are_refused_and_the_person_goes_on(store: Store, person) -> None:
    pipeline, claims = person
    huge = "999999999999.99"
    bills = [
        as_sent(
            claims[0],
            claim_id=f"HUGE-{n}",
            medfee_sumamt=huge,
            fulamt_ownpay_amt="0",
            overlmt_selfpay="0",
            preselfpay_amt="0",
            inscp_scp_amt=huge,
        )
        for n in (1, 2)
    ]
    refused = [await pipeline.publish(DISCHARGED, bill, bill["psn_no"], KEYS["hospital"]) for bill in bills]
    await pipeline.drain()
    for message in refused:
        reason = pipeline.refusal_of(message, REJECTED)
        assert f"medfee_sumamt {huge} is above the ceiling" in reason and "ONESTOP_MAX_AMOUNT" in reason, reason
    await goes_on(store, pipeline, claims[0])
    assert (await store.counts())["claims_received"] == 1


async def test_a_nul_in_the_schema_field_is_refused_for_every_kind_of_input(store: Store, person) -> None:
    pipeline, claims = person
    first = claims[0]
    psn = first.psn_no
    sent = [
        (
            await pipeline.publish(
                DISCHARGED, as_sent(first, schema="claims.discharged/2\u0000"), psn, KEYS["hospital"]
            ),
            REJECTED,
        ),
        (
            await pipeline.publish(
                ELIGIBILITY,
                {
                    "event_id": "G-nul",
                    "psn_no": psn,
                    "category": "tekun",
                    "action": "grant",
                    "valid_from": "2018-01-01",
                    "authority": "civil_affairs",
                    "recorded_at": RECORDED,
                    "schema": "eligibility.changes/1\u0000",
                },
                psn,
                KEYS["civil_affairs"],
            ),
            ELIGIBILITY_REJECTED,
        ),
        (
            await pipeline.publish(
                CANCELLED,
                {
                    "event_id": "X-nul",
                    "claim_id": first.claim_id,
                    "psn_no": psn,
                    "fixmedins_code": HOSPITAL,
                    "cancelled_at": RECORDED,
                    "schema": "\u0000",
                },
                psn,
                KEYS["hospital"],
            ),
            REJECTED,
        ),
        (
            await pipeline.publish(
                YEAR_END,
                {
                    "event_id": "Y-nul",
                    "region": "zhengzhou",
                    "year": 2018,
                    "recorded_at": RECORDED,
                    "schema": "year_end.closes/1\u0000",
                },
                "zhengzhou",
                KEYS["medical_insurance"],
            ),
            REJECTED,
        ),
    ]
    await pipeline.drain()
    for message, topic in sent:
        reason = pipeline.refusal_of(message, topic)
        assert reason.startswith("schema: ") or "schema: " in reason, reason
        assert "U+0000" in reason or "is not a schema name" in reason, reason
    await goes_on(store, pipeline, first)


# --- every string of every input ----------------------------------------------------------------------


def strings(value, path: tuple = ()) -> Iterator[tuple]:
    """The path of every string in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, (*path, index))
    elif isinstance(value, str):
        yield path


def with_nul(value: dict, path: tuple) -> dict:
    """``value`` with a NUL added to the string at ``path``."""
    copy = orjson.loads(orjson.dumps(value))
    holder = copy
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] += "\u0000"
    return copy


async def test_a_nul_in_any_string_of_any_input_is_refused_at_the_door(store: Store, person) -> None:
    """Every string of a claim, a pre-settlement request, a grant, a cancellation and a close, each
    in turn given a NUL (and signed as sent): each refused, with its reason, nothing parked. A field
    no event has, NUL in its name and value, is ignored: never stored, so the claim is taken."""
    pipeline, claims = person
    first, second, third = claims
    psn = first.psn_no
    inputs = {
        (DISCHARGED, "hospital"): as_sent(first, fixmedins_name="Zhengzhou Central", schema="claims.discharged/2"),
        (PRESETTLE, "hospital"): as_sent(first, fixmedins_name="Zhengzhou Central", request_id="Q-1"),
        (ELIGIBILITY, "civil_affairs"): {
            "event_id": "G-1",
            "psn_no": psn,
            "category": "tekun",
            "action": "grant",
            "valid_from": "2018-01-01",
            "valid_to": "2018-12-31",
            "authority": "civil_affairs",
            "recorded_at": RECORDED,
            "schema": "eligibility.changes/1",
        },
        (CANCELLED, "hospital"): {
            "event_id": "X-1",
            "claim_id": first.claim_id,
            "psn_no": psn,
            "fixmedins_code": HOSPITAL,
            "reason": "billed in error",
            "cancelled_at": RECORDED,
            "schema": "claims.cancelled/1",
        },
        (YEAR_END, "medical_insurance"): {
            "event_id": "Y-1",
            "region": "zhengzhou",
            "year": 2018,
            "recorded_at": RECORDED,
            "schema": "year_end.closes/1",
        },
    }
    sent = []
    for (topic, signer), event in inputs.items():
        paths = list(strings(event))
        assert len(paths) >= 4, (topic, paths)
        for path in paths:
            sent.append(await pipeline.publish(topic, with_nul(event, path), psn, KEYS[signer]))
    extra = await pipeline.publish(DISCHARGED, as_sent(second, **{"note\u0000": "x\u0000"}), psn, KEYS["hospital"])
    await pipeline.drain()
    for message in sent:
        reason = pipeline.refusal_of(message, ELIGIBILITY_REJECTED if message.topic == ELIGIBILITY else REJECTED)
        assert "\u0000" not in reason
    assert await store.parked() == []
    assert [r.kind for r in await store.records_of(second.key)] == ["settlement"]
    assert extra.offset is not None and b"note" not in orjson.dumps(
        [r.model_dump(mode="json") for r in await store.records_of(second.key)]
    )
    await goes_on(store, pipeline, third)


async def test_a_nul_in_any_string_of_a_claim_in_flight_is_refused_or_ignored_never_parked(
    store: Store, person
) -> None:
    """Internal topics carry no authority, and whoever can write them must not stop anyone. A NUL in
    any string of a claim in flight — to its first payer, or to the ledger — or of a wake-up: where
    it names the claim, the person or the policy it is refused with its reason (it used to park the
    person it was keyed by, or to crash the payer, whose park itself failed); anywhere else it is
    passed on and ignored (the ledger believes nothing of a flight but which claim it says it is and
    its lines, and refuses lines that are not the rules'). Nothing is parked, no column gets a NUL,
    nobody is paid twice."""
    pipeline, claims = person
    first, second, _ = claims
    psn = first.psn_no
    await pipeline.publish(DISCHARGED, first, psn, KEYS["hospital"])
    await pipeline.step(WORKERS["intake"])
    [to_payer] = [m for topic, messages in pipeline.topics.items() if topic.startswith("claims.pay.") for m in messages]
    await pipeline.drain()
    [to_ledger] = pipeline.topics[LEDGER][-1:]
    assert orjson.loads(to_ledger.value)["claim"]["claim_id"] == first.claim_id
    wake_up = orjson.dumps({"psn_no": psn, "cause": "corrected bill"})
    forged: dict[tuple, Incoming] = {}
    for target, value in ((to_payer.topic, to_payer.value), (LEDGER, to_ledger.value), (LEDGER, wake_up)):
        original = orjson.loads(value)
        for path in strings(original):
            await pipeline.send(target, psn.encode(), orjson.dumps(with_nul(original, path)))
            forged[(target, "wake-up" if value is wake_up else "flight", *path)] = pipeline.topics[target][-1]
    await pipeline.drain()
    assert await store.parked() == []
    naming = [("claim", "claim_id"), ("claim", "psn_no"), ("claim", "fixmedins_code")]
    refused = [(to_payer.topic, "flight", *path) for path in [*naming, ("policy", "region"), ("policy", "period")]]
    refused += [(LEDGER, "flight", *path) for path in naming] + [(LEDGER, "wake-up", "psn_no")]
    for place in refused:
        assert "not a " in pipeline.refusal_of(forged[place], REJECTED), place
    # (a reason may quote the NUL, e.g. a line of "basic\u0000" off the route: kept escaped)
    assert all("\u0000" not in (archived.reason or "") for archived in await store.inputs())
    assert [r.kind for r in await store.records_of(first.key)] == ["settlement"]
    await goes_on(store, pipeline, second)
