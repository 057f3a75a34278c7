"""Pre-settlement (policies/presettle.py, workers/presettle.py): what each fund would pay for a
claim now is exactly what settling it then records — its own record and the records it makes for
the person's other claims — and asking records nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from datetime import datetime, timezone
from unittest import mock

import orjson
import pytest

from policies.ledger import replay
from policies.presettle import CannotPresettle, claim_of, error_reply, presettle, reply_for
from policies.received import CancellationReceived, ChangeReceived, ClaimReceived
from policies.withheld import WITHHELD, WITHHELD_ZH
from schemas.codes import CATEGORY_ZH
from schemas.events import ClaimCancellation, Rejection, YearEndClose
from schemas.nhsa import PresettleReply, PresettleRequest
from streams.codecs import encode
from streams.topics import (
    DISCHARGED,
    ELIGIBILITY,
    PRESETTLE,
    PRESETTLE_REPLIES,
    PRESETTLE_REPLIES_OF,
    REJECTED,
    YEAR_END,
)

from .ledgers import NOW, cases, inputs_of


def _dump(records):
    return [r.model_dump() for r in records]


def _made_by_last(inputs):
    before = replay(inputs[:-1], NOW)
    after = replay(inputs, NOW)
    assert _dump(after[: len(before)]) == _dump(before)
    return after[len(before) :]


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_presettling_each_claim_gives_what_settling_it_then_records(case):
    inputs = [i for i in inputs_of(case, every_kind=False) if not isinstance(i, ClaimReceived)]
    seq = 100
    for claim in case.claims:
        result = presettle(list(inputs), claim, NOW)
        seq += 1
        inputs.append(ClaimReceived(seq, claim))
        made = _made_by_last(inputs)
        assert _dump(result.records) == _dump([r for r in made if r.claim_id == claim.claim_id])
        assert _dump(result.effects) == _dump([r for r in made if r.claim_id != claim.claim_id])
        assert result.record.kind == "settlement" and result.record.claim_id == claim.claim_id


def _zhengzhou():
    return next(c for c in cases() if c.name == "zhengzhou-dibao-deferred-then-paid")


def test_a_claim_for_a_closed_year_adjusts_the_year_end_payment_and_presettle_says_so():
    case = _zhengzhou()
    history = inputs_of(case)  # two claims, then the close paid the deferred assistance
    third = case.claims[2]
    result = presettle(history, third, NOW)
    made = _made_by_last([*history, ClaimReceived(1000, third)])
    assert _dump(result.records + result.effects) == _dump(made)
    assert any(e.claim_id.startswith("year-end/") and e.kind == "adjustment" for e in result.effects)
    assert result.totals["assistance"].paid > 0


def test_a_corrected_bill_presettles_as_the_adjustment_it_would_make():
    case = next(c for c in cases() if c.name == "zhangye-dibao-edge-two-stays")
    history = inputs_of(case, every_kind=False)
    first = case.claims[0]
    corrected = first.model_copy(
        update={"revision": 2, "medfee_sumamt": first.medfee_sumamt + 500, "inscp_scp_amt": first.inscp_scp_amt + 500}
    )
    result = presettle(history, corrected, NOW)
    made = _made_by_last([*history, ClaimReceived(1000, corrected)])
    assert _dump(result.records + result.effects) == _dump(made)
    assert result.record.kind == "adjustment" and result.record.medfee_sumamt == 500
    assert any("corrected bill" in n for n in result.notes)


def test_what_intake_would_refuse_cannot_be_presettled():
    case = _zhengzhou()
    history = inputs_of(case, every_kind=False)
    first = case.claims[0]
    with pytest.raises(CannotPresettle, match="received already"):
        presettle(history, first, NOW)
    with pytest.raises(CannotPresettle, match="other content"):
        presettle(history, first.model_copy(update={"dise_codg": "C34.9"}), NOW)
    higher = first.model_copy(
        update={
            "revision": 3,
            "medfee_sumamt": first.medfee_sumamt + 1,
            "fulamt_ownpay_amt": first.fulamt_ownpay_amt + 1,
        }
    )
    with pytest.raises(CannotPresettle, match="revision 3 already"):
        presettle([*history, ClaimReceived(500, higher)], first.model_copy(update={"revision": 2}), NOW)
    cancelled = [
        *history,
        CancellationReceived(
            500,
            ClaimCancellation(
                event_id="c",
                claim_id=first.claim_id,
                psn_no=first.psn_no,
                cancelled_at=NOW,
                fixmedins_code=first.fixmedins_code,
            ),
        ),
    ]
    with pytest.raises(CannotPresettle, match="cancelled"):
        presettle(cancelled, higher, NOW)
    with pytest.raises(CannotPresettle, match="no policy"):
        presettle(history, case.claims[2].model_copy(update={"claim_id": "new", "insuplc_admdvs": "990101"}), NOW)


def test_an_unknown_person_gets_the_funds_open_to_everyone_and_a_note():
    claim = _zhengzhou().claims[0].model_copy(update={"psn_no": "NOBODY", "claim_id": "N-1"})
    result = presettle([], claim, NOW)
    assert {line.payer.value for line in result.record.payments if line.amount} == {"basic"}
    assert any("no eligibility change" in n for n in result.notes)


def test_the_reply_carries_the_platform_form_and_errors_name_the_request():
    case = _zhengzhou()
    history = [
        i
        for i in inputs_of(case, every_kind=False)
        if not (isinstance(i, ClaimReceived) and i.claim.claim_id == "ZZ-1c")
    ]
    request = PresettleRequest.model_validate({**orjson.loads(encode(case.claims[2])), "request_id": "window-7"})
    reply = reply_for(history, request, NOW)
    assert reply.error is None and reply.request_id == "window-7" and reply.claim_id == "ZZ-1c"
    assert (
        reply.setlinfo.fund_pay_sumamt
        == reply.settlement.fund_pay_sumamt
        == sum(d.fund_payamt for d in reply.setldetail)
    )
    assert PresettleReply.model_validate_json(encode(reply)) == reply
    again = reply_for([*history, ClaimReceived(999, case.claims[2])], request, NOW)
    assert again.error and "received already" in again.error and again.request_id == "window-7"
    bad = error_reply(b'{"claim_id": "X", "psn_no": "P"}', "not a request", NOW, "claims.presettle[0]@3")
    assert bad.request_id == "X" and bad.error == "not a request"
    assert error_reply(b"not json", "x", NOW, "claims.presettle[0]@3").request_id == "claims.presettle[0]@3"


# --- what the asking hospital may see (policies/withheld.py) --------------------------------------------


def _secrets_of(history) -> set[str]:
    """Everything about the person's categories a reply must not hold: their codes and Chinese names,
    the authorities that granted them, the grants' ids."""
    changes = [i.change for i in history if isinstance(i, ChangeReceived)]
    return (
        {c.category.value for c in changes}
        | {CATEGORY_ZH[c.category] for c in changes}
        | {c.authority.value for c in changes}
        | {c.event_id for c in changes}
    )


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_a_reply_holds_no_category_authority_or_grant_id_and_every_amount(case):
    history = inputs_of(case)  # every kind: reversals, adjustments, a year-end close
    assert any(isinstance(i, ChangeReceived) for i in history)
    for claim in case.claims:
        last = [i for i in history if not (isinstance(i, ClaimReceived) and i.claim.claim_id == claim.claim_id)]
        fresh = claim.model_copy(update={"claim_id": f"{claim.claim_id}-again"})  # a claim not received yet
        for asked in (claim, fresh):
            request = PresettleRequest.model_validate({**orjson.loads(encode(asked)), "request_id": "w"})
            reply = reply_for(last, request, NOW)
            wire = encode(reply).decode()
            leaked = sorted(secret for secret in _secrets_of(history) if secret in wire)
            assert leaked == [], (case.name, asked.claim_id, leaked)
            if reply.error:
                continue
            full = presettle(last, claim_of(request), NOW)
            assert reply.settlement.identity == [] and all(e.identity == [] for e in reply.effects)
            # the money is all there: every line's payer, fund, amount and base, the bill and the shares
            assert [(line.payer, line.fund_pay_type, line.amount, line.base) for line in reply.payments] == [
                (line.payer, line.fund_pay_type, line.amount, line.base) for line in full.record.payments
            ]
            assert (
                reply.settlement.medfee_sumamt,
                reply.settlement.fund_pay_sumamt,
                reply.settlement.psn_part_amt,
            ) == (full.record.medfee_sumamt, full.record.fund_pay_sumamt, full.record.psn_part_amt)
            assert reply.setlinfo.fund_pay_sumamt == sum(d.fund_payamt for d in reply.setldetail)


