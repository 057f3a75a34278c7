"""Pre-settlement (policies/presettle.py, workers/presettle.py): what each fund would pay for a
claim now is exactly what settling it then records — its own record and the records it makes for
the person's other claims — and asking records nothing."""
from __future__ import annotations

import asyncio
import os
import uuid
from unittest import mock

import orjson
import pytest

from policies.ledger import CancellationReceived, ClaimReceived, replay
from policies.presettle import CannotPresettle, error_reply, presettle, reply_for
from schemas.events import ClaimCancellation, YearEndClose
from schemas.nhsa import PresettleReply, PresettleRequest
from streams.codecs import encode
from streams.topics import DISCHARGED, ELIGIBILITY, PRESETTLE, PRESETTLE_REPLIES, YEAR_END

from .ledgers import NOW, cases, inputs_of


def _dump(records):
    return [r.model_dump() for r in records]


def _made_by_last(inputs):
    before = replay(inputs[:-1], NOW)
    after = replay(inputs, NOW)
    assert _dump(after[: len(before)]) == _dump(before)
    return after[len(before):]


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
    corrected = first.model_copy(update={"revision": 2, "medfee_sumamt": first.medfee_sumamt + 500,
                                         "inscp_scp_amt": first.inscp_scp_amt + 500})
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
    higher = first.model_copy(update={"revision": 3, "medfee_sumamt": first.medfee_sumamt + 1,
                                      "fulamt_ownpay_amt": first.fulamt_ownpay_amt + 1})
    with pytest.raises(CannotPresettle, match="revision 3 already"):
        presettle([*history, ClaimReceived(500, higher)], first.model_copy(update={"revision": 2}), NOW)
    cancelled = [*history, CancellationReceived(500, ClaimCancellation(event_id="c", claim_id=first.claim_id,
                                                                        psn_no=first.psn_no, cancelled_at=NOW,
                                                                        fixmedins_code=first.fixmedins_code))]
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
    history = [i for i in inputs_of(case, every_kind=False) if not (isinstance(i, ClaimReceived) and i.claim.claim_id == "ZZ-1c")]
    request = PresettleRequest.model_validate({**orjson.loads(encode(case.claims[2])), "request_id": "window-7"})
    reply = reply_for(history, request, NOW)
    assert reply.error is None and reply.request_id == "window-7" and reply.claim_id == "ZZ-1c"
    assert reply.setlinfo.fund_pay_sumamt == reply.settlement.fund_pay_sumamt == sum(d.fund_payamt for d in reply.setldetail)
    assert PresettleReply.model_validate_json(encode(reply)) == reply
    again = reply_for([*history, ClaimReceived(999, case.claims[2])], request, NOW)
    assert again.error and "received already" in again.error and again.request_id == "window-7"
    bad = error_reply(b'{"claim_id": "X", "psn_no": "P"}', "not a request", NOW, "claims.presettle[0]@3")
    assert bad.request_id == "X" and bad.error == "not a request"
    assert error_reply(b"not json", "x", NOW, "claims.presettle[0]@3").request_id == "claims.presettle[0]@3"


# --- the worker, on the memory store, with the other workers (no broker) --------------------------------

def test_the_worker_answers_what_settling_then_records_and_records_nothing():
    from tests.test_interleavings import Broker, step
    from workers.harness import Context
    from workers.registry import WORKERS
    from cli.files import grants_of

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
        await broker.send(PRESETTLE, third.psn_no.encode(), orjson.dumps({**orjson.loads(encode(third)), "request_id": "w-1"}))
        await broker.send(PRESETTLE, b"x", b"{not json")
        await drain()
        replies = [PresettleReply.model_validate_json(m.value) for m in broker.topics[PRESETTLE_REPLIES]]
        assert await store.counts() == counts  # recorded nowhere
        assert [r for _, r in await store.settlements(limit=10_000)] == records_before
        await broker.send(DISCHARGED, third.psn_no.encode(), encode(third))
        await drain()
        after = [r for _, r in await store.settlements(limit=10_000)][len(records_before):]
        await context.close()
        return replies, after

    with mock.patch.dict(os.environ, {"ONESTOP_ACCEPT_UNSIGNED": "1"}):
        replies, after = asyncio.run(run())
    answer, bad = replies
    assert answer.request_id == "w-1" and answer.error is None
    mine = [r for r in after if r.claim_id == "ZZ-1c"]
    assert [(l.payer, l.amount) for l in answer.settlement.payments] == [(l.payer, l.amount) for l in mine[0].payments]
    assert answer.settlement.settlement_id == mine[0].settlement_id
    assert [(e.settlement_id, e.fund_pay_sumamt) for e in answer.effects] == \
        [(r.settlement_id, r.fund_pay_sumamt) for r in after if r.claim_id != "ZZ-1c"]
    assert answer.effects  # the close's payment is adjusted
    assert bad.error.startswith("not a pre-settlement request") and bad.request_id.startswith(PRESETTLE)
