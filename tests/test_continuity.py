"""streams/continuity.py: a reader never passes a record it was not handed (the embedded broker can
hand a later batch before an earlier one is stored: bench/chaos/broker_race.py)."""

from __future__ import annotations

from dataclasses import dataclass

from streams.continuity import Continuity


@dataclass(frozen=True)
class R:
    offset: int


def records(*offsets: int) -> list[R]:
    return [R(o) for o in offsets]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def reader(patience: float = 2.0) -> tuple[Continuity, Clock]:
    clock = Clock()
    continuity = Continuity(patience=patience, clock=clock)
    continuity.expect("p0", 10)
    return continuity, clock


def test_records_that_follow_each_other_are_taken_whole_and_the_next_offset_moves_on():
    continuity, _ = reader()
    taken = continuity.take("p0", records(10, 11, 12))
    assert [r.offset for r in taken.records] == [10, 11, 12]
    assert taken.read_again_from is None and taken.passed is None
    assert continuity.next_offset["p0"] == 13


def test_a_later_record_handed_first_is_not_taken_and_the_partition_is_read_again_from_the_first_missing():
    continuity, _ = reader()
    taken = continuity.take("p0", records(13, 14))  # 10, 11, 12 not stored yet when the fetch was answered
    assert list(taken.records) == []
    assert taken.read_again_from == 10
    taken = continuity.take("p0", records(10, 11, 12, 13, 14))  # read again: the batch is there now
    assert [r.offset for r in taken.records] == [10, 11, 12, 13, 14]
    assert taken.read_again_from is None and continuity.gaps == {}


def test_a_gap_inside_a_fetch_keeps_what_came_before_it_and_expects_the_first_missing_next():
    continuity, _ = reader()
    taken = continuity.take("p0", records(10, 11, 15, 16))
    assert [r.offset for r in taken.records] == [10, 11]
    assert taken.read_again_from == 12
    assert continuity.next_offset["p0"] == 12  # what was taken is not asked for again
    taken = continuity.take("p0", records(12, 13, 14, 15, 16))
    assert [r.offset for r in taken.records] == [12, 13, 14, 15, 16]
    assert continuity.next_offset["p0"] == 17


def test_a_gap_still_there_after_its_patience_is_real_and_passed():
    continuity, clock = reader(patience=2.0)
    assert continuity.take("p0", records(13)).read_again_from == 10
    clock.now += 1.9
    assert continuity.take("p0", records(13)).read_again_from == 10  # still within its patience
    clock.now += 0.2
    taken = continuity.take("p0", records(13, 14))
    assert [r.offset for r in taken.records] == [13, 14]
    assert taken.passed == (10, 12) and taken.read_again_from is None
    assert continuity.next_offset["p0"] == 15 and continuity.gaps == {}


def test_another_gap_starts_its_own_patience():
    continuity, clock = reader(patience=2.0)
    continuity.take("p0", records(13))
    clock.now += 1.5
    assert [r.offset for r in continuity.take("p0", records(10, 11, 20)).records] == [10, 11]
    clock.now += 1.5  # 3 s since the first gap, 1.5 s since this one
    taken = continuity.take("p0", records(20))
    assert list(taken.records) == [] and taken.read_again_from == 12


def test_partitions_are_checked_apart_and_a_partition_not_yet_expected_starts_where_it_is_handed():
    continuity, _ = reader()
    assert [r.offset for r in continuity.take("p1", records(40, 41)).records] == [40, 41]
    assert continuity.take("p0", records(11)).read_again_from == 10
    assert continuity.next_offset == {"p0": 10, "p1": 42}


def test_a_partition_forgotten_on_revocation_is_asked_for_again_by_its_next_owner():
    continuity, _ = reader()
    continuity.take("p0", records(12))
    continuity.forget(["p0"])
    assert not continuity.knows("p0") and continuity.gaps == {}


def test_a_fetch_that_hands_nothing_does_not_restart_an_open_gaps_patience():
    continuity, clock = reader(patience=2.0)
    assert continuity.take("p0", records(13)).read_again_from == 10
    clock.now += 1.5
    assert list(continuity.take("p0", []).records) == []
    clock.now += 1.0  # 2.5 s since the gap was found
    assert continuity.take("p0", records(13)).passed == (10, 12)
