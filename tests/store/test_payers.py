"""Payers' batches in the store, on every backend: each (claim, payer) paid once, in one atomic
step with the person's year totals; a redelivered claim gets its recorded line back.

A small honest payer stands in for the rules here: half of the claim's amount, within an annual
cap of 10,000 (the real payers go through the flows of test_contract.py and test_flows.py)."""
from __future__ import annotations

import asyncio
import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.payer import Paid, account_after
from schemas.codes import Payer
from schemas.events import PaymentLine
from schemas.money import ZERO, round_to_fen
from schemas.totals import AccountTotals, YearTotals
from store import PayerWork, Store

from .conftest import Backend
from .support import uid

ACCOUNT = "half"
CAP = Decimal("10000.00")
_seqs = itertools.count(1)


def half_within_cap(work: PayerWork, totals: YearTotals) -> Paid:
    """Pays 50% of the claim's amount, within what is left of CAP this year."""
    amount, day = work.item
    before = totals.get(ACCOUNT, AccountTotals())
    pay = min(round_to_fen(amount / 2), max(ZERO, CAP - before.paid))
    line = PaymentLine(
        payer=Payer.basic, fund_pay_type="310100", amount=pay, base=amount, rule="test#basic.half",
        explanation=f"half of {amount}, within the cap {CAP} ({before.paid} paid before): {pay}",
        account=ACCOUNT, cumulative_before=before.base,
    )
    return Paid(line, {ACCOUNT: account_after(before, amount, pay, day, count_visit=True)})