def test_the_names_a_category_goes_by_read_withheld_and_the_arithmetic_stays():
    case = _zhengzhou()  # dibao: supplementary and assistance pay on its grounds
    history = [
        i
        for i in inputs_of(case, every_kind=False)
        if not (isinstance(i, ClaimReceived) and i.claim.claim_id == "ZZ-1c")
    ]
    request = PresettleRequest.model_validate(orjson.loads(encode(case.claims[2])))
    reply = reply_for(history, request, NOW)
    full = presettle(history, claim_of(request), NOW).record
    assistance = next(line for line in reply.payments if line.payer.value == "assistance")
    original = next(line for line in full.payments if line.payer.value == "assistance")
    assert "dibao" in original.explanation and "低保对象" in original.explanation_zh and original.applied == "dibao"
    assert assistance.applied == WITHHELD and assistance.rule.endswith(f"[{WITHHELD}]")
    assert assistance.explanation == original.explanation.replace(
        "dibao", WITHHELD
    )  # the same arithmetic, word for word
    assert assistance.explanation_zh == original.explanation_zh.replace("低保对象", WITHHELD_ZH)
    detail = next(d for d in reply.setldetail if d.fund_pay_type == original.fund_pay_type)
    assert WITHHELD_ZH in detail.setl_proc_info and detail.fund_pay_type_name == "医疗救助基金"
    supplementary = next(d for d in reply.setldetail if d.fund_payamt and "补充" in d.fund_pay_type_name)
    assert supplementary.setl_proc_info.startswith("困难群众大病补充医疗保险（人员类别略）")  # the fund keeps its name
    basic = next(line for line in reply.payments if line.payer.value == "basic")
    assert basic == next(
        line for line in full.payments if line.payer.value == "basic"
    )  # nothing of a category in it: unchanged


