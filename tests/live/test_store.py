"""The PostgreSQL store against a real PostgreSQL: idempotent intake, eligibility, payments, ledger.

Every test uses its own person numbers and claim ids (``uid``), in a database of this module's own
(created on the server of the `database` fixture, dropped at the end), so `check_ledger()` sees only these.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.payer import Paid
from schemas.codes import Authority, Category, Payer
from schemas.events import EligibilityChange, PaymentLine, PolicyRef, Settlement
from schemas.money import ZERO, round_to_fen
from schemas.totals import AccountTotals, YearTotals
from store import PayerWork, ReceivedClaim
from store.postgres import PostgresStore, migrations

ACCOUNT = "half"
CAP = Decimal("10000.00")


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- a small honest payer: half of the base, within an annual cap ---------------------------


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
    return Paid(line, {ACCOUNT: before.after(base=amount, paid=pay, day=day, count_visit=True)})


class Counting:
    """``half_within_cap``, counting the claims it was called for."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, work: PayerWork, totals: YearTotals) -> Paid:
        self.calls.append(work.claim_id)
        return half_within_cap(work, totals)


def work_of(claim_id: str, psn_no: str, amount: str, day: date = date(2024, 3, 1)) -> PayerWork:
    return PayerWork(claim_id, psn_no, day.year, (Decimal(amount), day))


# --- fixtures --------------------------------------------------------------------------------

from .databases import _created_database, _drop_database  # noqa: E402 - shared with other modules


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def own_database(database: str) -> AsyncIterator[str]:
    """A database of this module's own, so check_ledger() sees only what these tests wrote."""
    url = await _created_database(database)
    yield url
    await _drop_database(database, url)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def store(own_database: str) -> AsyncIterator[Store]:
    opened = await PostgresStore.open(own_database)
    try:
        yield opened
    finally:
        await opened.close()


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_dsn(database: str) -> AsyncIterator[str]:
    """A URL of a new, empty database, dropped afterwards."""
    url = await _created_database(database)
    yield url
    await _drop_database(database, url)


# --- migrations ------------------------------------------------------------------------------


async def test_migrating_again_applies_nothing(store: Store) -> None:
    assert await store.migrate() == []
    assert await store.migrate() == []


async def test_two_stores_migrating_at_once_apply_each_version_once(fresh_dsn: str) -> None:
    one = await PostgresStore.open(fresh_dsn, migrate=False)
    two = await PostgresStore.open(fresh_dsn, migrate=False)
    try:
        first, second = await asyncio.gather(one.migrate(), two.migrate())
        every = [version for version, _, _ in migrations()]
        assert sorted(first + second) == every
        assert [] in (first, second)
        assert await one.migrate() == [] and await two.migrate() == []
        assert await one.counts() == dict.fromkeys(
            ["claims_received", "payments", "settlements", "rejections", "identity_events"], 0
        )
    finally:
        await one.close()
        await two.close()


# --- intake ----------------------------------------------------------------------------------


def received(claim_id: str, psn_no: str, digest: str, snapshot: dict) -> ReceivedClaim:
    return ReceivedClaim(claim_id, psn_no, digest, {"claim_id": claim_id, "medfee_sumamt": "12.50"},
                         snapshot, "claims.discharged", 0, 7)


async def test_receive_claims_new_same_conflict(store: Store) -> None:
    psn, a, b = uid("psn"), uid("claim"), uid("claim")
    first = {"identity": [{"code": "dibao", "valid_from": "2024-01-01"}]}
    later = {"identity": []}
    got = await store.receive_claims([received(a, psn, "d1", first), received(b, psn, "d2", first),
                                      received(a, psn, "d1", later)])
    assert [r.status for r in got] == ["new", "new", "same"]
    assert all(r.snapshot == first for r in got)

    again = await store.receive_claims([received(a, psn, "d1", later), received(b, psn, "other", later)])
    assert [r.status for r in again] == ["same", "conflict"]
    assert [r.snapshot for r in again] == [first, first]  # the snapshot stored at first receipt


# --- eligibility -----------------------------------------------------------------------------

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=timezone.utc)


def change(psn: str, event_id: str, action: str, begin: date, end: date | None, *, minutes: int,
           category: Category = Category.dibao, authority: Authority = Authority.civil_affairs) -> EligibilityChange:
    return EligibilityChange(
        event_id=f"{psn}:{event_id}", psn_no=psn, category=category, action=action, valid_from=begin,
        valid_to=end, authority=authority, recorded_at=T0 + timedelta(minutes=minutes),
    )


def periods(held: list) -> list[tuple]:
    """Held categories without the person-specific prefix of their event ids."""
    return [(h.code, h.valid_from, h.valid_to, h.authority, h.event_id.split(":")[1]) for h in held]


