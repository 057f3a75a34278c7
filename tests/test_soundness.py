"""What the ledger checks before it records money (policies/soundness.py), pure: a claim in flight's
lines against the rules for the recorded claim on the basis it carried, and every record against
the invariants of money where it is made."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from policies.identity import counting
from policies.ledger import Net
from policies.loader import policy_for
from policies.soundness import Unsound, checked, disagreement, recorded_route, settled_on, unsound
from schemas.codes import Payer
from schemas.events import CategoryHeld, PaymentLine
from schemas.totals import AccountTotals
from workers.intake import attach

from .shared_cases import CASES_DIR, load_case

D = Decimal
NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)


def _recorded(name: str = "zhangye-tekun-unreferred-elsewhere"):
    """A worked case's first claim and the snapshot intake records for it."""
    case = load_case(CASES_DIR / f"{name}.json")
    claim = case.claims[0]
    periods = [CategoryHeld(code=c.code, valid_from=c.valid_from, valid_to=c.valid_to) for c in case.person.categories]
    return claim, attach(claim, periods)


def _lines(claim, snapshot, basis=None):
    return [line.model_dump(mode="json") for line in settled_on(claim, snapshot, basis or {}).lines]


def test_the_rules_lines_on_the_flights_basis_agree_and_any_change_is_named():
    claim, snapshot = _recorded()
    honest = _lines(claim, snapshot)
    assert disagreement(claim, snapshot, honest, {}) is None
    assert [line["payer"] for line in honest] == snapshot["route"] == ["basic", "critical", "assistance", "secondary"]
    more = [{**honest[0], "amount": "40000.00"}, *honest[1:]]
    assert disagreement(claim, snapshot, more, {}) == "basic pays 40000.00, the rules give 22750.00"
    worded = [honest[0], {**honest[1], "explanation": "paid as asked"}, *honest[2:]]
    assert disagreement(claim, snapshot, worded, {}) == "critical line differs in explanation"
    assert disagreement(claim, snapshot, honest[:3], {}) == "secondary line missing"
    extra = [*honest, {**honest[0], "payer": "poverty_relief"}]
    assert disagreement(claim, snapshot, extra, {}).startswith(
        "a line of poverty_relief, which is not on the claim's recorded route"
    )
    assert (
        disagreement(claim, snapshot, list(reversed(honest)), {})
        == "the lines are out of the route's order or repeated"
    )


def test_lines_computed_on_another_basis_are_the_rules_for_that_basis():
    """A claim whose payers saw the year with 30,000 of the basic account's base already counted:
    its lines are not those of an empty year, and are those of that basis."""
    claim, snapshot = _recorded()
    basis = {
        line.account: AccountTotals(base=D("30000.00"), paid=D("20000.00"))
        for line in settled_on(claim, snapshot, {}).lines
        if line.account
    }
    on_basis = _lines(claim, snapshot, basis)
    assert on_basis != _lines(claim, snapshot)
    why, settled = checked(claim, snapshot, on_basis, basis)
    assert why is None and [line.model_dump(mode="json") for line in settled.lines] == on_basis
    assert disagreement(claim, snapshot, on_basis, {}) is not None


def test_a_recorded_route_must_be_the_rules_for_its_snapshot():
    claim, snapshot = _recorded()
    assert recorded_route(snapshot) == (Payer.basic, Payer.critical, Payer.assistance, Payer.secondary)
    with pytest.raises(Unsound, match=r"recorded route \['basic', 'assistance'\] is not the rules'"):
        recorded_route({**snapshot, "route": ["basic", "assistance"]})