class Counting:
    """``half_within_cap``, counting the claims it was called for."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, work: PayerWork, totals: YearTotals) -> Paid:
        self.calls.append(work.claim_id)
        return half_within_cap(work, totals)


def work_of(claim_id: str, psn_no: str, amount: str, day: date = date(2024, 3, 1)) -> PayerWork:
    return PayerWork(claim_id, psn_no, day.year, next(_seqs), (Decimal(amount), day))


async def test_pay_batch_computes_each_new_claim_once_and_money_is_exact(store: Store) -> None:
    """Three claims of one person, in order, each computed once on the totals the one before left."""
    psn, (a, b, c) = uid("psn"), (uid("claim"), uid("claim"), uid("claim"))
    compute = Counting()
    work = [work_of(a, psn, "8947.50"), work_of(b, psn, "3000.00", date(2024, 3, 2)), work_of(c, psn, "9000.00")]
    lines = await store.pay_batch("basic", work, compute)
    assert compute.calls == [a, b, c]
    # 8,947.50 / 2 = 4,473.75; 3,000 / 2 = 1,500; 9,000 / 2 = 4,500 but only 10,000 − 5,973.75 = 4,026.25 is left
    assert [line.amount for line in lines] == [Decimal("4473.75"), Decimal("1500.00"), Decimal("4026.25")]
    assert [line.cumulative_before for line in lines] == [Decimal("0.00"), Decimal("8947.50"), Decimal("11947.50")]
    totals = await store.year_totals(psn, 2024)
    assert totals == {ACCOUNT: AccountTotals(
        base=Decimal("20947.50"), paid=CAP,  # 8,947.50 + 3,000 + 9,000; 4,473.75 + 1,500 + 4,026.25
        paid_by_day={date(2024, 3, 1): Decimal("8500.00"), date(2024, 3, 2): Decimal("1500.00")},
        assisted_visits_by_month={"2024-03": 3},
    )}
    assert all(isinstance(v, Decimal) for v in (totals[ACCOUNT].base, totals[ACCOUNT].paid))
    assert await store.payments_of(a) == [lines[0]]
    assert (await store.payments_of(a))[0].amount == Decimal("4473.75")
    assert await store.year_totals(psn, 2025) == {}
    assert await store.years_of(psn) == [2024]
    assert (await store.counts())["payments"] == 3


async def test_a_redelivered_claim_gets_its_recorded_line_and_totals_stay(store: Store) -> None:
    """A claim paid before gets its recorded line back, not computed again; the totals grow only by
    the new claim; another payer pays the same claim under its own key."""
    psn, a, b = uid("psn"), uid("claim"), uid("claim")
    first = await store.pay_batch("basic", [work_of(a, psn, "100.00")], half_within_cap)
    totals = await store.year_totals(psn, 2024)
    compute = Counting()
    again = await store.pay_batch("basic", [work_of(a, psn, "100.00"), work_of(b, psn, "10.00"), work_of(a, psn, "100.00")], compute)
    assert compute.calls == [b]
    assert again[0] == again[2] == first[0]
    assert (await store.year_totals(psn, 2024))[ACCOUNT].paid == totals[ACCOUNT].paid + Decimal("5.00")  # half of 10.00
    compute = Counting()
    assert await store.pay_batch("basic", [work_of(a, psn, "100.00"), work_of(b, psn, "10.00")], compute) == again[:2]
    assert compute.calls == []
    assert len(await store.pay_batch("critical", [work_of(a, psn, "100.00")], compute)) == 1
    assert compute.calls == [a]
    assert [line.payer for line in await store.payments_of(a)] == [Payer.basic, Payer.basic]  # the test compute's line
    assert await store.check_ledger() == []


async def test_the_same_claim_twice_in_a_batch_is_paid_once(store: Store) -> None:
    """Twice in one batch: computed once, the same line twice, counted once (half of 300.00 = 150.00)."""
    psn, a = uid("psn"), uid("claim")
    compute = Counting()
    lines = await store.pay_batch("basic", [work_of(a, psn, "300.00"), work_of(a, psn, "300.00")], compute)
    assert compute.calls == [a]
    assert lines[0] == lines[1]
    assert (await store.year_totals(psn, 2024))[ACCOUNT].paid == Decimal("150.00")


async def test_no_line_records_nothing_and_a_failed_batch_leaves_nothing(store: Store) -> None:
    """A payer with no part records nothing; totals without a line are refused; a batch whose
    compute fails part-way records nothing at all, not even the claims before the failure."""
    psn, a, b = uid("psn"), uid("claim"), uid("claim")
    assert await store.pay_batch("basic", [work_of(a, psn, "1.00")], lambda work, totals: Paid(None)) == [None]
    assert await store.payments_of(a) == []
    assert await store.year_totals(psn, 2024) == {}
    with pytest.raises(ValueError, match="without a payment line"):
        await store.pay_batch("basic", [work_of(b, psn, "1.00")],
                              lambda work, totals: Paid(None, {ACCOUNT: AccountTotals(paid=Decimal("1.00"))}))

    def fails_on_b(work: PayerWork, totals: YearTotals) -> Paid:
        if work.claim_id == b:
            raise RuntimeError("the rules failed")
        return half_within_cap(work, totals)

    with pytest.raises(RuntimeError, match="the rules failed"):
        await store.pay_batch("critical", [work_of(a, psn, "100.00"), work_of(b, psn, "100.00")], fails_on_b)
    assert await store.payments_of(a) == [] and await store.payments_of(b) == []
    assert await store.year_totals(psn, 2024) == {}
    assert (await store.counts())["payments"] == 0


async def test_two_consumers_paying_the_same_work_at_once_pay_each_claim_once(store: Store, backend: Backend) -> None:
    """Two consumers (two pools on PostgreSQL) given the same twelve claims in opposite orders:
    each claim is computed once, both get the same lines, the totals are their sum."""
    other = await backend.another()
    persons = [uid("psn") for _ in range(3)]
    work = [work_of(uid("claim"), persons[i % 3], f"{1000 + 137 * i}.25") for i in range(12)]
    one, two = Counting(), Counting()
    first, second = await asyncio.gather(
        store.pay_batch("basic", work, one), other.pay_batch("basic", list(reversed(work)), two)
    )
    assert sorted(one.calls + two.calls) == sorted(w.claim_id for w in work)
    assert first == list(reversed(second))
    for psn in persons:
        paid = sum((line.amount for w, line in zip(work, first) if w.psn_no == psn), start=ZERO)
        assert (await store.year_totals(psn, 2024))[ACCOUNT].paid == paid
    assert await store.check_ledger() == []


def expected_of(batches: list[list[PayerWork]]) -> tuple[dict[str, PaymentLine], dict[tuple[str, int], YearTotals]]:
    """Each distinct claim paid once, in order of first appearance, with totals kept in memory."""
    lines: dict[str, PaymentLine] = {}
    totals: dict[tuple[str, int], YearTotals] = {}
    for work in itertools.chain.from_iterable(batches):
        if work.claim_id not in lines:
            person = totals.setdefault((work.psn_no, work.year), {})
            paid = half_within_cap(work, person)
            lines[work.claim_id] = paid.line
            person.update(paid.accounts)
    return lines, totals


CLAIMS = st.lists(
    st.tuples(st.integers(0, 1), st.integers(0, 2), st.integers(0, 800_000), st.sampled_from([2024, 2025])),
    min_size=1, max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), claims=CLAIMS)
async def test_any_interleaving_of_redeliveries_pays_like_once_in_order(store: Store, data: st.DataObject, claims: list) -> None:
    """Batches drawn from a pool of claims, with repeats in and across batches: the lines and
    totals are those of paying each claim once, in order of first appearance (each example has
    its own persons and claims; the store is shared by the examples)."""
    persons = [uid("psn"), uid("psn")]
    pool = [
        PayerWork(uid("claim"), persons[who], year, next(_seqs), (Decimal(fen) / 100, date(year, 5, 1) + timedelta(days=day)))
        for who, day, fen, year in claims
    ]
    picks = st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=6)
    drawn = data.draw(st.lists(picks, min_size=1, max_size=6), label="batches")
    batches = [[pool[i] for i in batch] for batch in drawn]
    lines, totals = expected_of(batches)
    for batch in batches:
        assert await store.pay_batch("basic", batch, half_within_cap) == [lines[w.claim_id] for w in batch]
    for (psn, year), expected in totals.items():
        assert await store.year_totals(psn, year) == expected
    for claim_id, line in lines.items():
        assert await store.payments_of(claim_id) == [line]
    assert await store.check_ledger() == []
