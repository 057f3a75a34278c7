"""The claim in flight as the hops after intake read it (streams/flight.py): trusted, but a record
that is not one is refused with a reason; a payer's line replaces its own on a redelivered hop."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import orjson
import pytest

from schemas.codes import Category, Payer
from schemas.events import CategoryHeld, ClaimInFlight, DischargeClaim, PaymentLine, PolicyRef
from streams.codecs import BadInput, encode
from streams.flight import Flight, read_paid

NOW = datetime(2022, 9, 11, tzinfo=timezone.utc)
CLAIM = DischargeClaim(
    claim_id="F-1", psn_no="PF1", insutype="390", insuplc_admdvs="620702", mdtrtarea_admvs="620702", med_type="21",
    hosp_lv="2", referral=False, begndate=date(2022, 9, 1), enddate=date(2022, 9, 10), dise_codg="K35.8",
    medfee_sumamt="9000.00", fulamt_ownpay_amt="750.00", overlmt_selfpay="0.00", preselfpay_amt="250.00",
    inscp_scp_amt="8000.00")


def _line(payer: Payer, amount: str) -> PaymentLine:
    return PaymentLine(payer=payer, fund_pay_type="310100", amount=amount, base=amount, rule="r", explanation="e")


def _flight(lines=()) -> bytes:
    return encode(ClaimInFlight(claim=CLAIM, identity=[CategoryHeld(code=Category.dibao, valid_from=date(2020, 1, 1))],
                                policy=PolicyRef(region="zhangye", period="2022-07", version=1),
                                route=[Payer.basic, Payer.critical, Payer.assistance], lines=list(lines), received_at=NOW,
                                seq=7, published_at=NOW))


def test_a_payer_reads_what_the_rules_take_and_passes_the_record_on_with_its_line():
    flight = Flight.for_payer(Payer.critical, _flight([_line(Payer.basic, "100.00")]))
    assert flight.claim == CLAIM and flight.held == {Category.dibao} and flight.seq == 7
    assert [(l.payer, l.amount) for l in flight.prior] == [(Payer.basic, Decimal("100.00"))]
    assert flight.next_after(Payer.critical) == Payer.assistance and flight.next_after(Payer.assistance) is None
    onward = orjson.loads(flight.with_line(Payer.critical, _line(Payer.critical, "50.00")))
    assert [(l["payer"], l["amount"]) for l in onward["lines"]] == [("basic", "100.00"), ("critical", "50.00")]
    # the record passed on is still a claim in flight, as intake wrote it plus the line
    assert ClaimInFlight.model_validate(onward).lines[-1].amount == Decimal("50.00")


def test_a_redelivered_hop_carries_its_payers_line_once():
    again = Flight.for_payer(Payer.critical, _flight([_line(Payer.basic, "100.00"), _line(Payer.critical, "50.00")]))
    assert [l.payer for l in again.prior] == [Payer.basic]
    onward = orjson.loads(again.with_line(Payer.critical, _line(Payer.critical, "50.00")))
    assert [l["payer"] for l in onward["lines"]] == ["basic", "critical"]


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty message"),
    (b"{broken", "not JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"claim": {}}', "identity, policy, route, received_at missing"),
])
def test_what_is_not_a_claim_in_flight_is_refused_with_the_reason(raw, reason):
    with pytest.raises(BadInput, match=reason):
        Flight.read(raw)


def test_a_record_the_rules_could_not_use_is_refused_before_anything_is_paid():
    data = orjson.loads(_flight())
    data["claim"]["medfee_sumamt"] = "9000.001"
    with pytest.raises(BadInput, match="medfee_sumamt: .*more than two decimals"):
        Flight.for_payer(Payer.basic, orjson.dumps(data))
    data = orjson.loads(_flight())
    data["route"] = ["critical"]
    with pytest.raises(BadInput, match="ValueError"):  # basic is not on its route
        Flight.for_payer(Payer.basic, orjson.dumps(data))


def test_the_ledger_reads_the_notice_and_a_whole_claim_in_flight_alike():
    notice = read_paid(Flight.read(_flight()).paid())
    assert (notice.claim_id, notice.psn_no, notice.seq, notice.published_at) == ("F-1", "PF1", 7, NOW)
    assert read_paid(_flight()) == notice  # as the last payer sent it before the notice
    with pytest.raises(BadInput, match="claim_id"):
        read_paid(b'{"psn_no": "PF1"}')
