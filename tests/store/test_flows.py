"""Every worked case of ../shared/cases through the store, on every backend, as the workers take
them: the person's grants, then each claim received, paid by each payer of its route and taken by
the ledger. What each claim's records add up to is the case's expectation to the fen, and the
records are exactly those of policies.ledger.replay of the inputs the store holds."""

from __future__ import annotations

import pytest

from policies.ledger import summed
from schemas.money import ZERO, format_yuan
from store import Store

from ..shared_cases import case_files, load_case
from .support import D, Workers, as_replayed, grants, records

CASES = [pytest.param(path, id=path.stem) for path in case_files()]


def as_expected(store_records) -> list[dict]:
    """Each claim's records summed, in the shape of a case's ``expect`` (payers paying nothing left out)."""
    by_claim: dict[str, list] = {}
    for record in store_records:
        by_claim.setdefault(record.claim_id, []).append(record)
    out = []
    for claim_id, mine in by_claim.items():
        total = summed(mine)
        out.append(
            {
                "claim_id": claim_id,
                "payments": {
                    line.payer.value: format_yuan(line.amount) for line in total.payments if line.amount != ZERO
                },
                "personal": format_yuan(total.psn_part_amt),
            }
        )
    return out


def expected(case) -> list[dict]:
    return [
        {
            "claim_id": e.claim_id,
            "payments": {k: format_yuan(v) for k, v in e.payments.items()},
            "personal": format_yuan(e.personal),
        }
        for e in case.expect
    ]


@pytest.mark.parametrize("path", CASES)
async def test_a_worked_case_claim_after_claim(store: Store, path) -> None:
    """Each claim all the way through before the next is received: the fast path throughout."""
    case = load_case(path)
    workers = Workers(store)
    await workers.changes(*grants(case))
    await workers.settle(*case.claims)
    assert as_expected(await records(store)) == expected(case)
    assert await as_replayed(store, case.person.psn_no) == []
    assert await store.check_ledger() == []
    assert await store.queued() == []


@pytest.mark.parametrize("path", CASES)
async def test_a_worked_case_received_at_once_and_paid_in_reverse(store: Store, path) -> None:
    """Every claim received first, then each paid by its whole route and taken by the ledger in
    reverse order: each waits for the claims received before it, the earlier ones (seen by the
    payers after a later one) are settled by the rules, and the records are the same."""
    case = load_case(path)
    workers = Workers(store)
    await workers.changes(*grants(case))
    receipts, _ = await workers.receive(*case.claims)
    assert [r.status for r in receipts] == ["new"] * len(case.claims)
    for claim in reversed(case.claims):
        await workers.pay(claim.claim_id)
        await workers.arrive(claim.claim_id)
    assert as_expected(await records(store)) == expected(case)
    assert await as_replayed(store, case.person.psn_no) == []
    assert await store.check_ledger() == []
    assert await store.queued() == []


async def test_a_claim_paid_by_one_tier_that_lifts_another_over_its_qualifying_line_settles_the_year_again(
    store: Store,
) -> None:
    """Taizhou: a low-income serious-illness patient (assistance only once the year's OOP reaches
    10,000) becomes dibao from 1 February. Stay 1 (January, 800) gets no assistance; stay 2
    (February, 30,000, level 3) is paid by the dibao tier, the more favourable — but it also lifts
    the serious-illness year over 10,000, so stay 1 is owed assistance now: the ledger settles the
    year by the rules (an adjustment of stay 1 caused by stay 2), exactly as the replay does (found
    by the interleavings test: the fast path took stay 2 alone)."""
    from datetime import date

    from schemas.events import CategoryHeld, EligibilityChange

    from ..test_ledger_life import stay

    psn = "TZ-REACH"
    held = [("low_income_serious_illness", date(2018, 1, 1)), ("dibao", date(2019, 2, 1))]
    workers = Workers(store)
    await workers.changes(
        *[
            EligibilityChange.grant_of(psn, CategoryHeld(code=code, valid_from=start), f"{code}.{psn}")
            for code, start in held
        ]
    )
    first = stay("TZ-1", psn, "321202", "2019-01-01", "800.00")
    second = stay("TZ-2", psn, "321202", "2019-02-01", "30000.00", level="3")
    await workers.settle(first, second)
    ids_ = [r.settlement_id for r in await records(store, psn)]
    assert ids_ == ["TZ-1/settlement", "TZ-1/adjustment/claim/TZ-2", "TZ-2/settlement"]
    [adjustment] = [r for r in await records(store, psn) if r.kind == "adjustment"]
    assert [(line.payer.value, line.amount) for line in adjustment.payments if line.amount] == [
        ("assistance", D("182.00"))
    ]
    assert await as_replayed(store, psn) == []
