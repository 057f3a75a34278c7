"""The store's contract (store/interface.py), on every backend: what intake, the cancellation,
eligibility and year-end workers, the payers and the ledger may rely on — the archive, each
receipt's status and reason, each person's order, the records and the outbox, rejections,
parking, the key registry.

Amounts are the worked cases' of ../shared/cases (their ``expect``) or worked by hand in
tests/test_ledger_life.py on the same policies; each is named where it is used.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from schemas.events import CategoryHeld, ClaimInFlight, DischargeClaim
from schemas.keys import CHALLENGE_LIFETIME, KeyFile, KeyProof, ProofRefused, SigningKey
from store import Arrival, Outbox, Store
from streams.codecs import encode
from streams.flight import Flight
from streams.signing import new_key, prove
from workers.intake import attach

from .conftest import Backend
from .support import (
    NOW,
    D,
    Workers,
    arrival,
    arrived,
    as_replayed,
    by_id,
    cancellation,
    case,
    close,
    corrected,
    grant,
    grants,
    ids,
    paid,
    receive_cancellations,
    receive_claims,
    record_changes,
    records,
    revoke,
    stay,
    uid,
)

ZZ = "zhengzhou-dibao-deferred-then-paid"  # P009, dibao: ZZ-1a basic 2,160; ZZ-1b basic 2,960; ZZ-1c four payers


async def zhengzhou(store: Store) -> tuple[Workers, list[DischargeClaim]]:
    """The Zhengzhou case's person granted dibao; its claims not yet received."""
    worked = case(ZZ)
    workers = Workers(store)
    await workers.changes(*grants(worked))
    return workers, list(worked.claims)


async def test_an_empty_store_is_empty_and_up_to_date(store: Store) -> None:
    """A new store: migrating applies nothing more, every count is 0, every check holds, nothing is
    queued, waiting, parked or recorded."""
    assert await store.migrate() == []
    assert set((await store.counts()).values()) == {0}
    assert await store.check_ledger() == []
    assert (
        await store.queued(),
        await store.waiting_cancellations(),
        await store.parked(),
        await store.settlements(),
    ) == ([], [], [], [])
    assert (await store.inputs(), await store.signing_keys(), await store.person_history("P1")) == ([], {}, [])
    assert (await store.records_of("C1"), await store.years_of("P1"), await store.ready_persons(NOW)) == ([], [], [])


# --- intake: receive_claims ---------------------------------------------------------------------


async def test_a_new_claim_travels_with_the_snapshot_attach_makes_of_every_period_its_person_holds(
    store: Store,
) -> None:
    """A first receipt is ``new``, at its archive seq, with what ``attach`` returned; attach was given
    every period the person holds (also those that do not count for the stay), and the snapshot
    keeps only those that count."""
    psn = uid("P")
    held = [
        grant(psn, "dibao", "2017-01-01", event_id="dibao"),
        grant(psn, "tekun", "2015-01-01", "2016-12-31", event_id="tekun"),
        grant(psn, "poverty_registered", "2019-01-01", event_id="later"),
    ]
    await Workers(store).changes(*held)
    seen: list[list[CategoryHeld]] = []

    def spy(claim: DischargeClaim, periods: list[CategoryHeld]) -> dict:
        seen.append(periods)
        return attach(claim, periods)

    claim = stay(uid("C"), psn, "410102", "2018-02-01", "3000.00")
    came = arrival(claim)
    receipts, outbox = await receive_claims(store, [came], spy)
    [receipt] = receipts
    assert (receipt.status, receipt.reason, outbox.records) == ("new", None, [])
    [archived] = [i for i in await store.inputs() if i.kind == "claim"]
    assert (receipt.seq, archived.outcome, archived.raw, archived.offset) == (
        archived.seq,
        "accepted",
        came.raw,
        came.offset,
    )
    everything, _ = await store.identity_history(psn)
    assert len(seen) == 1 and sorted(seen[0], key=lambda h: (h.code.value, h.valid_from)) == everything
    assert [h.event_id for h in everything] == ["dibao", "later", "tekun"]
    assert [h["event_id"] for h in receipt.snapshot["identity"]] == ["dibao"]  # only dibao is held on 2018-02-01
    assert receipt.snapshot["policy"]["region"] == "zhengzhou"
    [item] = await store.queued(psn)
    assert (item.kind, item.ref, item.seq, item.ready, item.flagged) == (
        "claim",
        claim.claim_id,
        receipt.seq,
        False,
        False,
    )


async def test_a_snapshot_lists_its_categories_by_code_then_start(store: Store, backend: Backend) -> None:
    """The periods attach is given, and so the snapshot and the settlement's identity, are in the
    order of identity_history and of the rules (policies.ledger.identity_at): by code, then start —
    also when the categories were granted in another order, one change at a time."""
    psn = uid("P")
    workers = Workers(store)
    await workers.changes(grant(psn, "tekun", "2017-01-01", event_id="tekun"))
    await workers.changes(grant(psn, "dibao", "2017-01-01", event_id="dibao"))
    claim = stay(uid("C"), psn, "410102", "2018-02-01", "3000.00")
    [receipt], _ = await workers.receive(claim)
    await workers.pay(claim.claim_id)
    await workers.arrive(claim.claim_id)
    assert await as_replayed(store, psn) == []
    assert [h["code"] for h in receipt.snapshot["identity"]] == ["dibao", "tekun"]


async def test_the_same_claim_again_gets_its_first_seq_and_snapshot(store: Store) -> None:
    """The same bill again — redelivered at its place, at another place, with its fields in another
    order — is ``same``: the first seq and the snapshot stored then, even after the person's
    categories changed; at another place it is archived again with outcome repeat."""
    psn = uid("P")
    workers = Workers(store)
    claim = stay(uid("C"), psn, "410102", "2018-02-01", "3000.00")
    first = arrival(claim)
    [new], _ = await receive_claims(store, [first], attach)
    assert new.snapshot["identity"] == []
    await workers.changes(grant(psn, "dibao", "2017-01-01"))
    reordered = orjson.dumps(dict(reversed(list(orjson.loads(first.raw).items()))))
    again = [first, arrival(claim), Arrival(first.topic, 0, 10_000, reordered, claim)]
    receipts, _ = await receive_claims(store, again, attach)
    assert [(r.status, r.seq, r.snapshot) for r in receipts] == [("same", new.seq, new.snapshot)] * 3
    archived = [(i.offset, i.outcome, i.reason) for i in await store.inputs() if i.kind == "claim"]
    assert archived == [(first.offset, "accepted", None), (again[1].offset, "repeat", None), (10_000, "repeat", None)]
    assert (await store.counts())["claims_received"] == 1


async def test_other_content_under_a_known_revision_is_a_conflict(store: Store) -> None:
    """Another bill under a received claim_id and revision is refused as a conflict, saying which
    revision a correction must exceed; it is archived as rejected with that reason."""
    psn = uid("P")
    claim = stay(uid("C"), psn, "410102", "2018-02-01", "3000.00")
    await receive_claims(store, [arrival(claim)], attach)
    other = claim.model_copy(update={"medfee_sumamt": D("3100.00"), "inscp_scp_amt": D("3100.00")})
    [receipt], _ = await receive_claims(store, [arrival(other)], attach)
    reason = (
        f"claim {claim.claim_id} revision 0 was already received with different content; "
        "send a corrected bill with a revision above 0"
    )
    assert (receipt.status, receipt.reason, receipt.snapshot) == ("conflict", reason, None)
    assert [(i.seq, i.outcome, i.reason) for i in await store.inputs()][-1] == (receipt.seq, "rejected", reason)
    # another person's bill under this hospital's claim_id is refused: a claim id names one stay of one person
    [theirs], _ = await receive_claims(store, [arrival(claim.model_copy(update={"psn_no": uid("Q")}))], attach)
    assert (theirs.status, theirs.reason) == (
        "refused",
        f"claim {claim.claim_id} belongs to another person; a claim id names one stay of one person",
    )


