"""The claim in flight as the hops after intake read it (streams/flight.py): a payer reads what the
rules take (the year's totals it carries among them) and passes the record on with its line and what
it changed; a record that is not one is refused with a reason; a payer's line replaces its own on a
redelivered hop; the ledger tells a claim in flight from a wake-up."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import orjson
import pytest

from schemas.codes import Category, Payer
from schemas.events import CategoryHeld, ClaimInFlight, DischargeClaim, PaymentLine, PolicyRef, WakeUp
from schemas.totals import AccountTotals, totals_from_json, totals_json
from streams.codecs import BadInput, encode
from streams.flight import Flight, read_for_ledger

NOW = datetime(2022, 9, 11, tzinfo=timezone.utc)
CLAIM = DischargeClaim(
    claim_id="F-1",
    psn_no="PF1",
    insutype="390",
    insuplc_admdvs="620702",
    mdtrtarea_admvs="620702",
    med_type="21",
    hosp_lv="2",
    referral=False,
    begndate=date(2022, 9, 1),
    enddate=date(2022, 9, 10),
    dise_codg="K35.8",
    medfee_sumamt="9000.00",
    fulamt_ownpay_amt="750.00",
    overlmt_selfpay="0.00",
    preselfpay_amt="250.00",
    inscp_scp_amt="8000.00",
)


def _line(payer: Payer, amount: str) -> PaymentLine:
    return PaymentLine(payer=payer, fund_pay_type="310100", amount=amount, base=amount, rule="r", explanation="e")


BASIS = {
    "basic": AccountTotals(base=Decimal("3000.00"), paid=Decimal("2400.00")),
    "critical": AccountTotals(base=Decimal("100.00"), paid=Decimal("60.00")),
}


def _flight(lines=(), accounts=None) -> bytes:
    return encode(
        ClaimInFlight(
            claim=CLAIM,
            identity=[CategoryHeld(code=Category.dibao, valid_from=date(2020, 1, 1))],
            policy=PolicyRef(region="zhangye", period="2022-07", version=1),
            route=[Payer.basic, Payer.critical, Payer.assistance],
            lines=list(lines),
            received_at=NOW,
            seq=7,
            published_at=NOW,
            basis=totals_json(BASIS),
            accounts=totals_json(accounts or {}),
        )
    )


def test_a_payer_reads_what_the_rules_take_and_passes_the_record_on_with_its_line():
    flight = Flight.for_payer(Payer.critical, _flight([_line(Payer.basic, "100.00")]))
    assert flight.claim == CLAIM and flight.held == {Category.dibao} and flight.seq == 7
    assert [(line.payer, line.amount) for line in flight.prior] == [(Payer.basic, Decimal("100.00"))]
    assert flight.next_after(Payer.critical) == Payer.assistance and flight.next_after(Payer.assistance) is None
    onward = orjson.loads(flight.with_line(Payer.critical, _line(Payer.critical, "50.00"), {}))
    assert [(line["payer"], line["amount"]) for line in onward["lines"]] == [("basic", "100.00"), ("critical", "50.00")]
    # the record passed on is still a claim in flight, as intake wrote it plus the line
    assert ClaimInFlight.model_validate(onward).lines[-1].amount == Decimal("50.00")


def test_a_payer_computes_on_the_basis_and_what_the_payers_before_it_changed():
    """The totals a payer reads are the basis intake attached, with the accounts the payers before
    it changed in their place; what it changes is added for the next, the basis kept as it came."""
    changed = AccountTotals(base=Decimal("4000.00"), paid=Decimal("3200.00"))
    flight = Flight.for_payer(Payer.critical, _flight([_line(Payer.basic, "800.00")], {"basic": changed}))
    assert flight.totals == {"basic": changed, "critical": BASIS["critical"]}
    mine = AccountTotals(base=Decimal("900.00"), paid=Decimal("510.00"))
    onward = ClaimInFlight.model_validate_json(
        flight.with_line(Payer.critical, _line(Payer.critical, "450.00"), {"critical": mine})
    )
    assert (totals_from_json(onward.basis), totals_from_json(onward.accounts)) == (
        BASIS,
        {"basic": changed, "critical": mine},
    )


def test_a_basis_that_is_not_a_years_totals_is_refused():
    data = orjson.loads(_flight())
    data["basis"]["basic"]["paid"] = 2400.5  # a float: never money
    with pytest.raises(BadInput, match="paid"):
        Flight.for_payer(Payer.basic, orjson.dumps(data))
    data["basis"] = ["basic"]
    with pytest.raises(BadInput, match="basis and accounts must be objects"):
        Flight.read(orjson.dumps(data))


def test_a_redelivered_hop_carries_its_payers_line_once():
    again = Flight.for_payer(Payer.critical, _flight([_line(Payer.basic, "100.00"), _line(Payer.critical, "50.00")]))
    assert [line.payer for line in again.prior] == [Payer.basic]
    onward = orjson.loads(again.with_line(Payer.critical, _line(Payer.critical, "50.00"), {}))
    assert [line["payer"] for line in onward["lines"]] == ["basic", "critical"]


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "empty message"),
        (b"{broken", "not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"claim": {}}', "identity, policy, route, received_at missing"),
    ],
)
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


def test_the_ledger_tells_a_claim_in_flight_from_a_wake_up():
    flight = read_for_ledger(_flight([_line(Payer.basic, "100.00")]))
    assert isinstance(flight, Flight) and (flight.key, flight.psn_no, flight.seq) == ("F-1", "PF1", 7)
    woken = read_for_ledger(encode(WakeUp(psn_no="PF1", cause="cancellation")))
    assert woken == WakeUp(psn_no="PF1", cause="cancellation")
    with pytest.raises(BadInput, match="not a wake-up: psn_no"):
        read_for_ledger(b'{"cause": "x"}')
    with pytest.raises(BadInput, match="seq must be an integer"):
        read_for_ledger(orjson.dumps({**orjson.loads(_flight()), "seq": "7"}))


def test_a_claims_key_is_its_hospitals_and_its_id():
    data = orjson.loads(_flight())
    assert Flight.of(data).key == "F-1"
    data["claim"]["fixmedins_code"] = "H001"
    assert Flight.of(data).key == "H001/F-1"