def test_a_record_an_eligibility_change_caused_says_only_that():
    from policies.withheld import ELIGIBILITY_CHANGED, seen_by_hospital
    from tests.test_ledger_life import grant, revoke, stay

    claim = stay("TZ-E", "PTZE", "321202", "2018-06-01", "30000.00", fixmedins_code="H3212021")
    records = replay(
        [
            grant(1, "PTZE", "tekun", "2018-01-01", event_id="civil.2018.0042"),
            ClaimReceived(10, claim),
            revoke(11, "PTZE", "tekun", "2018-01-01", "civil.2018.0043"),
        ],
        NOW,
    )
    later = records[-1]
    assert later.kind == "adjustment" and "civil.2018.0043" in later.reason and "tekun" in later.reason
    seen = seen_by_hospital(later)
    assert seen.reason == ELIGIBILITY_CHANGED and seen.identity == []
    assert [line.amount for line in seen.payments] == [line.amount for line in later.payments]
    assert (
        "civil.2018.0042" in encode(records[0]).decode()
        and "civil.2018.0042" not in encode(seen_by_hospital(records[0])).decode()
    )


def test_records_of_other_hospitals_claims_are_only_counted():
    from tests.test_ledger_life import grant, stay

    person = [grant(1, "PTZ", "low_income_serious_illness", "2018-01-01")]
    a = ClaimReceived(10, stay("TZ-A", "PTZ", "321202", "2018-03-01", "3000.00", fixmedins_code="HOSPITAL-A"))
    b = stay("TZ-B", "PTZ", "321202", "2018-06-01", "100000.00", level="3", fixmedins_code="HOSPITAL-B")
    assert [e.claim_id for e in presettle([*person, a], b, NOW).effects] == ["TZ-A"]  # reaching the line pays A again
    from_b = reply_for([*person, a], PresettleRequest.model_validate(orjson.loads(encode(b))), NOW)
    assert from_b.effects == [] and any(
        "1 record(s) of the person's claims at other hospitals" in n for n in from_b.notes
    )
    assert "TZ-A" not in encode(from_b).decode() and "HOSPITAL-A" not in encode(from_b).decode()
    from_a = reply_for(
        [*person, a],
        PresettleRequest.model_validate(orjson.loads(encode(b.model_copy(update={"fixmedins_code": "HOSPITAL-A"})))),
        NOW,
    )
    assert [e.claim_id for e in from_a.effects] == ["TZ-A"]  # its own claim's record: shown
    assert "low-income serious illness" not in encode(from_a).decode()