async def test_an_input_delivered_again_keeps_the_decision_it_first_had(store: Store) -> None:
    """A corrected bill refused because its claim was never received stays refused when the same
    message is delivered again (a batch redelivered after a crash), even though revision 0 has
    come since: the archive said refused, and the ledger must not take it (found by the
    interleavings test: the replay and the ledger disagreed)."""
    psn = uid("P")
    claim = stay(uid("C"), psn, "410102", "2018-02-01", "3000.00")
    early = arrival(corrected(claim, 1), offset=10)
    [refused], _ = await receive_claims(store, [early], attach)
    [first], _ = await receive_claims(store, [arrival(claim, offset=11)], attach)
    [again], _ = await receive_claims(store, [early], attach)
    assert (refused.status, first.status, again.status) == ("refused", "new", "refused")
    assert again.reason == refused.reason and again.seq == refused.seq
    assert [(i.kind, i.ref) for i in await store.queued(psn)] == [("claim", claim.key)]
    assert [i.outcome for i in await store.inputs() if i.psn_no == psn] == ["rejected", "accepted"]


async def test_a_higher_revision_is_a_correction_and_a_lower_one_stale(store: Store) -> None:
    """Revision 2 after 0 is a correction, queued ready in its person's order; revision 1 after it
    is stale; revision 2 again is the same (with the first receipt's seq and snapshot)."""
    psn = uid("P")
    claim = stay(uid("C"), psn, "410102", "2018-02-01", "3000.00")
    [first], _ = await receive_claims(store, [arrival(claim)], attach)
    two = corrected(claim, 2, medfee_sumamt=D("3500.00"), inscp_scp_amt=D("3500.00"))
    one = corrected(claim, 1, medfee_sumamt=D("3200.00"), inscp_scp_amt=D("3200.00"))
    receipts, outbox = await receive_claims(store, [arrival(two), arrival(one), arrival(two)], attach)
    assert [r.status for r in receipts] == ["correction", "stale", "same"]
    assert receipts[0].snapshot is None and receipts[0].seq > first.seq
    assert receipts[1].reason == f"claim {claim.claim_id} revision 1 arrived after revision 2; it changes nothing"
    assert (receipts[2].seq, receipts[2].snapshot) == (first.seq, first.snapshot)
    assert outbox.records == []  # the claim has not reached the ledger: the correction waits behind it
    assert [(i.kind, i.seq, i.ready) for i in await store.queued(psn)] == [
        ("claim", first.seq, False),
        ("correction", receipts[0].seq, True),
    ]
    assert [i.outcome for i in await store.inputs()] == ["accepted", "accepted", "rejected", "repeat"]
    assert (await store.counts())["claims_received"] == 2


async def test_a_cancelled_claim_or_another_persons_is_not_corrected(store: Store) -> None:
    """A correction of a cancelled claim is refused naming the cancellation; one under another
    person's number is refused as another person's claim."""
    workers, (a, b, _) = await zhengzhou(store)
    await workers.settle(a, b)
    await receive_cancellations(store, [arrival(cancellation(a, "cancel-a"))])
    receipts, outbox = await receive_claims(
        store,
        [
            arrival(corrected(a, 1)),
            arrival(corrected(b, 1, psn_no=uid("Q"))),
        ],
    )
    assert [(r.status, r.reason) for r in receipts] == [
        (
            "refused",
            "claim ZZ-1a was cancelled by cancel-a; a cancelled claim is not corrected"
            " — send the bill as a new claim_id",
        ),
        ("refused", "claim ZZ-1b belongs to another person; a corrected bill keeps its psn_no"),
    ]
    assert outbox.records == []
    assert [i.outcome for i in await store.inputs()][-2:] == ["rejected", "rejected"]


async def test_a_corrected_bill_adjusts_its_claim_and_the_later_ones(store: Store) -> None:
    """ZZ-1a corrected (bill +500, in scope 2,600 → 3,100) after the three stays: settled again in
    order, its own adjustment and ZZ-1c's (tests/test_ledger_life.py, worked by hand)."""
    workers, (a, b, c) = await zhengzhou(store)
    await workers.settle(a, b, c)
    fixed = corrected(a, 1, medfee_sumamt=D("3500.00"), inscp_scp_amt=D("3100.00"))
    [receipt], outbox = await receive_claims(store, [arrival(fixed)], attach)
    assert receipt.status == "correction"
    assert ids(outbox.records) == ["ZZ-1a/adjustment/claim/ZZ-1a@1", "ZZ-1c/adjustment/claim/ZZ-1a@1"]
    fix, later = outbox.records
    # basic 90% × (3,100 − 200) = 2,610: +450.00 on a bill 500.00 higher; the person +50.00
    assert (fix.medfee_sumamt, paid(fix), fix.psn_part_amt, fix.revision) == (
        D("500.00"),
        {"basic": D("450.00")},
        D("50.00"),
        1,
    )
    assert fix.reason == "corrected bill: claim ZZ-1a revision 1"
    # ZZ-1c's yearly base before it rises by 50: critical and supplementary +25.00 each
    assert paid(later) == {"critical": D("25.00"), "supplementary": D("25.00")}
    assert await as_replayed(store, "P009") == []
    assert await store.check_ledger() == []


async def test_a_claim_is_its_hospitals_and_its_id(store: Store) -> None:
    """Another hospital's higher revision of H1's claim (same claim_id and person, its own
    fixmedins_code) corrects nothing: it names a claim of its own hospital, which was never received,
    and is refused; H1's claim keeps its one record. A claim_id H2 sends first stands in nobody's
    way: H1's claim of the same id is new, and each is settled as its own hospital's."""
    psn = uid("P")
    workers = Workers(store)
    mine = stay("C-1", psn, "410102", "2018-02-01", "3000.00", fixmedins_code="H1")
    await workers.settle(mine)
    theirs = corrected(mine, 1, fixmedins_code="H2", medfee_sumamt=D("230000.00"), inscp_scp_amt=D("230000.00"))
    [refused], outbox = await receive_claims(store, [arrival(theirs)])
    assert (refused.status, refused.reason, outbox.records) == (
        "refused",
        (
            "claim C-1 of hospital H2 was never received: revision 1 is a corrected bill,"
            " and a corrected bill corrects only "
            "its own hospital's claim; send the bill as revision 0"
        ),
        [],
    )
    assert ids(await store.records_of("H1/C-1")) == ["H1/C-1/settlement"] and await store.records_of("H2/C-1") == []
    squatted = stay("C-2", psn, "410102", "2018-03-01", "1000.00", fixmedins_code="H2")
    rightful = stay("C-2", psn, "410102", "2018-03-02", "2000.00", fixmedins_code="H1")
    await workers.settle(squatted, rightful)
    assert [(r.settlement_id, r.fixmedins_code, r.medfee_sumamt) for r in await records(store, psn)][1:] == [
        ("H2/C-2/settlement", "H2", D("1000.00")),
        ("H1/C-2/settlement", "H1", D("2000.00")),
    ]
    assert await as_replayed(store, psn) == [] and await store.check_ledger() == []


