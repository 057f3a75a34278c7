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
    assert grouped(NAMES, "intake ledger tilt+secondary") == [["intake"], ["ledger"], ["tilt", "secondary"], ["basic"], ["critical"]]
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
    assert shares_processes("intake tilt+secondary") and not shares_processes("intake ledger") and not shares_processes(0)
    assert shares_processes(2)