# --- the worker, on the memory store, with the other workers (no broker) --------------------------------


def test_the_worker_answers_what_settling_then_records_and_records_nothing():
    from cli.files import grants_of
    from tests.test_interleavings import Broker, step
    from workers.harness import Context
    from workers.registry import WORKERS

    case = _zhengzhou()

    async def run():
        broker, context = Broker(), Context(f"memory://{uuid.uuid4()}")

        async def drain():
            while any([await step(broker, context, name, 50, False) for name in sorted(WORKERS)]):
                pass

        for grant in grants_of(case):
            await broker.send(ELIGIBILITY, grant.psn_no.encode(), encode(grant))
        await drain()
        for claim in case.claims[:2]:
            await broker.send(DISCHARGED, claim.psn_no.encode(), encode(claim))
        await drain()
        close = YearEndClose(event_id="year-end.zhengzhou.2018", region="zhengzhou", year=2018, closed_at=NOW)
        await broker.send(YEAR_END, b"zhengzhou", encode(close))
        await drain()
        store = await context.store()
        counts = await store.counts()
        records_before = [r for _, r in await store.settlements(limit=10_000)]
        third = case.claims[2]
        rejected_before = len(broker.topics.get(REJECTED, []))
        await broker.send(
            PRESETTLE, third.psn_no.encode(), orjson.dumps({**orjson.loads(encode(third)), "request_id": "w-1"})
        )
        await broker.send(PRESETTLE, b"x", b"{not json")
        await drain()
        replies = [
            PresettleReply.model_validate_json(m.value)
            for m in broker.topics[PRESETTLE_REPLIES_OF + third.fixmedins_code]
        ]
        refused = [Rejection.model_validate_json(m.value) for m in broker.topics[REJECTED][rejected_before:]]
        assert PRESETTLE_REPLIES not in broker.topics  # every request named its hospital
        assert {k: v for k, v in (await store.counts()).items() if k not in ("inputs", "rejections")} == {
            k: v for k, v in counts.items() if k not in ("inputs", "rejections")
        }  # recorded nowhere (the refusal is archived)
        assert [r for _, r in await store.settlements(limit=10_000)] == records_before
        await broker.send(DISCHARGED, third.psn_no.encode(), encode(third))
        await drain()
        after = [r for _, r in await store.settlements(limit=10_000)][len(records_before) :]
        await context.close()
        return replies, refused, after

    with mock.patch.dict(os.environ, {"ONESTOP_ACCEPT_UNSIGNED": "1"}):
        replies, refused, after = asyncio.run(run())
    [answer] = replies
    assert answer.request_id == "w-1" and answer.error is None
    mine = [r for r in after if r.claim_id == "ZZ-1c"]
    assert [(line.payer, line.amount) for line in answer.settlement.payments] == [
        (line.payer, line.amount) for line in mine[0].payments
    ]
    assert answer.settlement.settlement_id == mine[0].settlement_id
    assert [(e.settlement_id, e.fund_pay_sumamt) for e in answer.effects] == [
        (r.settlement_id, r.fund_pay_sumamt) for r in after if r.claim_id != "ZZ-1c"
    ]
    assert answer.effects  # the close's payment is adjusted
    [bad] = refused
    assert bad.reason.startswith("not a pre-settlement request") and bad.topic == PRESETTLE