async def test_inputs_of_other_kinds_with_the_same_id_cause_records_of_their_own(store: Store) -> None:
    """A cancellation and a grant sent with one event_id: each causes its own records (a record's
    cause names its kind), none collides with another or vanishes."""
    worked = case("zhangye-dibao-edge-two-stays")
    workers = Workers(store)
    await workers.settle(*worked.claims)
    _, b = worked.claims
    [grant_receipt], granted = await record_changes(
        store, [arrival(grant("P002", "dibao_edge", "2022-11-01", event_id="E-1"))]
    )
    await workers.publish(granted)
    [cancel_receipt], cancelled = await receive_cancellations(store, [arrival(cancellation(b, "E-1"))])
    assert (grant_receipt.status, cancel_receipt.status) == ("applied", "applied")
    assert ids(granted.records) == ["ZY-2b/adjustment/eligibility/civil_affairs/E-1"]
    assert ids(cancelled.records) == ["ZY-2b/reversal/cancellation/E-1"]
    assert paid(by_id(await records(store, "P002"))["ZY-2b/reversal/cancellation/E-1"]) == {
        "basic": D("-16250.00"),
        "critical": D("-4050.00"),
        "assistance": D("-3420.00"),
    }
    assert await as_replayed(store, "P002") == [] and await store.check_ledger() == []


async def test_a_batch_that_fails_leaves_nothing_behind(store: Store) -> None:
    """receive_claims is one transaction: when attach fails on the second claim of a batch, the first
    is neither archived nor recorded nor queued; the batch again, with a working attach, is new."""
    workers, (a, b, _) = await zhengzhou(store)
    before = await store.counts()

    def fails_on_b(claim: DischargeClaim, periods: list[CategoryHeld]) -> dict:
        if claim.claim_id == b.claim_id:
            raise RuntimeError("no snapshot")
        return attach(claim, periods)

    batch = [arrival(a), arrival(b)]
    with pytest.raises(RuntimeError, match="no snapshot"):
        await receive_claims(store, batch, fails_on_b)
    assert await store.counts() == before
    assert await store.queued() == []
    receipts, _ = await receive_claims(store, batch, attach)
    assert [r.status for r in receipts] == ["new", "new"]


async def test_two_intakes_and_two_ledgers_at_once_take_each_input_once(store: Store, backend: Backend) -> None:
    """Two intake consumers receiving the same claim at once (from two places): one finds it new,
    the other the same; two ledger consumers taking the same claims at once record each once."""
    other = await backend.another()
    workers, (a, b, _) = await zhengzhou(store)
    receipts = await asyncio.gather(receive_claims(store, [arrival(a)]), receive_claims(other, [arrival(a)]))
    assert sorted(r[0][0].status for r in receipts) == ["new", "same"]
    assert receipts[0][0][0].seq == receipts[1][0][0].seq
    [first], _ = receipts[0]
    workers.flights["ZZ-1a"] = encode(ClaimInFlight(claim=a, seq=first.seq, basis=first.basis, **first.snapshot))
    await workers.receive(b)
    for claim in (a, b):
        await workers.pay(claim.claim_id)
    both = [arrived(workers.flights["ZZ-1a"]), arrived(workers.flights["ZZ-1b"])]
    (one, refused), (two, too) = await asyncio.gather(store.arrive(both, NOW), other.arrive(list(reversed(both)), NOW))
    assert refused == too == [None, None]
    assert ids(one.records) == ids(two.records) == ["ZZ-1a/settlement", "ZZ-1b/settlement"]
    assert (await store.counts())["settlements"] == 2
    assert await as_replayed(store, "P009") == []


# --- the archive --------------------------------------------------------------------------------


async def test_the_archive_keeps_every_input_once_in_its_persons_order_with_its_outcome(store: Store) -> None:
    """inputs(): every input once, each person's in their order ("", what names no one person, first),
    with its topic, place, bytes, kind, outcome and reason; a redelivery at the same place is not
    archived again and keeps its seq; the same bytes at another place are another row, a repeat; a
    close is archived as received and again in the order of each person it settles; ``after`` (a
    place) and ``limit`` page through it."""
    workers, (a, b, _) = await zhengzhou(store)
    came = arrival(a)
    [first], _ = await receive_claims(store, [came], attach)
    [redelivered], _ = await receive_claims(store, [came], attach)
    [elsewhere], _ = await receive_claims(store, [arrival(a, offset=came.offset + 1000)], attach)
    [conflict], _ = await receive_claims(store, [arrival(a.model_copy(update={"dise_codg": "K35.9"}))], attach)
    waiting = arrival(cancellation(b, "early"))
    [cancelled], _ = await receive_cancellations(store, [waiting])
    closing = arrival(close("zhengzhou", 2018))
    closed = await store.receive_close(closing)
    bad = Arrival("claims.discharged", 1, 77, b'{"claim_id": \x00', None)
    assert await store.reject(bad, "claim", "not JSON", None) is True
    assert (redelivered.status, redelivered.seq) == ("same", first.seq)
    assert (elsewhere.status, elsewhere.seq) == ("same", first.seq)
    assert (cancelled.status, closed.status) == ("waiting", "applied")
    archived = await store.inputs()
    assert [i.place for i in archived] == sorted({i.place for i in archived})  # each once, in order
    assert [(i.psn_no, i.kind, i.outcome) for i in archived] == [
        ("", "close", "accepted"),
        ("", "claim", "rejected"),
        ("P009", "eligibility", "accepted"),
        ("P009", "claim", "accepted"),
        ("P009", "claim", "repeat"),
        ("P009", "claim", "rejected"),
        ("P009", "cancellation", "accepted"),
        ("P009", "close", "accepted"),
    ]
    mine = archived[2:]
    assert mine[0].seq == 1 and all(x.seq < y.seq for x, y in zip(mine, mine[1:]))  # the person's own order, from 1
    assert mine[1].seq == first.seq and mine[3].seq == conflict.seq
    assert mine[4].seq == cancelled.seq and archived[0].seq == closed.seq
    assert [(i.topic, i.partition, i.offset, i.raw) for i in mine[1:3]] == [
        (came.topic, 0, came.offset, came.raw),
        (came.topic, 0, came.offset + 1000, came.raw),
    ]
    assert (archived[1].topic, archived[1].partition, archived[1].offset, archived[1].raw) == (
        "claims.discharged",
        1,
        77,
        bad.raw,
    )
    assert archived[1].reason == "not JSON" and mine[3].reason.startswith("claim ZZ-1a revision 0 was already received")
    assert archived[0].raw == mine[5].raw == closing.raw and mine[4].raw == waiting.raw
    assert all(i.received_at.tzinfo is not None for i in archived)
    assert await store.inputs(after=archived[3].place, limit=2) == archived[4:6]
    assert await store.inputs(after=archived[-1].place) == []


# --- cancellations -------------------------------------------------------------------------------