async def test_a_grant_is_in_force_in_its_period(store: Store) -> None:
    psn = uid("psn")
    grant = change(psn, "g1", "grant", date(2024, 1, 1), date(2024, 6, 30), minutes=0)
    assert await store.record_changes([grant]) == [True]
    held, events = await store.identity_history(psn)
    assert periods(held) == [(Category.dibao, date(2024, 1, 1), date(2024, 6, 30), Authority.civil_affairs, "g1")]
    assert [e.event_id for e in events] == [f"{psn}:g1"]
    assert events[0].recorded_at == T0


async def test_overlapping_and_adjacent_grants_merge(store: Store) -> None:
    psn = uid("psn")
    await store.record_changes([
        change(psn, "g1", "grant", date(2024, 1, 1), date(2024, 6, 30), minutes=0),
        change(psn, "g2", "grant", date(2024, 6, 1), date(2024, 9, 30), minutes=1,
               authority=Authority.rural_revitalisation),
        change(psn, "g3", "grant", date(2024, 10, 1), date(2024, 12, 31), minutes=2),  # adjacent
        change(psn, "g4", "grant", date(2025, 3, 1), None, minutes=3, authority=Authority.rural_revitalisation),
    ])
    held, _ = await store.identity_history(psn)
    assert periods(held) == [
        (Category.dibao, date(2024, 1, 1), date(2024, 12, 31), Authority.civil_affairs, "g1"),
        (Category.dibao, date(2025, 3, 1), None, Authority.rural_revitalisation, "g4"),
    ]


async def test_a_revoke_ends_a_period_from_its_date(store: Store) -> None:
    psn = uid("psn")
    await store.record_changes([change(psn, "g1", "grant", date(2024, 1, 1), None, minutes=0)])
    await store.record_changes([change(psn, "r1", "revoke", date(2024, 7, 1), None, minutes=1)])
    held, _ = await store.identity_history(psn)
    assert periods(held) == [(Category.dibao, date(2024, 1, 1), date(2024, 6, 30), Authority.civil_affairs, "g1")]


async def test_the_same_event_twice_changes_nothing(store: Store) -> None:
    psn = uid("psn")
    grant = change(psn, "g1", "grant", date(2024, 1, 1), None, minutes=0)
    revoke = change(psn, "r1", "revoke", date(2024, 5, 1), None, minutes=1)
    assert await store.record_changes([grant, revoke, grant]) == [True, True, False]
    before = await store.identity_history(psn)
    counted = (await store.counts())["identity_events"]
    assert await store.record_changes([grant]) == [False]
    assert await store.record_changes([revoke, revoke]) == [False, False]
    assert await store.identity_history(psn) == before
    assert (await store.counts())["identity_events"] == counted


def story(psn: str) -> list[EligibilityChange]:
    """Five changes of one category whose result depends on applying them in recorded order."""
    return [
        change(psn, "a-grant-year", "grant", date(2024, 1, 1), date(2024, 12, 31), minutes=0),
        change(psn, "b-revoke-april", "revoke", date(2024, 4, 1), date(2024, 4, 30), minutes=1),
        change(psn, "c-grant-spring", "grant", date(2024, 3, 15), date(2024, 6, 30), minutes=2,
               authority=Authority.rural_revitalisation),
        change(psn, "d-revoke-from-october", "revoke", date(2024, 10, 1), None, minutes=3),
        change(psn, "e-grant-november", "grant", date(2024, 11, 1), date(2024, 11, 30), minutes=3,
               authority=Authority.rural_revitalisation),
    ]


STORY_PERIODS = [
    (Category.dibao, date(2024, 1, 1), date(2024, 9, 30), Authority.civil_affairs, "a-grant-year"),
    (Category.dibao, date(2024, 11, 1), date(2024, 11, 30), Authority.rural_revitalisation, "e-grant-november"),
]


async def test_every_arrival_order_gives_the_same_periods(store: Store) -> None:
    for order in itertools.permutations(range(5)):
        psn = uid("psn")
        events = story(psn)
        for index in order:
            assert await store.record_changes([events[index]]) == [True]
        held, history = await store.identity_history(psn)
        assert periods(held) == STORY_PERIODS, order
        assert [e.event_id.split(":")[1] for e in history] == [e.event_id.split(":")[1] for e in story(psn)]
    psn = uid("psn")
    await store.record_changes(list(reversed(story(psn))))  # all at once, too
    assert periods((await store.identity_history(psn))[0]) == STORY_PERIODS


async def test_two_writers_of_one_person_at_once_give_the_same_periods(store: Store, own_database: str) -> None:
    other = await PostgresStore.open(own_database, migrate=False)
    try:
        for _ in range(10):
            psn = uid("psn")
            events = story(psn)
            await asyncio.gather(store.record_changes(events[::2]), other.record_changes(events[1::2]))
            assert periods((await store.identity_history(psn))[0]) == STORY_PERIODS
    finally:
        await other.close()


