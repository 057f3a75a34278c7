"""How the workers are spread over processes (ONESTOP_PROCESSES): one each, dealt over N, or a layout."""

from __future__ import annotations

import pytest

from runtime.supervisor import grouped, shares_processes
from schemas.settings import process_layout, value

NAMES = ["intake", "basic", "critical", "tilt", "secondary", "ledger"]


def test_zero_is_a_process_per_worker_and_a_number_deals_them_round_robin():
    assert grouped(NAMES, 0) == [[n] for n in NAMES]
    assert grouped(NAMES, 2) == [["intake", "critical", "secondary"], ["basic", "tilt", "ledger"]]
    assert grouped(NAMES[:2], 5) == [["intake"], ["basic"]]


def test_a_layout_names_the_groups_and_every_worker_it_leaves_out_runs_alone():
    assert grouped(NAMES, "intake ledger tilt+secondary") == [
        ["intake"],
        ["ledger"],
        ["tilt", "secondary"],
        ["basic"],
        ["critical"],
    ]
    # a worker of the layout that is not started now is left out of its group, not started
    assert grouped(["tilt", "basic"], "tilt+secondary") == [["tilt"], ["basic"]]
    every = {n for group in grouped(NAMES, "critical+basic") for n in group}
    assert every == set(NAMES)


def test_a_layout_naming_no_such_worker_is_refused_with_the_names_there_are():
    with pytest.raises(ValueError, match="no such worker: tilts .*workers: intake"):
        grouped(NAMES, "intake tilts+secondary")


def test_the_setting_reads_a_number_or_a_layout(monkeypatch):
    assert process_layout("3") == 3
    assert process_layout("  intake   tilt+secondary ") == "intake tilt+secondary"
    monkeypatch.setenv("ONESTOP_PROCESSES", "basic++critical")
    with pytest.raises(ValueError, match="ONESTOP_PROCESSES"):
        value("ONESTOP_PROCESSES")
    assert (
        shares_processes("intake tilt+secondary") and not shares_processes("intake ledger") and not shares_processes(0)
    )
    assert shares_processes(2)


def test_a_group_with_a_count_runs_in_as_many_processes():
    assert grouped(NAMES, "ledger*2 tilt+secondary") == [
        ["ledger"],
        ["ledger"],
        ["tilt", "secondary"],
        ["intake"],
        ["basic"],
        ["critical"],
    ]
    with pytest.raises(ValueError, match="group\\*N"):
        grouped(NAMES, "ledger*0")


def test_the_default_shares_processes_but_not_under_faust_which_refuses_a_layout_that_does(monkeypatch):
    from runtime.supervisor import layout
    from workers.registry import WORKERS

    monkeypatch.delenv("ONESTOP_PROCESSES", raising=False)
    monkeypatch.setenv("ONESTOP_DRIVER", "aiokafka")
    processes = grouped(list(WORKERS), layout())
    assert ["intake"] in processes and ["ledger"] in processes and len(processes) == 7
    assert sorted(n for group in processes for n in group) == sorted(WORKERS)
    monkeypatch.setenv("ONESTOP_DRIVER", "faust")
    assert layout() == 0
    assert layout({"ONESTOP_PROCESSES": "intake ledger"}) == "intake ledger"
    with pytest.raises(ValueError, match="only the aiokafka driver"):
        layout({"ONESTOP_PROCESSES": "tilt+secondary"})