async def test_a_cancellation_reverses_its_claim_and_settles_the_later_ones_again(store: Store) -> None:
    """Cancelling ZZ-1b after the three stays: applied, the reversal and ZZ-1c's adjustment in the
    outbox (tests/test_ledger_life.py); a second cancellation of it is refused, saying by what and
    when it was cancelled; the same cancellation again is a repeat."""
    workers, (a, b, c) = await zhengzhou(store)
    await workers.settle(a, b, c)
    first = arrival(cancellation(b, "cancel-1b", "duplicate bill"))
    [applied], outbox = await receive_cancellations(store, [first])
    assert (applied.status, applied.reason) == ("applied", None)
    assert ids(outbox.records) == ["ZZ-1b/reversal/cancellation/cancel-1b", "ZZ-1c/adjustment/cancellation/cancel-1b"]
    reversal, adjustment = outbox.records
    # every line of ZZ-1b negated: basic −2,960.00 of a bill of 5,000.00
    assert (reversal.kind, paid(reversal), reversal.medfee_sumamt) == (
        "reversal",
        {"basic": D("-2960.00")},
        D("-5000.00"),
    )
    assert reversal.reason == "cancellation cancel-1b of claim ZZ-1b: duplicate bill"
    # ZZ-1c's yearly base before it falls by 1,240: critical and supplementary −620.00 each
    assert paid(adjustment) == {"critical": D("-620.00"), "supplementary": D("-620.00")}
    await workers.publish(outbox)
    receipts, outbox = await receive_cancellations(
        store,
        [arrival(cancellation(b, "cancel-1b-again")), first, arrival(cancellation(b, "cancel-1b", "duplicate bill"))],
    )
    assert [(r.status, r.seq, r.reason) for r in receipts] == [
        (
            "refused",
            receipts[0].seq,
            "claim ZZ-1b was already cancelled by cancel-1b (2026-11-22 00:00); this cancellation changes nothing",
        ),
        ("repeat", applied.seq, "cancellation cancel-1b was received before"),
        ("repeat", applied.seq, "cancellation cancel-1b was received before"),
    ]
    assert outbox.records == []
    assert [(i.outcome, i.reason) for i in await store.inputs()][-2:] == [
        ("rejected", receipts[0].reason),
        ("repeat", "cancellation cancel-1b was received before"),
    ]
    assert (await store.counts())["cancellations"] == 1
    assert await as_replayed(store, "P009") == []


async def test_a_cancellation_before_its_claim_waits_and_reverses_it_when_it_arrives(store: Store) -> None:
    """A cancellation of a claim not yet received waits (listed by waiting_cancellations; a second
    one is refused); the claim, when it comes, is settled, then reversed; ZZ-1c then settles
    without ZZ-1b in its year: critical 7,045.00 (tests/test_ledger_life.py)."""
    workers, (a, b, c) = await zhengzhou(store)
    early = cancellation(b, "early")
    [receipt], outbox = await receive_cancellations(store, [arrival(early)])
    assert (receipt.status, outbox.records) == ("waiting", [])
    assert await store.waiting_cancellations() == [early]
    [second], _ = await receive_cancellations(store, [arrival(cancellation(b, "also-early"))])
    assert (second.status, second.reason) == (
        "refused",
        "cancellation early of claim ZZ-1b is already waiting for the claim; this one changes nothing",
    )
    await workers.settle(a)
    [received], _ = await workers.receive(b)
    assert await store.waiting_cancellations() == []
    assert [(i.kind, i.seq, i.sub, i.ready) for i in await store.queued("P009")] == [
        ("claim", received.seq, 0, False),
        ("cancellation", received.seq, 1, True),
    ]
    await workers.pay(b.claim_id)
    outbox = await workers.arrive(b.claim_id)
    assert ids(outbox.records) == ["ZZ-1b/settlement", "ZZ-1b/reversal/cancellation/early"]
    assert paid(outbox.records[0]) == {"basic": D("2960.00")} and paid(outbox.records[1]) == {"basic": D("-2960.00")}
    await workers.publish(outbox)
    outbox = await workers.settle(c)
    assert paid(by_id(outbox.records)["ZZ-1c/settlement"])["critical"] == D("7045.00")
    assert await store.queued() == []
    assert await as_replayed(store, "P009") == []


async def test_a_cancellation_of_a_claim_still_travelling_is_applied_right_after_it(store: Store) -> None:
    """A cancellation received while its claim is with the payers is applied, but waits in the
    person's queue behind the claim: nothing is recorded until the claim reaches the ledger, then
    the settlement and its reversal."""
    workers, (a, _, _) = await zhengzhou(store)
    [claim], _ = await workers.receive(a)
    [receipt], outbox = await receive_cancellations(store, [arrival(cancellation(a, "while-travelling"))])
    assert (receipt.status, outbox.records) == ("applied", [])
    assert [(i.kind, i.ready) for i in await store.queued("P009")] == [("claim", False), ("cancellation", True)]
    await workers.pay(a.claim_id)
    outbox = await workers.arrive(a.claim_id)
    assert ids(outbox.records) == ["ZZ-1a/settlement", "ZZ-1a/reversal/cancellation/while-travelling"]
    assert paid(outbox.records[0]) == {"basic": D("2160.00")}  # the shared case's ZZ-1a
    assert await as_replayed(store, "P009") == []


async def test_a_cancellation_of_another_persons_claim_is_refused_and_another_hospitals_waits_for_its_own(
    store: Store,
) -> None:
    """A cancellation of the claim under another person's number is refused, nothing cancelled.
    Another hospital's cancellation of the same claim_id names a claim of its own (a claim is its
    hospital's and its id): it waits for that claim, which never comes, and cancels nothing of H1's;
    H1's own cancellation — with the same event_id — is applied."""
    psn = uid("P")
    claim = stay(uid("C"), psn, "410102", "2018-02-01", "3000.00", fixmedins_code="H1")
    workers = Workers(store)
    await workers.settle(claim)
    receipts, outbox = await receive_cancellations(
        store,
        [
            arrival(cancellation(claim, "theirs", psn_no=uid("Q"), fixmedins_code="H1")),
            arrival(cancellation(claim, "own", fixmedins_code="H2")),
        ],
    )
    assert [(r.status, r.reason) for r in receipts] == [
        ("refused", f"claim {claim.claim_id} of hospital H1 belongs to another person; nothing was cancelled"),
        ("waiting", None),
    ]
    assert outbox.records == [] and [c.fixmedins_code for c in await store.waiting_cancellations()] == ["H2"]
    [ok], outbox = await receive_cancellations(store, [arrival(cancellation(claim, "own", fixmedins_code="H1"))])
    assert ok.status == "applied" and ids(outbox.records) == [f"H1/{claim.claim_id}/reversal/cancellation/H1/own"]


# --- eligibility changes settle a person's years again ------------------------------------------


async def test_a_grant_reaching_back_twelve_months_settles_the_year_again(store: Store) -> None:
    """Zhangye's dibao_edge granted from 2022-11-01 covers the 12 months before: ZY-2b (2022-10-20),
    settled with insurance only, gets the shared case's assistance 3,420.00 as an adjustment;
    ZY-2a's assistance is 0 either way (below the 2,000 deductible). The grant again is a repeat."""
    worked = case("zhangye-dibao-edge-two-stays")
    workers = Workers(store)
    await workers.settle(*worked.claims)
    # without a category: the shared case's insurance figures
    assert [paid(r) for r in await records(store)] == [
        {"basic": D("6000.00")},
        {"basic": D("16250.00"), "critical": D("4050.00")},
    ]
    late = grant("P002", "dibao_edge", "2022-11-01", event_id="edge-2022-11")
    [receipt], outbox = await record_changes(store, [arrival(late)])
    assert receipt.status == "applied"
    assert ids(outbox.records) == ["ZY-2b/adjustment/eligibility/civil_affairs/edge-2022-11"]
    assert paid(outbox.records[0]) == {"assistance": D("3420.00")}
    assert outbox.records[0].psn_part_amt == D("-3420.00")
    await workers.publish(outbox)
    [again], outbox = await record_changes(store, [arrival(late)])
    assert (again.status, again.seq, outbox.records) == ("repeat", receipt.seq, [])
    assert await as_replayed(store, "P002") == []
    assert await store.check_ledger() == []