async def test_identities_as_of_dates(store: Store) -> None:
    psn, other = uid("psn"), uid("psn")
    await store.record_changes([
        *story(psn),
        change(psn, "t1", "grant", date(2024, 2, 1), date(2024, 2, 29), minutes=0, category=Category.tekun),
    ])
    got = await store.identities([
        (psn, date(2024, 2, 10), date(2024, 2, 12)),  # both categories
        (psn, date(2024, 10, 1), date(2024, 10, 31)),  # in the gap
        (psn, date(2024, 10, 25), date(2024, 11, 1)),  # last day of the stay touches November
        (psn, date(2024, 9, 30), date(2024, 9, 30)),  # last day of the first period
        (other, date(2024, 1, 1), date(2024, 12, 31)),  # nobody
    ])
    assert [periods(held) for held in got] == [
        [STORY_PERIODS[0], (Category.tekun, date(2024, 2, 1), date(2024, 2, 29), Authority.civil_affairs, "t1")],
        [],
        [STORY_PERIODS[1]],
        [STORY_PERIODS[0]],
        [],
    ]
    assert await store.identities([]) == []


# --- payers ----------------------------------------------------------------------------------


async def test_pay_batch_computes_each_new_claim_once_and_money_is_exact(store: Store) -> None:
    psn, (a, b, c) = uid("psn"), (uid("claim"), uid("claim"), uid("claim"))
    compute = Counting()
    work = [work_of(a, psn, "8947.50"), work_of(b, psn, "3000.00", date(2024, 3, 2)), work_of(c, psn, "9000.00")]
    lines = await store.pay_batch("basic", work, compute)
    assert compute.calls == [a, b, c]
    assert [line.amount for line in lines] == [Decimal("4473.75"), Decimal("1500.00"), Decimal("4026.25")]
    assert [line.cumulative_before for line in lines] == [Decimal("0.00"), Decimal("8947.50"), Decimal("11947.50")]
    totals = await store.year_totals(psn, 2024)
    assert totals == {ACCOUNT: AccountTotals(
        base=Decimal("20947.50"), paid=CAP,
        paid_by_day={date(2024, 3, 1): Decimal("8500.00"), date(2024, 3, 2): Decimal("1500.00")},
        assisted_visits_by_month={"2024-03": 3},
    )}
    assert all(isinstance(v, Decimal) for v in (totals[ACCOUNT].base, totals[ACCOUNT].paid))
    assert await store.payments_of(a) == [lines[0]]
    assert (await store.payments_of(a))[0].amount == Decimal("4473.75")
    assert await store.year_totals(psn, 2025) == {}


async def test_a_redelivered_claim_gets_its_recorded_line_and_totals_stay(store: Store) -> None:
    psn, a, b = uid("psn"), uid("claim"), uid("claim")
    first = await store.pay_batch("basic", [work_of(a, psn, "100.00")], half_within_cap)
    totals = await store.year_totals(psn, 2024)
    compute = Counting()
    redelivered = [work_of(a, psn, "100.00"), work_of(b, psn, "10.00"), work_of(a, psn, "100.00")]
    again = await store.pay_batch("basic", redelivered, compute)
    assert compute.calls == [b]
    assert again[0] == again[2] == first[0]
    assert (await store.year_totals(psn, 2024))[ACCOUNT].paid == totals[ACCOUNT].paid + Decimal("5.00")
    compute = Counting()
    assert await store.pay_batch("basic", [work_of(a, psn, "100.00"), work_of(b, psn, "10.00")], compute) == again[:2]
    assert compute.calls == []
    # another payer pays the same claim under its own key
    assert len(await store.pay_batch("critical", [work_of(a, psn, "100.00")], compute)) == 1
    assert compute.calls == [a]
    assert [line.payer for line in await store.payments_of(a)] == [Payer.basic, Payer.basic]  # the test compute's line
    assert await store.check_ledger() == []


async def test_the_same_claim_twice_in_a_batch_is_paid_once(store: Store) -> None:
    psn, a = uid("psn"), uid("claim")
    compute = Counting()
    lines = await store.pay_batch("basic", [work_of(a, psn, "300.00"), work_of(a, psn, "300.00")], compute)
    assert compute.calls == [a]
    assert lines[0] == lines[1]
    assert (await store.year_totals(psn, 2024))[ACCOUNT].paid == Decimal("150.00")