def _settlement(claim, snapshot, **changes):
    from policies.ledger import bill_of
    from schemas.events import PolicyRef, Settlement

    settled = settled_on(claim, snapshot, {})
    record = Settlement(
        settlement_id=f"{claim.key}/settlement",
        claim_id=claim.claim_id,
        psn_no=claim.psn_no,
        insuplc_admdvs=claim.insuplc_admdvs,
        policy=PolicyRef.model_validate(snapshot["policy"]),
        year=claim.year,
        identity=[CategoryHeld.model_validate(h) for h in snapshot["identity"]],
        medfee_sumamt=claim.medfee_sumamt,
        payments=list(settled.lines),
        fund_pay_sumamt=settled.fund_pay_sumamt,
        psn_part_amt=settled.psn_part_amt,
        settled_at=NOW,
        **bill_of(claim),
    )
    if "payments" in changes:
        funds = sum((line.amount for line in changes["payments"]), start=D("0.00"))
        changes = {"fund_pay_sumamt": funds, "psn_part_amt": record.medfee_sumamt - funds, **changes}
    return record.model_copy(update=changes)


def test_every_record_is_checked_against_the_invariants_of_money():
    claim, snapshot = _recorded()
    route = {claim.key: recorded_route(snapshot)}
    sound = _settlement(claim, snapshot)
    assert unsound([sound], {}, route) == []
    lines = sound.payments
    below = _settlement(
        claim, snapshot, payments=[lines[0], lines[1].model_copy(update={"amount": D("-5.00")}), *lines[2:]]
    )
    assert unsound([below], {}, route)[0] == f"{claim.key}/settlement: critical pays -5.00, below zero"
    over = _settlement(
        claim, snapshot, payments=[lines[0].model_copy(update={"amount": claim.medfee_sumamt}), *lines[1:]]
    )
    assert any("the funds pay" in p and f"of a bill of {claim.medfee_sumamt}" in p for p in unsound([over], {}, route))
    off_route = PaymentLine(
        payer=Payer.poverty_relief, fund_pay_type="x", amount=D("1.00"), base=D("1.00"), rule="r", explanation="e"
    )
    stray = _settlement(claim, snapshot, payments=[*lines, off_route])
    assert f"{claim.key}/settlement: a line of poverty_relief, not on the claim's recorded route" in unsound(
        [stray], {}, route
    )


def test_no_claims_net_per_payer_falls_below_zero_after_later_records():
    """An adjustment taking back more than a payer paid, over the claim's records so far, is unsound."""
    claim, snapshot = _recorded()
    first = _settlement(claim, snapshot)
    net = Net()
    net.add(first)
    basic = first.payments[0]
    too_much = basic.model_copy(update={"amount": -(basic.amount + D("0.01"))})
    adjustment = first.model_copy(
        update={
            "settlement_id": f"{claim.key}/adjustment/x",
            "kind": "adjustment",
            "payments": [too_much],
            "medfee_sumamt": D("0.00"),
            "fund_pay_sumamt": too_much.amount,
            "psn_part_amt": -too_much.amount,
            "fulamt_ownpay_amt": None,
            "overlmt_selfpay": None,
            "preselfpay_amt": None,
            "inscp_scp_amt": None,
        }
    )
    problems = unsound([adjustment], {(claim.key, claim.year): net}, {})
    assert f"{claim.key} ({claim.year}): basic has paid -0.01 in all, below zero" in problems
    assert (
        unsound(
            [
                adjustment.model_copy(
                    update={
                        "payments": [basic.model_copy(update={"amount": -basic.amount})],
                        "fund_pay_sumamt": -basic.amount,
                        "psn_part_amt": basic.amount,
                    }
                )
            ],
            {(claim.key, claim.year): net},
            {},
        )
        == []
    )


def test_the_snapshot_of_a_claim_counts_its_categories_as_intake_records_them():
    claim, snapshot = _recorded()
    policy = policy_for(claim.insuplc_admdvs, claim.enddate)
    held = counting([CategoryHeld.model_validate(h) for h in snapshot["identity"]], claim, policy)
    assert [h.code.value for h in held] == [h["code"] for h in snapshot["identity"]] == ["tekun"]