def test_the_worker_answers_only_requests_signed_by_the_hospital_they_name_on_its_own_topic():
    from cli.keys import register_key
    from streams.signing import new_key, sign
    from tests.test_interleavings import Broker, step
    from workers.harness import Context

    claim = _zhengzhou().claims[0].model_copy(update={"fixmedins_code": "H4101023"})
    hospital, other = new_key("h-1", "hospital", "H4101023"), new_key("h-2", "hospital", "H4101029")
    authority = new_key("civil-1", "authority", "civil_affairs")

    def request(request_id: str, **changes) -> bytes:
        return orjson.dumps({**orjson.loads(encode(claim.model_copy(update=changes))), "request_id": request_id})

    good, unnamed, foreign = (
        request("good"),
        request("unnamed", fixmedins_code=None),
        request("foreign", fixmedins_code="H4101029"),
    )
    dotted = request("dotted", fixmedins_code="H4101023.x")
    sent = [
        (good, sign(good, hospital)),
        (request("unsigned"), []),
        (request("other-key"), sign(request("other-key"), other)),  # another hospital's key for H4101023
        (unnamed, sign(unnamed, hospital)),
        (request("authority"), sign(request("authority"), authority)),
        (good.replace(b'"good"', b'"gooD"'), sign(good, hospital)),  # altered after signing
        (foreign, sign(foreign, hospital)),
        (dotted, []),
        (request("bare", fixmedins_code=None), []),  # unsigned, naming no hospital
    ]

    async def run():
        broker, context = Broker(), Context(f"memory://{uuid.uuid4()}")
        store = await context.store()
        for key in (hospital, other, authority):
            await register_key(store, key, datetime(2020, 1, 1, tzinfo=timezone.utc))
        for value, headers in sent:
            await broker.send(PRESETTLE, claim.psn_no.encode(), value)
            broker.topics[PRESETTLE][-1] = dataclasses.replace(broker.topics[PRESETTLE][-1], headers=tuple(headers))
        while await step(broker, context, "presettle", 50, False):
            pass
        await context.close()
        return broker.topics

    with mock.patch.dict(os.environ, {"ONESTOP_ACCEPT_UNSIGNED": "0"}):
        topics = asyncio.run(run())
    answered = {
        name: [PresettleReply.model_validate_json(m.value).request_id for m in messages]
        for name, messages in topics.items()
        if name.startswith(PRESETTLE_REPLIES)
    }
    assert answered == {PRESETTLE_REPLIES_OF + "H4101023": ["good"]}
    reasons = [Rejection.model_validate_json(m.value).reason for m in topics[REJECTED]]
    assert len(reasons) == len(sent) - 1
    for words in (
        "unsigned",
        "key h-2 speaks for hospital H4101029, not for hospital H4101023",
        "signed pre-settlement requests must name their hospital",
        "only a hospital signs pre-settlement requests",
        "does not match the event's bytes",
        "key h-1 speaks for hospital H4101023, not for hospital H4101029",
    ):
        assert any(words in reason for reason in reasons), (words, reasons)
    with mock.patch.dict(
        os.environ, {"ONESTOP_ACCEPT_UNSIGNED": "1"}
    ):  # development: unsigned answered, still on its own topic
        topics = asyncio.run(run())
    assert [
        PresettleReply.model_validate_json(m.value).request_id for m in topics[PRESETTLE_REPLIES_OF + "H4101023"]
    ] == ["good", "unsigned"]
    assert [PresettleReply.model_validate_json(m.value).request_id for m in topics[PRESETTLE_REPLIES]] == ["bare"]
    assert any(
        "cannot have topics of its own" in Rejection.model_validate_json(m.value).reason for m in topics[REJECTED]
    )
