"""`onestop eligibility import` and `onestop person` against the running system."""

from __future__ import annotations

import asyncio
from datetime import date

from click.testing import CliRunner

from cli import main

TIMEOUT = 120.0


async def _periods(store, psn_no: str, count: int):
    for _ in range(int(TIMEOUT * 4)):
        held, events = await store.identity_history(psn_no)
        if len(events) >= count:
            return held
        await asyncio.sleep(0.25)
    raise AssertionError(f"{psn_no}: fewer than {count} changes recorded")


async def test_a_yearly_list_grants_and_a_replacing_list_revokes_those_missing(
    live_system, store, tmp_path, monkeypatch
):
    monkeypatch.setenv("ONESTOP_KAFKA", live_system.kafka)
    monkeypatch.setenv("ONESTOP_DATABASE_URL", live_system.database)
    runner = CliRunner()
    first = tmp_path / "dibao-2023.csv"
    first.write_text(
        "psn_no,category,valid_from,valid_to\n"
        "PLIST1,low_income_elderly,2023-01-01,\nPLIST2,low_income_elderly,2023-01-01,\nPLIST3,low_income_minor,2023-01-01,\n"
        "PLIST4,not_a_category,2023-01-01,\n"
    )
    result = await asyncio.to_thread(
        runner.invoke, main, ["eligibility", "import", str(first), "--authority", "civil_affairs"]
    )
    assert result.exit_code == 0, result.output
    assert "3 grants and 0 revocations published; 1 rows not imported" in result.output
    assert "line 5: category" in result.output
    await _periods(store, "PLIST3", 1)

    second = tmp_path / "dibao-2023-07.csv"
    second.write_text(
        "psn_no,category,valid_from,valid_to\nPLIST1,low_income_elderly,2023-01-01,\nPLIST3,low_income_minor,2023-01-01,\n"
    )
    args = [
        "eligibility",
        "import",
        str(second),
        "--authority",
        "civil_affairs",
        "--replace",
        "--effective",
        "2023-07-01",
    ]
    result = await asyncio.to_thread(runner.invoke, main, args)
    assert result.exit_code == 0, result.output
    assert "2 grants and 1 revocations published" in result.output
    held = await _periods(store, "PLIST2", 2)
    assert [(h.code.value, h.valid_from, h.valid_to) for h in held] == [
        ("low_income_elderly", date(2023, 1, 1), date(2023, 6, 30))
    ]
    assert [(h.valid_from, h.valid_to) for h in (await store.identity_history("PLIST1"))[0]] == [
        (date(2023, 1, 1), None)
    ]
    listed = ("PLIST1", "PLIST2", "PLIST3")
    await _periods(store, "PLIST1", 2)
    await _periods(store, "PLIST3", 2)  # both lists' grants
    before = {psn_no: (await store.identity_history(psn_no))[1] for psn_no in listed}

    result = await asyncio.to_thread(
        runner.invoke,
        main,
        [
            "eligibility",
            "import",
            str(second),
            "--authority",
            "civil_affairs",
            "--replace",
            "--effective",
            "2023-07-01",
        ],
    )
    assert result.exit_code == 0, result.output
    # the same list again changes nothing: each person's next change (a list of its own, published after
    # it, on the same partitions) is recorded right after their changes before it
    sentinel = tmp_path / "dibao-2024.csv"
    sentinel.write_text("psn_no,category,valid_from,valid_to\n" + "".join(f"{p},dibao,2024-01-01,\n" for p in listed))
    args = ["eligibility", "import", str(sentinel), "--authority", "civil_affairs"]
    result = await asyncio.to_thread(runner.invoke, main, args)
    assert result.exit_code == 0, result.output
    for psn_no in listed:
        await _periods(store, psn_no, len(before[psn_no]) + 1)
        events = (await store.identity_history(psn_no))[1]
        assert events[:-1] == before[psn_no], psn_no
        assert (events[-1].category.value, events[-1].valid_from) == ("dibao", date(2024, 1, 1)), psn_no

    result = await asyncio.to_thread(runner.invoke, main, ["person", "PLIST2"])
    assert result.exit_code == 0, result.output
    assert (
        "low_income_elderly" in result.output
        and "低收入家庭60岁以上老人" in result.output
        and "2023-06-30" in result.output
    )
    assert "revoke" in result.output and "PLIST2" not in result.output.splitlines()[0]