async def test_a_revocation_reaching_back_recovers_what_was_paid_on_its_grounds(store: Store) -> None:
    """Guang'an: dibao revoked from 2018-05-01 takes back GA-2b's assistance 1,386.00 (the shared
    case's): a negative adjustment, the person's share up by as much, the bill unchanged."""
    worked = case("guangan-category-change")
    workers = Workers(store)
    await workers.changes(*grants(worked))
    await workers.settle(*worked.claims)
    assert paid(by_id(await records(store))["GA-2b/settlement"]) == {"basic": D("16020.00"), "assistance": D("1386.00")}
    [receipt], outbox = await record_changes(
        store, [arrival(revoke("P010", "dibao", "2018-05-01", event_id="dibao-revoked"))]
    )
    assert receipt.status == "applied"
    [recovered] = outbox.records
    assert recovered.settlement_id == "GA-2b/adjustment/eligibility/civil_affairs/dibao-revoked"
    assert (paid(recovered), recovered.psn_part_amt, recovered.medfee_sumamt) == (
        {"assistance": D("-1386.00")},
        D("1386.00"),
        D("0.00"),
    )
    assert await as_replayed(store, "P010") == []
    assert await store.check_ledger() == []


# --- year-end closes ------------------------------------------------------------------------------


async def test_a_close_is_taken_once_per_region_and_year_and_applied_in_each_persons_order(store: Store) -> None:
    """Zhengzhou 2018 closed after ZZ-1a and ZZ-1b (assistance deferred): applied, P009 to wake;
    closing again is a repeat saying when it was closed (and still names whom the close has not
    reached); applying it records the year_end payment F(1,680) = 70% × (1,680 − 500) = 826.00
    (tests/test_ledger_life.py). ZZ-1c, arriving in the closed year, is settled by the rules as the
    shared case says, and the year_end record adjusted by −826.00."""
    workers, (a, b, c) = await zhengzhou(store)
    await workers.settle(a, b)
    closing = arrival(close("zhengzhou", 2018, "close-2018"))
    receipt = await store.receive_close(closing)
    assert (receipt.status, receipt.persons, receipt.reason) == ("applied", ("P009",), None)
    assert [(i.kind, i.ref, i.ready) for i in await store.queued("P009")] == [("close", "close-2018", True)]
    said = "zhengzhou 2018 was closed by close-2018 on 2026-11-22; closing again changes nothing"
    again = await store.receive_close(arrival(close("zhengzhou", 2018, "again")))
    assert (again.status, again.seq, again.reason, again.persons) == ("repeat", receipt.seq, said, ("P009",))
    outbox = await store.apply(["P009"], NOW)
    [year_end] = outbox.records
    assert year_end.settlement_id == "year-end/zhengzhou/2018/P009/year_end"
    assert (year_end.kind, paid(year_end), year_end.psn_part_amt) == (
        "year_end",
        {"assistance": D("826.00")},
        D("-826.00"),
    )
    assert year_end.reason == "year-end close close-2018 of zhengzhou 2018"
    await workers.publish(outbox)
    redelivered = await store.receive_close(closing)
    assert (redelivered.status, redelivered.seq, redelivered.persons) == ("repeat", receipt.seq, ())
    assert [(i.psn_no, i.kind, i.outcome, i.reason) for i in await store.inputs() if i.kind == "close"] == [
        ("", "close", "accepted", None),
        ("", "close", "repeat", said),  # as received: it names no one person
        ("P009", "close", "accepted", None),
    ]  # and in the order of the person it settles
    assert (await store.receive_close(arrival(close("zhengzhou", 2019)))).persons == ()  # nobody has claims of 2019
    [received], _ = await workers.receive(c)
    assert [(i.kind, i.flagged) for i in await store.queued("P009")] == [("claim", True)]  # its year is closed
    await workers.pay(c.claim_id)
    outbox = await workers.arrive(c.claim_id)
    assert ids(outbox.records) == ["ZZ-1c/settlement", "year-end/zhengzhou/2018/P009/adjustment/claim/ZZ-1c"]
    assert paid(outbox.records[0]) == {
        "basic": D("51350.00"),
        "critical": D("7665.00"),
        "supplementary": D("12765.00"),
        "assistance": D("6580.00"),
    }
    assert paid(outbox.records[1]) == {"assistance": D("-826.00")}
    assert await as_replayed(store, "P009") == []
    assert await store.check_ledger() == []


async def test_a_persons_first_claim_of_a_closed_year_has_the_close_put_before_it(store: Store) -> None:
    """Zhengzhou 2018 closed before P009 sent any claim of it: the close settles nobody then. P009's
    first claim of 2018 has the close put before it in P009's order — archived there, remembered in
    the person's history, queued first — and the claim is settled by the rules (flagged); a second
    claim of that year does not get the close again. The records are the replay's."""
    workers, (a, b, _) = await zhengzhou(store)
    closed = await store.receive_close(arrival(close("zhengzhou", 2018, "close-2018")))
    assert (closed.status, closed.persons) == ("applied", ())
    [received], _ = await workers.receive(a)
    assert [(i.psn_no, i.kind) for i in await store.inputs()] == [
        ("", "close"),
        ("P009", "eligibility"),
        ("P009", "close"),
        ("P009", "claim"),
    ]
    assert [(i.kind, i.ref, i.ready, i.flagged) for i in await store.queued("P009")] == [
        ("close", "close-2018", True, False),
        ("claim", a.claim_id, False, True),
    ]
    assert [type(i).__name__ for i in await store.person_history("P009")] == [
        "ChangeReceived",
        "CloseReceived",
        "ClaimReceived",
    ]
    await workers.pay(a.claim_id)
    outbox = await workers.arrive(a.claim_id)
    assert "ZZ-1a/settlement" in ids(outbox.records) and workers.refused == {}
    await workers.publish(outbox)
    await workers.settle(b)
    assert [i.kind for i in await store.inputs() if i.psn_no == "P009"] == ["eligibility", "close", "claim", "claim"]
    assert await store.queued() == []
    assert await as_replayed(store, "P009") == [] and await store.check_ledger() == []


# --- the ledger: each person's order, the fast path and the rules ---------------------------------


