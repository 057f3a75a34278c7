"""The ledger's whole life through the real broker and PostgreSQL: cancellations (after and before
their claim), corrected bills, revocations and grants reaching back, the year-end close, a
parked message — and after all of it, a replay of the archive through the pure rules gives the
very same records."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timezone
from decimal import Decimal

import orjson
from aiokafka import AIOKafkaProducer
from click.testing import CliRunner

from bench.generator import year_of_claims
from cli import main
from cli.files import events_of
from policies.audit import differences, replay_archive
from schemas.codes import Payer
from schemas.events import (
    ClaimCancellation,
    ClaimInFlight,
    DischargeClaim,
    EligibilityChange,
    PolicyRef,
    YearEndClose,
)
from store.waiting import identities_recorded, settled_claims
from streams.codecs import encode
from streams.publisher import publish
from streams.topics import CANCELLED, DISCHARGED, ELIGIBILITY, YEAR_END, pay_topic
from workers.parking import retry_parked
from workers.registry import WORKERS

from ..shared_cases import CASES_DIR, load_case
from .generated import grants_of

D = Decimal
TIMEOUT = 180.0
NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)


async def records_of(store, settlement_ids: set[str], timeout: float = TIMEOUT) -> dict:
    """Wait until every record named is in the ledger."""
    for _ in range(int(timeout * 4)):
        found = {
            s.settlement_id: s for _, s in await store.settlements(limit=1_000_000) if s.settlement_id in settlement_ids
        }
        if len(found) == len(settlement_ids):
            return found
        await asyncio.sleep(0.25)
    raise AssertionError(f"records not made within {timeout:.0f}s: {sorted(settlement_ids - set(found))}")


def paid(record) -> dict[str, Decimal]:
    return {line.payer.value: line.amount for line in record.payments if line.amount}


def renamed(case, suffix: str):
    """A shared case with its person and claims renamed, so each test has its own person."""
    person = case.person.model_copy(update={"psn_no": case.person.psn_no + suffix})
    claims = [c.model_copy(update={"claim_id": c.claim_id + suffix, "psn_no": person.psn_no}) for c in case.claims]
    return case.model_copy(update={"person": person, "claims": claims, "name": case.name + suffix})


async def settle_case(live_system, store, case) -> None:
    grants, claims = events_of([case])
    before = (await store.counts())["identity_events"]
    await publish(live_system.kafka, ELIGIBILITY, grants, EligibilityChange)
    await identities_recorded(store, before + len(grants), TIMEOUT)
    await publish(live_system.kafka, DISCHARGED, claims, DischargeClaim)
    await settled_claims(store, {c.claim_id for c in case.claims}, TIMEOUT)


def cancellation(claim: DischargeClaim, event_id: str, reason: str = "billed in error") -> bytes:
    return encode(
        ClaimCancellation(
            event_id=event_id, claim_id=claim.claim_id, psn_no=claim.psn_no, reason=reason, cancelled_at=NOW
        )
    )


async def test_a_cancellation_reverses_its_claim_and_settles_the_later_ones_again(live_system, store):
    case = renamed(load_case(CASES_DIR / "zhengzhou-dibao-deferred-then-paid.json"), "-L1")
    await settle_case(live_system, store, case)
    a, b, c = case.claims
    # the person's claim of another year, whose cancellation after the two of ZZ-1b is recorded after
    # whatever they did (it changes nothing of 2018)
    later = DischargeClaim.model_validate(
        {**orjson.loads(encode(c)), "claim_id": c.claim_id + "-2019", "begndate": "2019-06-01", "enddate": "2019-06-01"}
    )
    await publish(live_system.kafka, DISCHARGED, [encode(later)], DischargeClaim)
    await settled_claims(store, {later.claim_id}, TIMEOUT)
    await publish(
        live_system.kafka,
        CANCELLED,
        [cancellation(b, "L1-cancel"), cancellation(b, "L1-cancel-again"), cancellation(later, "L1-next")],
        ClaimCancellation,
    )
    got = await records_of(
        store,
        {
            f"{b.claim_id}/reversal/cancellation/L1-cancel",
            f"{c.claim_id}/adjustment/cancellation/L1-cancel",
            f"{later.claim_id}/reversal/cancellation/L1-next",
        },
    )
    # as worked in tests/test_ledger_life.py: ZZ-1b's basic 2,960 reversed; ZZ-1c critical and supplementary
    # −620.00 each
    assert paid(got[f"{b.claim_id}/reversal/cancellation/L1-cancel"]) == {"basic": D("-2960.00")}
    assert paid(got[f"{c.claim_id}/adjustment/cancellation/L1-cancel"]) == {
        "critical": D("-620.00"),
        "supplementary": D("-620.00"),
    }
    assert not [s for _, s in await store.settlements(limit=1_000_000, psn_no=b.psn_no) if "again" in s.settlement_id]
    assert await store.check_ledger() == []


async def test_a_cancellation_that_arrives_first_waits_for_its_claim(live_system, store):
    case = renamed(load_case(CASES_DIR / "guangan-category-change.json"), "-L2")
    first, second = case.claims
    await publish(live_system.kafka, CANCELLED, [cancellation(second, "L2-early")], ClaimCancellation)
    for _ in range(40):
        if any(c.event_id == "L2-early" for c in await store.waiting_cancellations()):
            break
        await asyncio.sleep(0.25)
    assert any(c.event_id == "L2-early" for c in await store.waiting_cancellations())  # listed, not dropped
    await settle_case(live_system, store, case)
    got = await records_of(
        store, {f"{second.claim_id}/settlement", f"{second.claim_id}/reversal/cancellation/L2-early"}
    )
    assert paid(got[f"{second.claim_id}/settlement"]) == {"basic": D("16020.00"), "assistance": D("1386.00")}
    assert paid(got[f"{second.claim_id}/reversal/cancellation/L2-early"]) == {
        "basic": D("-16020.00"),
        "assistance": D("-1386.00"),
    }
    assert not any(c.event_id == "L2-early" for c in await store.waiting_cancellations())


async def test_a_corrected_bill_a_revocation_and_the_year_end_close(live_system, store):
    case = renamed(load_case(CASES_DIR / "zhengzhou-dibao-deferred-then-paid.json"), "-L3")
    a, b, c = case.claims
    case = case.model_copy(update={"claims": [a, b]})
    await settle_case(live_system, store, case)
    # the close pays the deferred assistance of ZZ-1a and ZZ-1b: 70% × (1,680 − 500) = 826.00
    close = YearEndClose(event_id="L3-close", region="zhengzhou", year=2018, closed_at=NOW)
    await publish(live_system.kafka, YEAR_END, [encode(close)], YearEndClose, key_field="region")
    year_end = f"year-end/zhengzhou/2018/{case.person.psn_no}"
    got = await records_of(store, {f"{year_end}/year_end"})
    assert paid(got[f"{year_end}/year_end"]) == {"assistance": D("826.00")}
    # a corrected bill of ZZ-1a (in scope 2,600 → 3,100): basic +450.00, and the close rises by 70% × 50 = 35.00
    corrected = orjson.dumps(
        {**a.model_dump(mode="json"), "revision": 1, "medfee_sumamt": "3500.00", "inscp_scp_amt": "3100.00"}
    )
    await publish(live_system.kafka, DISCHARGED, [corrected], DischargeClaim)
    got = await records_of(
        store, {f"{a.claim_id}/adjustment/claim/{a.claim_id}@1", f"{year_end}/adjustment/claim/{a.claim_id}@1"}
    )
    assert paid(got[f"{a.claim_id}/adjustment/claim/{a.claim_id}@1"]) == {"basic": D("450.00")}
    assert paid(got[f"{year_end}/adjustment/claim/{a.claim_id}@1"]) == {"assistance": D("35.00")}
    # dibao revoked from 2018-01-01: the close recovers what it paid on its grounds (−861.00)
    revoked = EligibilityChange(
        event_id="L3-revoke",
        psn_no=case.person.psn_no,
        category="dibao",
        action="revoke",
        valid_from="2018-01-01",
        authority="civil_affairs",
        recorded_at=NOW,
    )
    await publish(live_system.kafka, ELIGIBILITY, [encode(revoked)], EligibilityChange)
    got = await records_of(store, {f"{year_end}/adjustment/eligibility/civil_affairs/L3-revoke"})
    assert paid(got[f"{year_end}/adjustment/eligibility/civil_affairs/L3-revoke"]) == {"assistance": D("-861.00")}
    assert await store.check_ledger() == []


async def test_a_message_the_rules_cannot_handle_is_parked_and_its_person_waits_behind_it(live_system, store):
    claims = [
        DischargeClaim.model_validate(
            {
                **load_case(CASES_DIR / "zhangye-tekun-unreferred-elsewhere.json").claims[0].model_dump(mode="json"),
                "claim_id": f"L4-{n}",
                "psn_no": psn,
            }
        )
        for n, psn in enumerate(["PL4A", "PL4A", "PL4B"])
    ]

    def flight(claim, version):
        return encode(
            ClaimInFlight(
                claim=claim,
                identity=[],
                policy=PolicyRef(region="zhangye", period="2022-07", version=version),
                route=[Payer.basic, Payer.critical],
                received_at=NOW,
                seq=0,
            )
        )

    # a policy version this worker does not have: the first is parked, the same person's next waits behind it
    producer = AIOKafkaProducer(bootstrap_servers=live_system.kafka, acks="all")
    await producer.start()
    try:
        for claim, version in zip(claims, (99, 1, 1)):  # keyed by the person, as every hop is
            await producer.send_and_wait(pay_topic(Payer.basic), flight(claim, version), key=claim.psn_no.encode())
    finally:
        await producer.stop()
    for _ in range(int(TIMEOUT * 4)):
        parked = await store.parked("basic")
        if len(parked) == 2:
            break
        await asyncio.sleep(0.25)
    assert [(p.offset is not None, p.behind, p.key) for p in parked] == [(True, False, b"PL4A"), (True, True, b"PL4A")]
    assert "policy zhangye/2022-07/v99 is not loaded" in parked[0].error
    # everyone else goes on: PL4B's message passes basic and critical; the ledger, which believes no
    # internal message, refuses it (intake never recorded L4-2) with an alarm, and it pays nothing
    refused = []
    for _ in range(int(TIMEOUT * 4)):
        refused = [
            i for i in await store.inputs(limit=1_000_000) if i.reason and "intake recorded no claim L4-2" in i.reason
        ]
        if refused:
            break
        await asyncio.sleep(0.25)
    assert [i.topic for i in refused] == ["claims.ledger"]
    assert await store.records_of("L4-2") == []
    assert live_system.workers.crashed() == []
    # still failing: stays parked, in order
    sent = []

    async def send(topic, key, value):
        sent.append(topic)
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    from workers.harness import Context

    context = Context(live_system.database)
    try:
        assert await retry_parked(WORKERS["basic"], context, send) == (0, 2)
    finally:
        await context.close()
    # the operator drops the first, which no worker will ever have a policy for: only with a reason,
    # kept with who dropped it; the same person's next runs again at once (and, forged too, is refused
    # by the ledger: intake never recorded L4-1)
    env = {"ONESTOP_KAFKA": live_system.kafka, "ONESTOP_DATABASE_URL": live_system.database}
    head = parked[0]
    refused = await asyncio.to_thread(CliRunner().invoke, main, ["parked", "drop", str(head.parked_id)], env=env)
    assert refused.exit_code == 2 and "--reason" in refused.output
    dropped = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        [
            "parked",
            "drop",
            str(head.parked_id),
            "--reason",
            "policy v99 does not exist: a forged flight",
            "--by",
            "L4-operator",
        ],
        env=env,
    )
    assert dropped.exit_code == 0, dropped.output
    assert "basic: 1 of the same person's handled, 0 still parked" in dropped.output
    assert await store.parked("basic") == []
    [kept] = await store.dropped("basic")
    assert (kept.parked.offset, kept.reason, kept.dropped_by) == (
        head.offset,
        "policy v99 does not exist: a forged flight",
        "L4-operator",
    )
    listed = await asyncio.to_thread(CliRunner().invoke, main, ["parked", "dropped"], env=env)
    assert (
        "by L4-operator: policy v99 does not exist: a forged flight" in listed.output and "1 dropped" in listed.output
    )
    for _ in range(int(TIMEOUT * 4)):
        if any(i.reason and "intake recorded no claim L4-1" in i.reason for i in await store.inputs(limit=1_000_000)):
            break
        await asyncio.sleep(0.25)
    else:
        raise AssertionError("L4-1, run again after the drop, never reached the ledger")
    assert await store.records_of("L4-1") == [] and live_system.workers.crashed() == []


async def test_after_a_busy_life_with_kills_an_auditor_replays_the_same_records(live_system, store):
    await a_busy_life(live_system, store, prefix="L")


async def a_busy_life(live_system, store, prefix: str) -> None:
    """A year of 240 claims of 40 people of their own (``prefix``) lived with corrections,
    cancellations, revocations and killed workers; then an audit replay of the archive must make
    every record of the ledger."""
    population, claims = year_of_claims(240, persons=40, seed=43, prefix=prefix)
    rng = random.Random(43)
    grants = grants_of(population, "busy")
    before = (await store.counts())["identity_events"]
    archived_before = (await store.counts())["inputs"]
    await publish(live_system.kafka, ELIGIBILITY, grants, EligibilityChange)
    await identities_recorded(store, before + len(grants), TIMEOUT)
    raw = [encode(c) for c in claims]
    await publish(live_system.kafka, DISCHARGED, raw[:120], DischargeClaim)
    live_system.workers.kill("ledger")
    # while the ledger is down: cancellations, corrected bills and revocations of claims still travelling
    chosen = rng.sample(claims[:120], 24)
    await publish(
        live_system.kafka, CANCELLED, [cancellation(c, f"busy-x-{c.claim_id}") for c in chosen[:8]], ClaimCancellation
    )
    corrections = [
        orjson.dumps(
            {
                **c.model_dump(mode="json"),
                "revision": 1,
                "inscp_scp_amt": str(c.inscp_scp_amt + 100),
                "medfee_sumamt": str(c.medfee_sumamt + 100),
            }
        )
        for c in chosen[8:16]
    ]
    await publish(live_system.kafka, DISCHARGED, corrections + raw[120:], DischargeClaim)
    revocations = [
        encode(
            EligibilityChange(
                event_id=f"busy-r-{p.psn_no}",
                psn_no=p.psn_no,
                category=p.categories[0].code,
                action="revoke",
                valid_from=f"{claims[0].enddate.year}-07-01",
                authority=p.categories[0].authority or "civil_affairs",
                recorded_at=NOW,
            )
        )
        for p in population[:6]
        if p.categories
    ]
    await publish(live_system.kafka, ELIGIBILITY, revocations, EligibilityChange)
    live_system.workers.start_one("ledger")
    try:
        await settled_claims(store, {c.claim_id for c in claims}, TIMEOUT)
    except TimeoutError:
        stuck = {c.psn_no for c in claims} & {q.psn_no for q in await store.queued()}
        for psn in sorted(stuck)[:3]:
            print("QUEUE", psn, [(q.seq, q.sub, q.kind, q.ref, q.ready, q.flagged) for q in await store.queued(psn)])
        print("PARKED", [(x.worker, x.key, x.error) for x in await store.parked()])
        raise
    # every input received (a killed process's are redelivered once its group has rejoined), then
    # nothing waiting: only then are the archive and the ledger at the same point
    await _until_archived(store, archived_before + len(grants) + len(claims) + 8 + len(corrections) + len(revocations))
    await _until_queues_empty(store)
    replayed = replay_archive(await store.inputs(limit=10_000_000))
    ledger = [s for _, s in await store.settlements(limit=1_000_000)]
    mine = {c.psn_no for c in claims}
    assert (
        differences(
            [r for r in replayed.records if r.psn_no in mine], [r for r in ledger if r.psn_no in mine], "ledger"
        )
        == []
    )
    assert await store.check_ledger() == []


async def _until_archived(store, inputs: int, timeout: float = TIMEOUT) -> None:
    for _ in range(int(timeout * 4)):
        if (await store.counts())["inputs"] >= inputs:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{inputs - (await store.counts())['inputs']} inputs never reached the archive")


async def _until_queues_empty(store, timeout: float = TIMEOUT) -> None:
    for _ in range(int(timeout * 4)):
        if not await store.queued():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"inputs still queued: {[(q.kind, q.ref) for q in await store.queued()][:10]}")
