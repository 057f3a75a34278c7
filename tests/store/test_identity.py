"""Eligibility in the store, on every backend: each change recorded once, the periods of a
(person, category) folded from all its events in (recorded_at, event_id) order whatever order
they arrived in, and the look-ups of identities (by dates, as known at a moment, by authority)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, datetime, timedelta, timezone

from schemas.codes import Authority, Category
from schemas.events import EligibilityChange
from store import Store

from .conftest import Backend
from .support import arrival, record_changes, uid

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=timezone.utc)


def change(
    psn: str,
    event_id: str,
    action: str,
    begin: date,
    end: date | None,
    *,
    minutes: int,
    category: Category = Category.dibao,
    authority: Authority = Authority.civil_affairs,
) -> EligibilityChange:
    return EligibilityChange(
        event_id=f"{psn}:{event_id}",
        psn_no=psn,
        category=category,
        action=action,
        valid_from=begin,
        valid_to=end,
        authority=authority,
        recorded_at=T0 + timedelta(minutes=minutes),
    )


async def record(store: Store, *changes: EligibilityChange) -> list[str]:
    receipts, outbox = await record_changes(store, [arrival(c) for c in changes])
    assert outbox.records == []  # nobody here has claims
    return [r.status for r in receipts]


def periods(held: list) -> list[tuple]:
    """Held categories without the person-specific prefix of their event ids."""
    return [(h.code, h.valid_from, h.valid_to, h.authority, h.event_id.split(":")[1]) for h in held]


async def test_a_grant_is_in_force_in_its_period(store: Store) -> None:
    """A grant is applied, its period held with its authority and event, and the event kept as received."""
    psn = uid("psn")
    assert await record(store, change(psn, "g1", "grant", date(2024, 1, 1), date(2024, 6, 30), minutes=0)) == [
        "applied"
    ]
    held, events = await store.identity_history(psn)
    assert periods(held) == [(Category.dibao, date(2024, 1, 1), date(2024, 6, 30), Authority.civil_affairs, "g1")]
    assert [e.event_id for e in events] == [f"{psn}:g1"]
    assert events[0].recorded_at == T0
    assert await store.queued(psn) == []  # a person without claims has nothing to settle again


async def test_overlapping_and_adjacent_grants_merge(store: Store) -> None:
    """Overlapping or adjacent grants make one period, which keeps the grant that opened it."""
    psn = uid("psn")
    await record(
        store,
        change(psn, "g1", "grant", date(2024, 1, 1), date(2024, 6, 30), minutes=0),
        change(
            psn, "g2", "grant", date(2024, 6, 1), date(2024, 9, 30), minutes=1, authority=Authority.rural_revitalisation
        ),
        change(psn, "g3", "grant", date(2024, 10, 1), date(2024, 12, 31), minutes=2),  # adjacent
        change(psn, "g4", "grant", date(2025, 3, 1), None, minutes=3, authority=Authority.rural_revitalisation),
    )
    held, _ = await store.identity_history(psn)
    assert periods(held) == [
        (Category.dibao, date(2024, 1, 1), date(2024, 12, 31), Authority.civil_affairs, "g1"),
        (Category.dibao, date(2025, 3, 1), None, Authority.rural_revitalisation, "g4"),
    ]


async def test_a_revoke_ends_a_period_from_its_date(store: Store) -> None:
    """An open revocation from 2024-07-01 ends an open grant on 2024-06-30."""
    psn = uid("psn")
    await record(store, change(psn, "g1", "grant", date(2024, 1, 1), None, minutes=0))
    await record(store, change(psn, "r1", "revoke", date(2024, 7, 1), None, minutes=1))
    held, _ = await store.identity_history(psn)
    assert periods(held) == [(Category.dibao, date(2024, 1, 1), date(2024, 6, 30), Authority.civil_affairs, "g1")]


async def test_the_same_event_twice_changes_nothing(store: Store) -> None:
    """An event_id received again is a repeat (its first seq): the periods, the events and their
    count stay; at a new place it is archived with outcome repeat, at the same place not again."""
    psn = uid("psn")
    grant = change(psn, "g1", "grant", date(2024, 1, 1), None, minutes=0)
    revoke = change(psn, "r1", "revoke", date(2024, 5, 1), None, minutes=1)
    first, _ = await record_changes(store, [arrival(grant), arrival(revoke), arrival(grant)])
    assert [r.status for r in first] == ["applied", "applied", "repeat"]
    assert first[2].seq == first[0].seq
    before = await store.identity_history(psn)
    counted = (await store.counts())["identity_events"]
    again = arrival(grant)
    assert [r.status for r in (await record_changes(store, [again]))[0]] == ["repeat"]
    assert await record(store, revoke, revoke) == ["repeat", "repeat"]
    archived = len(await store.inputs())
    assert [r.status for r in (await record_changes(store, [again]))[0]] == ["repeat"]  # the same place
    assert len(await store.inputs()) == archived
    assert await store.identity_history(psn) == before
    assert (await store.counts())["identity_events"] == counted == 2
    outcomes = [(i.outcome, i.reason) for i in await store.inputs()]
    assert outcomes == [
        ("accepted", None),
        ("accepted", None),
        ("repeat", f"event {psn}:g1 was received before"),
        ("repeat", f"event {psn}:g1 was received before"),
        ("repeat", f"event {psn}:r1 was received before"),
        ("repeat", f"event {psn}:r1 was received before"),
    ]


def story(psn: str) -> list[EligibilityChange]:
    """Five changes of one category whose result depends on applying them in recorded order."""
    return [
        change(psn, "a-grant-year", "grant", date(2024, 1, 1), date(2024, 12, 31), minutes=0),
        change(psn, "b-revoke-april", "revoke", date(2024, 4, 1), date(2024, 4, 30), minutes=1),
        change(
            psn,
            "c-grant-spring",
            "grant",
            date(2024, 3, 15),
            date(2024, 6, 30),
            minutes=2,
            authority=Authority.rural_revitalisation,
        ),
        change(psn, "d-revoke-from-october", "revoke", date(2024, 10, 1), None, minutes=3),
        change(
            psn,
            "e-grant-november",
            "grant",
            date(2024, 11, 1),
            date(2024, 11, 30),
            minutes=3,
            authority=Authority.rural_revitalisation,
        ),
    ]


# worked by hand: the year granted; April cut out; March 15 – June 30 granted again (the April hole
# closes, the period keeps a-grant-year); from October revoked; November granted again
STORY_PERIODS = [
    (Category.dibao, date(2024, 1, 1), date(2024, 9, 30), Authority.civil_affairs, "a-grant-year"),
    (Category.dibao, date(2024, 11, 1), date(2024, 11, 30), Authority.rural_revitalisation, "e-grant-november"),
]


async def test_every_arrival_order_gives_the_same_periods(store: Store) -> None:
    """All 120 arrival orders of the story, one event per call, and all at once: the same periods,
    and the events listed in the order applied."""
    for order in itertools.permutations(range(5)):
        psn = uid("psn")
        events = story(psn)
        for index in order:
            assert await record(store, events[index]) == ["applied"]
        held, history = await store.identity_history(psn)
        assert periods(held) == STORY_PERIODS, order
        assert [e.event_id.split(":")[1] for e in history] == [e.event_id.split(":")[1] for e in story(psn)]
    psn = uid("psn")
    await record(store, *reversed(story(psn)))
    assert periods((await store.identity_history(psn))[0]) == STORY_PERIODS


async def test_two_writers_of_one_person_at_once_give_the_same_periods(store: Store, backend: Backend) -> None:
    """Two writers (two pools on PostgreSQL) recording halves of the story at once: the same periods."""
    other = await backend.another()
    for _ in range(10):
        psn = uid("psn")
        events = story(psn)
        await asyncio.gather(
            record_changes(store, [arrival(e) for e in events[::2]]),
            record_changes(other, [arrival(e) for e in events[1::2]]),
        )
        assert periods((await store.identity_history(psn))[0]) == STORY_PERIODS


async def test_identities_as_of_dates(store: Store) -> None:
    """Per (person, first day, last day): the periods in force on at least one day of it, by code and start."""
    psn, other = uid("psn"), uid("psn")
    await record(
        store,
        *story(psn),
        change(psn, "t1", "grant", date(2024, 2, 1), date(2024, 2, 29), minutes=0, category=Category.tekun),
    )
    got = await store.identities(
        [
            (psn, date(2024, 2, 10), date(2024, 2, 12)),  # both categories
            (psn, date(2024, 10, 1), date(2024, 10, 31)),  # in the gap
            (psn, date(2024, 10, 25), date(2024, 11, 1)),  # last day of the stay touches November
            (psn, date(2024, 9, 30), date(2024, 9, 30)),  # last day of the first period
            (other, date(2024, 1, 1), date(2024, 12, 31)),  # nobody
        ]
    )
    assert [periods(held) for held in got] == [
        [STORY_PERIODS[0], (Category.tekun, date(2024, 2, 1), date(2024, 2, 29), Authority.civil_affairs, "t1")],
        [],
        [STORY_PERIODS[1]],
        [STORY_PERIODS[0]],
        [],
    ]
    assert await store.identities([]) == []


async def test_the_identity_as_known_at_a_moment_uses_only_the_events_received_by_then(store: Store) -> None:
    """identity_as_known folds only the events received by the moment asked about."""
    psn = uid("psn")
    await record(store, change(psn, "g1", "grant", date(2024, 1, 1), None, minutes=0))
    await asyncio.sleep(0.01)
    between = datetime.now(timezone.utc)
    await asyncio.sleep(0.01)
    await record(store, change(psn, "r1", "revoke", date(2024, 7, 1), None, minutes=1))
    assert periods(await store.identity_as_known(psn, between)) == [
        (Category.dibao, date(2024, 1, 1), None, Authority.civil_affairs, "g1")
    ]
    assert periods(await store.identity_as_known(psn, datetime.now(timezone.utc))) == [
        (Category.dibao, date(2024, 1, 1), date(2024, 6, 30), Authority.civil_affairs, "g1")
    ]
    assert await store.identity_as_known(psn, between - timedelta(days=1)) == []


async def test_holders_are_the_persons_an_authority_granted_a_category_on_a_day(store: Store) -> None:
    """holders(authority, categories, day): (psn_no, category) in force that day from that authority, sorted."""
    a, b = "A-" + uid("psn"), "B-" + uid("psn")
    await record(
        store,
        change(a, "g1", "grant", date(2024, 1, 1), None, minutes=0),
        change(a, "t1", "grant", date(2024, 1, 1), None, minutes=0, category=Category.tekun),
        change(b, "g1", "grant", date(2024, 1, 1), date(2024, 3, 31), minutes=0),
        change(b, "g2", "grant", date(2024, 5, 1), None, minutes=0, authority=Authority.rural_revitalisation),
    )
    assert await store.holders("civil_affairs", ["dibao", "tekun"], date(2024, 2, 1)) == [
        (a, "dibao"),
        (a, "tekun"),
        (b, "dibao"),
    ]
    assert await store.holders("civil_affairs", ["dibao"], date(2024, 6, 1)) == [
        (a, "dibao")
    ]  # b's is rural_revitalisation's
    assert await store.holders("rural_revitalisation", ["dibao"], date(2024, 6, 1)) == [(b, "dibao")]