async def test_a_claim_nothing_disturbed_is_settled_by_the_ledger_as_its_payers_computed(store: Store) -> None:
    """The fast path: the ledger settles the claim itself, by the rules, on its own totals — which
    here are what the claim's payers computed on, so the record's lines are the payers' lines; the
    stay's early warning (inscp 36,000 − basic 22,750 − critical 6,987.50 = 6,262.50 > 6,000 for a
    tekun person in Zhangye) is in the outbox with it."""
    worked = case("zhangye-tekun-unreferred-elsewhere")
    workers = Workers(store)
    await workers.changes(*grants(worked))
    [claim] = worked.claims
    await workers.receive(claim)
    await workers.pay(claim.claim_id)
    assert [(i.ready, i.flagged) for i in await store.queued("P003")] == [(False, False)]
    outbox = await workers.arrive(claim.claim_id)
    [record] = outbox.records
    assert [line.model_dump(mode="json") for line in record.payments] == Flight.read(workers.flights[claim.key]).data[
        "lines"
    ]
    assert paid(record) == {"basic": D("22750.00"), "critical": D("6987.50")}  # the shared case
    assert (record.fund_pay_sumamt, record.psn_part_amt) == (D("29737.50"), D("10262.50"))
    assert [(alert_id, alert.psn_part_amt, alert.threshold) for alert_id, alert in outbox.alerts] == [
        ("ZY-3", D("6262.50"), D("6000.00"))
    ]
    assert [h.code.value for h in record.identity] == ["tekun"]
    assert await store.check_ledger() == [] and workers.refused == {}


async def test_a_claim_whose_payers_lie_is_refused_and_moves_nothing(store: Store) -> None:
    """Internal messages carry no authority: a claim in flight whose lines are not what the rules give
    for what intake recorded (here a payer's explanation changed; so too any amount) is refused with
    the reason, records nothing and stays where it was in its person's queue; the honest record of
    the same claim, arriving after, is settled. A claim intake never recorded, or one that says it is
    another person's or at another place, is refused as well."""
    worked = case("zhangye-tekun-unreferred-elsewhere")
    workers = Workers(store)
    await workers.changes(*grants(worked))
    [claim] = worked.claims
    await workers.receive(claim)
    honest = workers.flights[claim.key]
    await workers.pay(claim.claim_id, mark=" [as paid]")
    assert (await workers.arrive(claim.claim_id)).records == []
    assert "basic line differs in explanation" in workers.refused[claim.key]
    assert [(i.ready, i.flagged) for i in await store.queued("P003")] == [(False, False)]
    assert await store.settlements() == []
    forged = orjson.loads(honest)
    forged["lines"] = [{**line, "amount": "40000.00"} for line in orjson.loads(workers.flights[claim.key])["lines"]]
    workers.flights[claim.key] = orjson.dumps(forged)
    assert (await workers.arrive(claim.claim_id)).records == []
    assert "basic pays 40000.00, the rules give 22750.00" in workers.refused[claim.key]
    unknown = arrived(orjson.dumps({**forged, "claim": {**forged["claim"], "claim_id": "NEVER"}}))
    elsewhere = arrived(orjson.dumps({**forged, "seq": forged["seq"] + 1}))
    _, refused = await store.arrive([unknown, elsewhere], NOW)
    assert refused[0] == "intake recorded no claim NEVER of this person: a claim reaches the ledger only from intake"
    assert refused[1] == (
        f"claim {claim.key} arrived at place {forged['seq'] + 1} of its person, but intake recorded it at another place"
    )
    _, [another] = await store.arrive(
        [arrived(orjson.dumps({**forged, "claim": {**forged["claim"], "psn_no": "P009"}}))], NOW
    )
    assert (
        another == f"intake recorded no claim {claim.key} of this person: a claim reaches the ledger only from intake"
    )
    workers.flights[claim.key] = honest
    await workers.pay(claim.claim_id)
    [record] = (await workers.arrive(claim.claim_id)).records
    assert paid(record) == {"basic": D("22750.00"), "critical": D("6987.50")}
    assert await as_replayed(store, "P003") == [] and await store.check_ledger() == []


async def test_a_claim_that_lifts_its_year_over_a_qualifying_line_is_settled_by_the_rules(store: Store) -> None:
    """Taizhou: TZ-B lifts the low-income serious-illness year over 10,000, which the ledger finds
    when it settles TZ-B on its own totals, so it settles the year by the rules: TZ-B as worked by
    hand, and TZ-A owed 70% × 480 = 336.00 more (tests/test_ledger_life.py)."""
    psn = uid("PTZ")
    workers = Workers(store)
    await workers.changes(grant(psn, "low_income_serious_illness", "2018-01-01"))
    a = stay("TZ-A-" + psn, psn, "321202", "2018-03-01", "3000.00")
    b = stay("TZ-B-" + psn, psn, "321202", "2018-06-01", "100000.00", level="3")
    await workers.settle(a)
    await workers.receive(b)
    await workers.pay(b.claim_id)
    assert [(i.ref, i.flagged) for i in await store.queued(psn)] == [(b.claim_id, False)]
    outbox = await workers.arrive(b.claim_id)
    # in settlement order: TZ-A (received first) before TZ-B
    assert ids(outbox.records) == [f"{a.claim_id}/adjustment/claim/{b.claim_id}", f"{b.claim_id}/settlement"]
    assert (paid(outbox.records[0]), outbox.records[0].psn_part_amt) == ({"assistance": D("336.00")}, D("-336.00"))
    # basic 65% × 99,000 = 64,350; critical 60% × (36,130 − 10,000) = 15,678; assistance 70% × 19,972 = 13,980.40
    assert paid(outbox.records[1]) == {"basic": D("64350.00"), "critical": D("15678.00"), "assistance": D("13980.40")}
    assert await as_replayed(store, psn) == []
    assert await store.check_ledger() == []


async def test_a_claim_that_reaches_the_ledger_before_an_earlier_one_waits_for_it(store: Store) -> None:
    """ZZ-1b reaches the ledger first: it waits (ready, behind ZZ-1a); when ZZ-1a arrives both are
    settled, in the order received, with the shared case's figures."""
    workers, (a, b, _) = await zhengzhou(store)
    await workers.receive(a)
    await workers.receive(b)
    await workers.pay(a.claim_id)
    await workers.pay(b.claim_id)
    outbox = await workers.arrive(b.claim_id)
    assert outbox.records == []
    assert [(i.ref, i.ready) for i in await store.queued("P009")] == [("ZZ-1a", False), ("ZZ-1b", True)]
    outbox = await workers.arrive(a.claim_id)
    assert ids(outbox.records) == ["ZZ-1a/settlement", "ZZ-1b/settlement"]
    assert [paid(r) for r in outbox.records] == [{"basic": D("2160.00")}, {"basic": D("2960.00")}]
    assert await store.queued() == []
    assert await as_replayed(store, "P009") == []


async def test_claims_the_payers_saw_in_any_order_are_settled_in_the_order_received(store: Store) -> None:
    """The payers see ZZ-1c before ZZ-1a and ZZ-1b, each on the year's totals as intake found them
    (ZZ-1c's lines therefore miss the year before it); the claims reach the ledger in reverse. The
    ledger settles them in the order received, each on its own totals — the shared case's figures
    (ZZ-1c on its payers' lines would get critical 6,825.00 and supplementary 11,925.00: 840.00 less
    each, 50% of the 1,680 of ZZ-1a and ZZ-1b's year it did not see); nothing was refused, since each
    payer's lines are what the rules give on the basis it carried."""
    workers, (a, b, c) = await zhengzhou(store)
    for claim in (a, b, c):
        await workers.receive(claim)
    for claim in (c, b, a):
        await workers.pay(claim.claim_id)
    assert [(i.ref, i.flagged) for i in await store.queued("P009")] == [
        ("ZZ-1a", False),
        ("ZZ-1b", False),
        ("ZZ-1c", False),
    ]
    assert (await workers.arrive(c.claim_id)).records == []
    assert (await workers.arrive(b.claim_id)).records == []
    outbox = await workers.arrive(a.claim_id)
    assert ids(outbox.records) == ["ZZ-1a/settlement", "ZZ-1b/settlement", "ZZ-1c/settlement"]
    assert [paid(r) for r in outbox.records] == [
        {"basic": D("2160.00")},
        {"basic": D("2960.00")},
        {"basic": D("51350.00"), "critical": D("7665.00"), "supplementary": D("12765.00"), "assistance": D("6580.00")},
    ]
    assert workers.refused == {}
    assert await as_replayed(store, "P009") == []
    assert await store.check_ledger() == []