async def test_no_line_records_nothing(store: Store) -> None:
    psn, a = uid("psn"), uid("claim")
    assert await store.pay_batch("basic", [work_of(a, psn, "1.00")], lambda work, totals: Paid(None)) == [None]
    assert await store.payments_of(a) == []
    assert await store.year_totals(psn, 2024) == {}
    with pytest.raises(ValueError, match="without a payment line"):
        await store.pay_batch("basic", [work_of(a, psn, "1.00")],
                              lambda work, totals: Paid(None, {ACCOUNT: AccountTotals(paid=Decimal("1.00"))}))
    assert await store.year_totals(psn, 2024) == {}  # rolled back


async def test_two_consumers_paying_the_same_work_at_once_pay_each_claim_once(store: Store, own_database: str) -> None:
    other = await PostgresStore.open(own_database, migrate=False)
    try:
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
    finally:
        await other.close()


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


@settings(max_examples=25, deadline=None)
@given(data=st.data(), claims=CLAIMS)
async def test_any_interleaving_of_redeliveries_pays_like_once_in_order(
    store: Store, data: st.DataObject, claims: list
) -> None:
    persons = [uid("psn"), uid("psn")]
    pool = [
        PayerWork(uid("claim"), persons[who], year, (Decimal(fen) / 100, date(year, 5, 1) + timedelta(days=day)))
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


async def test_check_ledger_names_what_does_not_add_up(store: Store, own_database: str) -> None:
    psn, a = "4100000000" + uid("p")[-8:], uid("claim")
    await store.pay_batch("basic", [work_of(a, psn, "100.00")], half_within_cap)
    settlement = settlement_of(uid("s"), a, psn)
    await store.record_settlements([settlement, settlement_of(uid("s"), a, psn)])
    conn = await asyncpg.connect(own_database)
    try:
        await conn.execute("UPDATE year_totals SET paid = paid + 0.01 WHERE psn_no = $1", psn)
        await conn.execute("UPDATE settlements SET psn_part_amt = 0 WHERE settlement_id = $1", settlement.settlement_id)
        problems = await store.check_ledger()
        assert len(problems) == 3, problems
        assert f"account {ACCOUNT}: paid 50.01 but its payments sum to 50.00" in problems[0]
        assert psn not in " ".join(problems)  # person numbers are masked
        assert settlement.settlement_id in problems[1]
        assert problems[2] == f"claim {a} has 2 settlements of kind settlement"
    finally:
        await conn.execute("DELETE FROM year_totals WHERE psn_no = $1", psn)
        await conn.execute("DELETE FROM payments WHERE psn_no = $1", psn)
        await conn.execute("DELETE FROM settlements WHERE psn_no = $1", psn)
        await conn.close()
    assert await store.check_ledger() == []


# --- ledger ----------------------------------------------------------------------------------


def settlement_of(settlement_id: str, claim_id: str, psn_no: str) -> Settlement:
    line = PaymentLine(payer=Payer.basic, fund_pay_type="310100", amount=Decimal("4473.75"), base=Decimal("8947.50"),
                       rule="test#basic.half", explanation="half", account=ACCOUNT)
    return Settlement(
        settlement_id=settlement_id, claim_id=claim_id, psn_no=psn_no, insuplc_admdvs="411500",
        policy=PolicyRef(region="test", period="2024", version=1), identity=[], medfee_sumamt=Decimal("9000.00"),
        payments=[line], fund_pay_sumamt=Decimal("4473.75"), psn_part_amt=Decimal("4526.25"),
        settled_at=datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc),
    )


async def test_settlements_are_recorded_once_and_published_in_order(store: Store) -> None:
    psn = uid("psn")
    records = [settlement_of(uid("s"), uid("claim"), psn) for _ in range(3)]
    assert await store.record_settlements(records) == [True, True, True]
    assert await store.record_settlements([records[0], records[0]]) == [True, True]  # not yet published
    await store.mark_published([records[0].settlement_id, records[2].settlement_id])
    assert await store.record_settlements(records) == [False, True, False]
    later = settlement_of(uid("s"), uid("claim"), psn)
    assert await store.record_settlements([later]) == [True]

    listed = await store.settlements(limit=1_000_000)
    seqs = [seq for seq, _ in listed]
    assert seqs == sorted(seqs)
    ours = [(seq, s) for seq, s in listed if s.psn_no == psn]
    assert [s for _, s in ours] == [*records, later]
    assert ours[0][1].payments[0].amount == Decimal("4473.75")
    assert await store.settlements(after_seq=ours[0][0], limit=2) == ours[1:3]
    assert await store.check_ledger() == []


async def test_rejections_are_kept_and_counted(store: Store) -> None:
    before = await store.counts()
    await store.record_rejection("claims.discharged", "medfee_sumamt is not an amount", '{"x": "\x00"}', 3, 42)
    await store.record_rejection("eligibility.changes", "not JSON", "\ufffd\ufffd", None, None)
    after = await store.counts()
    assert after["rejections"] == before["rejections"] + 2
    assert {**after, "rejections": 0} == {**before, "rejections": 0}
