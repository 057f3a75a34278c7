"""The round-trip benchmark measures a real echo between two processes, on any core and on one."""
import os

from bench.wakeups import ping_pong


def test_a_round_trip_is_measured_on_any_core_and_on_one_and_the_affinity_is_given_back():
    allowed = os.sched_getaffinity(0)
    for one_core in (False, True):
        figures = ping_pong(500, one_core)
        assert figures["wall_us"] > 0
        assert figures["user_us"] + figures["system_us"] > 0
        assert figures["echo_user_us"] + figures["echo_system_us"] > 0
        assert os.sched_getaffinity(0) == allowed