# --- records and the outbox ----------------------------------------------------------------------


async def test_records_are_recorded_once_and_published_in_order(store: Store) -> None:
    """Each record once under its id, however often its claim arrives; the outbox holds a person's
    unpublished records in the order recorded until they are marked published (unknown ids
    ignored); settlements() pages through them in seq order; records_of and record_documents agree."""
    workers, (a, b, _) = await zhengzhou(store)
    for claim in (a, b):
        await workers.receive(claim)
        await workers.pay(claim.claim_id)
    first = await workers.arrive(a.claim_id, b.claim_id)
    assert ids(first.records) == ["ZZ-1a/settlement", "ZZ-1b/settlement"]
    assert ids((await workers.arrive(a.claim_id, b.claim_id)).records) == ids(first.records)  # redelivered: nothing new
    assert (await store.counts())["settlements"] == 2
    await store.mark_published([("P009", "ZZ-1a/settlement"), ("P009", "no-such-record"), ("P001", "ZZ-1b/settlement")])
    assert ids((await store.apply(["P009"], NOW)).records) == ["ZZ-1b/settlement"]
    await store.mark_published([("P009", "ZZ-1b/settlement")], [("P009", "no-such-alert")])
    assert (await store.apply(["P009"], NOW)).records == []
    assert (await store.apply([], NOW), []) == (await store.arrive([], NOW))
    listed = await store.settlements()
    assert [s for _, s in listed] == first.records
    assert listed[0][0] < listed[1][0] and listed[0][0].psn_no == "P009"
    assert await store.settlements(after=listed[0][0]) == listed[1:]
    assert await store.settlements(after=listed[0][0], psn_no="P009") == listed[1:]
    assert await store.settlements(limit=1) == listed[:1]
    assert await store.settlements(psn_no="somebody else") == []
    assert await store.records_of("ZZ-1b") == [first.records[1]]
    documents = await store.record_documents()
    assert [seq for seq, _ in documents] == [seq for seq, _ in listed]
    assert [d for _, d in documents] == [orjson.loads(encode(r)) for r in first.records]  # stored as published
    assert first.records[0].payments[0].amount == D("2160.00")


async def test_alerts_are_in_the_outbox_until_published(store: Store) -> None:
    """An early warning stays in its person's outbox, with the records, until marked published."""
    worked = case("zhangye-tekun-unreferred-elsewhere")
    workers = Workers(store)
    await workers.changes(*grants(worked))
    [claim] = worked.claims
    await workers.receive(claim)
    await workers.pay(claim.claim_id)
    outbox = await workers.arrive(claim.claim_id)
    await store.mark_published([(r.psn_no, r.settlement_id) for r in outbox.records])
    assert [a for a, _ in (await store.apply(["P003"], NOW)).alerts] == ["ZY-3"]
    await store.mark_published([], [("P009", "ZY-3")])  # another person's alert of that id: none
    assert [a for a, _ in (await store.apply(["P003"], NOW)).alerts] == ["ZY-3"]
    await store.mark_published([], [("P003", "ZY-3")])
    assert await store.apply(["P003"], NOW) == Outbox()


# --- the read side --------------------------------------------------------------------------------


async def test_a_persons_history_is_every_input_of_their_ledger_in_seq_order(store: Store) -> None:
    """person_history: the person's claims (each revision), cancellations (also one still waiting),
    eligibility changes, and every year-end close, in seq order; counts() counts each table."""
    workers, (a, b, c) = await zhengzhou(store)
    await workers.settle(a)
    await receive_claims(store, [arrival(corrected(a, 1))], attach)
    await receive_cancellations(store, [arrival(cancellation(c, "waits"))])
    await store.receive_close(arrival(close("guangan", 2018)))  # settles nobody of P009's
    await store.receive_close(arrival(close("zhengzhou", 2018)))
    history = await store.person_history("P009")
    assert [type(i).__name__ for i in history] == [
        "ChangeReceived",
        "ClaimReceived",
        "ClaimReceived",
        "CancellationReceived",
        "CloseReceived",
    ]
    assert [i.seq for i in history] == sorted(i.seq for i in history)
    assert [i.claim.revision for i in history[1:3]] == [0, 1]
    assert await store.person_history("nobody") == []  # a close is in the order of the persons it settles only
    # a grant, ZZ-1a and its revision 1, a cancellation, a close; ZZ-1a's one record (its revision 1 is the same
    # bill, so settling it again changes nothing), with one line per payer of its route
    [record] = await store.records_of("ZZ-1a")
    assert [line.payer.value for line in record.payments] == Flight.read(workers.flights["ZZ-1a"]).data["route"]
    assert await store.counts() == {
        "inputs": 7,
        "claims_received": 2,
        "settlements": 1,
        "rejections": 0,
        "identity_events": 1,
        "cancellations": 1,
        "queued": 1,
        "parked": 0,
    }  # the close, queued


# --- rejections ------------------------------------------------------------------------------------


async def test_a_rejection_is_kept_once_per_place(store: Store) -> None:
    """A refused input is archived with its reason and kept once per place it came from (a
    redelivered bad event counted once); one without a place is kept each time."""
    bad = Arrival("claims.discharged", 3, 42, b'{"x": "\x00"}', None)
    assert await store.reject(bad, "claim", "medfee_sumamt is not an amount", "P1") is True
    assert await store.reject(bad, "claim", "medfee_sumamt is not an amount", "P1") is False
    assert (
        await store.reject(Arrival("claims.discharged", 3, 42, b"other bytes", None), "claim", "not JSON", "P1")
        is False
    )
    nowhere = Arrival("eligibility.changes", None, None, "\ufffd\ufffd".encode(), None)
    assert await store.reject(nowhere, "eligibility", "not JSON") is True
    assert await store.reject(nowhere, "eligibility", "not JSON") is True
    counted = await store.counts()
    assert (counted["rejections"], counted["inputs"]) == (3, 4)  # the same bytes at the same place archived once
    assert [
        (i.psn_no, i.kind, i.outcome, i.reason) for i in await store.inputs()
    ] == [  # by person ("" first), in order
        ("", "eligibility", "rejected", "not JSON"),
        ("", "eligibility", "rejected", "not JSON"),
        ("P1", "claim", "rejected", "medfee_sumamt is not an amount"),
        ("P1", "claim", "rejected", "not JSON"),
    ]
    with pytest.raises(Exception):  # noqa: B017 - each backend refuses in its own way; inputs.kind is one of claim, cancellation, eligibility, close, other
        await store.reject(bad, "gossip", "not a kind of input")
    assert (await store.counts())["inputs"] == 4


# --- parking -----------------------------------------------------------------------------------------


