"""check_ledger on every backend: the same invariants, found in the same order and said in the
same words, person numbers masked — after the store was changed behind its back."""

from __future__ import annotations

from decimal import Decimal

from schemas.codes import Payer
from schemas.events import PaymentLine
from store import Store

from .conftest import Backend
from .support import D, Workers, records, stay

PSN = "410100199001011234"
MASKED = "41***34"


def zero_line(account: str | None = None) -> PaymentLine:
    return PaymentLine(
        payer=Payer.basic,
        fund_pay_type="310100",
        amount=D("0.00"),
        base=D("0.00"),
        rule="test#zero",
        explanation="nothing",
        account=account,
    )


async def test_check_ledger_names_what_does_not_add_up(store: Store, backend: Backend) -> None:
    """A sound ledger has nothing to report; then each kind of damage is named: totals that are not
    their lines (also an account with no totals row: "paid 0"), a payment counted in no account, a
    record that does not balance, a claim settled twice, a record with two lines of one payer, an
    adjustment of a claim with no first record."""
    claim = stay("CHK-1", PSN, "410102", "2018-02-01", "3000.00")
    workers = Workers(store)
    await workers.settle(claim)
    assert await store.check_ledger() == []
    [settled] = await records(store)
    # basic 90% × (3,000 − 200) = 2,520.00; the person 480.00
    assert (settled.fund_pay_sumamt, settled.psn_part_amt) == (D("2520.00"), D("480.00"))
    [account] = [name for name, totals in (await store.year_totals(PSN, 2018)).items() if totals.paid == D("2520.00")]

    damage = backend.damage
    await damage.add_to_paid(PSN, 2018, account, Decimal("0.01"))
    await damage.set_psn_part_amt("CHK-1/settlement", D("0.00"))
    await damage.insert_record(
        settled.model_copy(
            update={
                "settlement_id": "CHK-1/settlement-again",
                "payments": [],
                "fund_pay_sumamt": D("0.00"),
                "psn_part_amt": D("3000.00"),
            }
        )
    )
    nothing = {
        "medfee_sumamt": D("0.00"),
        "fund_pay_sumamt": D("0.00"),
        "psn_part_amt": D("0.00"),
        "reason": "damage",
        "fulamt_ownpay_amt": None,
        "overlmt_selfpay": None,
        "preselfpay_amt": None,
        "inscp_scp_amt": None,
    }
    await damage.insert_record(
        settled.model_copy(
            update={
                **nothing,
                "settlement_id": "CHK-1/adjustment/twice",
                "kind": "adjustment",
                "payments": [zero_line(), zero_line()],
            }
        )
    )
    await damage.insert_record(
        settled.model_copy(
            update={
                **nothing,
                "settlement_id": "GHOST/adjustment/x",
                "kind": "adjustment",
                "claim_id": "GHOST",
                "payments": [],
            }
        )
    )
    five = zero_line().model_copy(update={"payer": Payer.tilt, "amount": D("5.00")})
    await damage.insert_record(
        settled.model_copy(
            update={
                **nothing,
                "settlement_id": "LOOSE/settlement",
                "claim_id": "LOOSE",
                "medfee_sumamt": D("5.00"),
                "fund_pay_sumamt": D("5.00"),
                "payments": [five],
            }
        )
    )
    seven = zero_line("half").model_copy(update={"amount": D("7.00")})
    await damage.insert_record(
        settled.model_copy(
            update={
                **nothing,
                "settlement_id": "CHK-1/adjustment/2019",
                "kind": "adjustment",
                "year": 2019,
                "payments": [seven],
                "fund_pay_sumamt": D("7.00"),
                "psn_part_amt": D("-7.00"),
            }
        )
    )

    assert await store.check_ledger() == [
        f"year_totals of {MASKED} 2018 account {account}: paid 2520.01 but its lines sum to 2520.00",
        f"year_totals of {MASKED} 2019 account half: paid 0 but its lines sum to 7.00",  # an account with no totals
        "payment of claim LOOSE by tilt: 5.00 counted in no account",
        "settlement CHK-1/settlement: fund_pay_sumamt 2520.00 + psn_part_amt 0.00 != medfee_sumamt 3000.00",
        "claim CHK-1 has 2 settlements of kind settlement",
        "record CHK-1/adjustment/twice has 2 lines of basic",
        "record GHOST/adjustment/x corrects a claim that has no first record",
    ]
    assert PSN not in " ".join(await store.check_ledger())  # person numbers are masked