async def test_parked_messages_are_kept_in_order_and_forgotten_when_handled(store: Store) -> None:
    """park keeps a message per worker and place (parking it again keeps its id and takes the new
    error); parked_keys names the persons; parked lists in the order parked; unpark forgets."""
    one = await store.park("basic", "claims.pay.basic", 0, 5, b"P1", b"first", "boom", False)
    assert await store.park("basic", "claims.pay.basic", 0, 5, b"P1", b"first", "boom again", False) == one
    two = await store.park("basic", "claims.pay.basic", 0, 6, b"P1", b"second", "behind P1's", True)
    three = await store.park("ledger", "claims.ledger", 1, 5, b"P2", None, "bad", False)
    four = await store.park("basic", "claims.pay.basic", None, None, None, b"no key", "bad", False)
    assert await store.parked_keys("basic") == {b"P1"} and await store.parked_keys("ledger") == {b"P2"}
    assert await store.parked_keys("intake") == set()
    everything = await store.parked()
    assert [p.parked_id for p in everything] == [one, two, three, four] == sorted([one, two, three, four])
    first = everything[0]
    assert (
        first.worker,
        first.topic,
        first.partition,
        first.offset,
        first.key,
        first.value,
        first.error,
        first.behind,
    ) == ("basic", "claims.pay.basic", 0, 5, b"P1", b"first", "boom again", False)
    assert first.parked_at.tzinfo is not None
    assert [p.parked_id for p in await store.parked("basic")] == [one, two, four]
    await store.unpark(one)
    await store.unpark(one)  # already gone
    assert [p.parked_id for p in await store.parked("basic")] == [two, four]
    assert (await store.counts())["parked"] == 3


async def test_a_new_life_of_the_topics_is_a_new_place_for_every_input(store: Store) -> None:
    """A restarted embedded broker starts its topics again at offset 0 (a new life, begun when init
    makes them afresh): what comes at a place a message of an earlier life held is another input —
    archived, refused and parked as itself, never taken for the earlier one (issue 28, finding 1)."""
    assert store.life == 0  # no life begun yet
    assert await store.reject(Arrival("claims.discharged", 0, 7, b"bad one", None), "claim", "not JSON", "P1") is True
    first = await store.park("basic", "claims.pay.basic", 0, 5, b"P1", b"first", "boom", False)
    life = await store.begin_life("broker:9092")
    assert life == store.life == 1
    assert await store.reject(Arrival("claims.discharged", 0, 7, b"bad two", None), "claim", "not JSON", "P1") is True
    assert await store.reject(Arrival("claims.discharged", 0, 7, b"bad two", None), "claim", "not JSON", "P1") is False
    second = await store.park("basic", "claims.pay.basic", 0, 5, b"P1", b"second", "boom", False)
    assert second != first
    assert [(p.value, p.error) for p in await store.parked("basic")] == [(b"first", "boom"), (b"second", "boom")]
    assert [(i.life, i.raw, i.outcome) for i in await store.inputs()] == [
        (0, b"bad one", "rejected"),
        (1, b"bad two", "rejected"),
    ]
    assert (await store.counts())["rejections"] == 2
    assert await store.begin_life("broker:9092") == 2


# --- the key registry --------------------------------------------------------------------------------


async def _proved(store: Store, key: KeyFile, now: datetime) -> KeyProof:
    """The holder's proof for ``key``, against a challenge the store issued at ``now``."""
    return prove(key, (await store.key_challenge(now)).challenge)


async def test_signing_keys_are_added_once_on_proof_and_revoked_from_a_moment_on(store: Store) -> None:
    """add_key: True the first time, False the same key again (on a new proof), refused for another
    key under its id; revoke_key keeps the earliest revocation; an unknown key cannot be revoked."""
    since = datetime(2026, 1, 1, tzinfo=timezone.utc)
    h1, a1 = new_key("h1.2026", "hospital", "H1"), new_key("a1", "authority", "civil_affairs")
    key = SigningKey(key_id="h1.2026", signer_kind="hospital", signer="H1", public_key=h1.public_key, valid_from=since)
    assert await store.add_key(key, await _proved(store, h1, NOW), NOW) is True
    assert await store.add_key(key, await _proved(store, h1, NOW), NOW) is False
    squatter = new_key("h1.2026", "hospital", "H1")  # the same id, another key pair
    with pytest.raises(ValueError, match="registered for another key or signer"):
        await store.add_key(
            key.model_copy(update={"public_key": squatter.public_key}), await _proved(store, squatter, NOW), NOW
        )
    at = datetime(2026, 6, 1, tzinfo=timezone.utc)
    assert (await store.revoke_key("h1.2026", at)).revoked_at == at
    assert (await store.revoke_key("h1.2026", at + timedelta(days=1))).revoked_at == at
    assert (await store.revoke_key("h1.2026", at - timedelta(days=1))).revoked_at == at - timedelta(days=1)
    with pytest.raises(LookupError):
        await store.revoke_key("nobody", at)
    other = SigningKey(
        key_id="a1", signer_kind="authority", signer="civil_affairs", public_key=a1.public_key, valid_from=since
    )
    await store.add_key(other, await _proved(store, a1, NOW), NOW)
    assert await store.signing_keys() == {
        "a1": other,
        "h1.2026": key.model_copy(update={"revoked_at": at - timedelta(days=1)}),
    }


async def test_a_key_is_added_only_on_a_fresh_proof_by_its_own_private_half(store: Store) -> None:
    """A proof made by another key pair, one the holder made for another signer or key id, one
    against a challenge this registry never issued, one used before, one whose challenge expired:
    each is refused with its reason and adds nothing; a refused proof does not use its challenge up."""
    h1, thief = new_key("h1", "hospital", "H1"), new_key("h1", "hospital", "H1")
    challenge = (await store.key_challenge(NOW)).challenge
    assert challenge != (await store.key_challenge(NOW)).challenge  # random, one per registration
    key = prove(h1, challenge).key(NOW)
    refusals = {
        "wrong key": (key, prove(thief, challenge)),  # someone without h1's private half
        "other signer": (
            key.model_copy(update={"signer": "H2"}),
            prove(h1, challenge),
        ),  # H1's proof, registered for H2
        "other id": (key.model_copy(update={"key_id": "h2"}), prove(h1, challenge)),
        "unknown challenge": (key, prove(h1, "made-up-by-the-holder")),
    }
    for refusal, (candidate, proof) in refusals.items():
        with pytest.raises(ProofRefused, match="does not hold|not issued by this registry") as refused:
            await store.add_key(candidate, proof, NOW)
        assert ("not issued" in str(refused.value)) == (refusal == "unknown challenge"), (refusal, refused.value)
    assert await store.signing_keys() == {}
    proof = prove(h1, challenge)
    assert await store.add_key(key, proof, NOW) is True  # the challenge was still unused
    with pytest.raises(ProofRefused, match=r"was used at .* \(for key h1\): a proof is good once"):
        await store.add_key(key, proof, NOW + timedelta(minutes=1))  # replayed
    old = await store.key_challenge(NOW - CHALLENGE_LIFETIME - timedelta(seconds=1))
    late = new_key("h1.late", "hospital", "H1")
    with pytest.raises(ProofRefused, match="expired at"):
        await store.add_key(prove(late, old.challenge).key(NOW), prove(late, old.challenge), NOW)
    assert list(await store.signing_keys()) == ["h1"]
