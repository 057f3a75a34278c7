"""Premium subsidies (参保资助, issue 29) through the live system, as the bureau and the authorities
work it with the commands: the categories granted, the bureau's roster imported (`onestop enrollment
import`), the years rolled (`onestop premiums roll`) while the ledger and the premiums worker are
down and then restarted, a mid-year grant (due the month after), a later category worth more (never
topped up) and a revocation (nothing recovered); the tax office's list, `onestop person`, and an
auditor's replay of the archive gives the very same records. The worked cases are Zhangye's and
Jining's of tests/cases_premiums, their people renamed."""

from __future__ import annotations

import asyncio
import csv
import io

from click.testing import CliRunner

from cli import main
from policies.audit import differences, replay_archive
from schemas.events import EligibilityChange
from store.waiting import premiums_recorded
from streams.codecs import encode
from streams.publisher import publish
from streams.topics import ELIGIBILITY

from ..premium_cases import premium_cases

TIMEOUT = 180.0
SUFFIX = "-LP"
CASES = {case.name.split("-")[0]: case for case in premium_cases() if case.name.split("-")[0] in ("zhangye", "jining")}


def mine(event):
    """An event of a worked case for this test's own people."""
    return event.model_copy(update={"psn_no": event.psn_no + SUFFIX, "event_id": event.event_id + SUFFIX})


def before_and_after_the_roll(case):
    """The case's events received before its roll (grants, enrollment) and after it (grants, revocations)."""
    at = next(n for n, (kind, _) in enumerate(case.events) if kind == "roll")
    return case.events[:at], case.events[at + 1 :]


def expected(case) -> dict[str, dict]:
    return {e["claim_id"] + SUFFIX: e for e in case.expect}


async def run(env: dict, *args: str) -> str:
    result = await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


async def until(check, what: str) -> None:
    for _ in range(int(TIMEOUT * 4)):
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"not within {TIMEOUT:.0f}s: {what}")


async def test_premium_subsidies_through_the_live_system(live_system, store, tmp_path):
    env = {"ONESTOP_KAFKA": live_system.kafka, "ONESTOP_DATABASE_URL": live_system.database}
    before = {name: before_and_after_the_roll(case)[0] for name, case in CASES.items()}
    after = {name: before_and_after_the_roll(case)[1] for name, case in CASES.items()}
    # the authorities' grants, then the bureau's roster of who is insured where
    grants = [mine(e) for events in before.values() for kind, e in events if kind == "eligibility"]
    await publish(live_system.kafka, ELIGIBILITY, [encode(g) for g in grants], EligibilityChange)
    await until(lambda: _all_known(store, grants), "the grants recorded")
    roster = tmp_path / "roster.csv"
    enrolled = [mine(e) for events in before.values() for kind, e in events if kind == "enrollment"]
    with roster.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["psn_no", "insutype", "insuplc_admdvs", "valid_from", "valid_to"])
        writer.writerows([e.psn_no, e.insutype.value, e.insuplc_admdvs, e.valid_from, e.valid_to] for e in enrolled)
    assert f"{len(enrolled)} enrollment changes published; 0 rows not imported" in await run(
        env, "enrollment", "import", str(roster)
    )
    await until(lambda: _all_enrolled(store, {e.psn_no for e in enrolled}), "the roster recorded")
    # each year rolled while the premiums worker and the ledger are down: they take it when restarted
    live_system.workers.kill("premiums")
    live_system.workers.kill("ledger")
    for region, year in (("zhangye", 2022), ("jining", 2021)):
        assert f"published the roll premiums.{region}.{year} of {region} {year}" in await run(
            env, "premiums", "roll", region, str(year)
        )
    live_system.workers.start_one("premiums")
    live_system.workers.start_one("ledger")
    at_the_roll = {
        claim_id: want
        for case in CASES.values()
        for claim_id, want in expected(case).items()
        if want["reason"].startswith("premium roll")
    }
    got = await premiums_recorded(store, set(at_the_roll), TIMEOUT)
    for claim_id, want in at_the_roll.items():
        assert _as_expected(got[claim_id]) == _without_reason(want), claim_id
    # after the roll: a mid-year grant (ZY-2, due 1 September), a category worth more (ZY-1: never topped
    # up), a grant recorded in December and received late (JN-2, due 1 January), a revocation (JN-1: nothing
    # recovered)
    later = [mine(e) for events in after.values() for kind, e in events]
    await publish(live_system.kafka, ELIGIBILITY, [encode(e) for e in later], EligibilityChange)
    everyone = {claim_id: want for case in CASES.values() for claim_id, want in expected(case).items()}
    got = await premiums_recorded(store, set(everyone), TIMEOUT)
    assert {claim_id: _as_expected(record) for claim_id, record in got.items()} == {
        claim_id: _without_reason(want) for claim_id, want in everyone.items()
    }
    persons = {e.psn_no for e in grants} | {e.psn_no for e in enrolled}
    await until(lambda: _all_known(store, later), "the later changes recorded")
    await until(lambda: _nothing_queued(store, persons), "the queues applied")
    records = [r for _, r in await store.settlements(limit=1_000_000) if r.psn_no in persons]
    assert sorted(r.claim_id for r in records) == sorted(everyone), "one record per subsidised person, none after"
    assert all(r.kind == "premium" for r in records)  # nothing topped up, nothing recovered
    # what people read
    listed = list(
        csv.DictReader(
            io.StringIO(await run(env, "premiums", "list", "--region", "zhangye", "--year", "2022", "--format", "csv"))
        )
    )
    mine_listed = {row["psn_no"]: row for row in listed if row["psn_no"].endswith(SUFFIX)}
    assert {p: (row["subsidised"], row["person_pays"], row["funds"]) for p, row in mine_listed.items()} == {
        "ZY-1-LP": ("220.00", "130.00", "assistance 610100 220.00"),
        "ZY-2-LP": ("100.00", "250.00", "assistance 610100 100.00"),
        "ZY-3-LP": ("350.00", "0.00", "assistance 610100 350.00"),
        "ZY-4-LP": ("160.00", "190.00", "assistance 610100 160.00"),
    }
    shown = await run(env, "person", "ZY-2-LP")
    assert "390 resident  at 620702  2022-01-01 – 2022-12-31" in shown
    assert (
        "2022 zhangye    at_risk" in shown
        and "subsidised 100.00 (assistance 100.00), the person pays 250.00; due 2022-09-01" in shown
    )
    # an auditor's replay of the archive makes the very same records
    replayed = replay_archive(await store.inputs(limit=10_000_000))
    assert differences([r for r in replayed.records if r.psn_no in persons], records, "ledger") == []
    assert await store.check_ledger() == [] and live_system.workers.crashed() == []


def _as_expected(record) -> dict:
    return {
        "claim_id": record.claim_id,
        "category": record.category.value,
        "due_date": str(record.due_date),
        "payments": {line.payer.value: str(line.amount) for line in record.payments},
        "personal": str(record.psn_part_amt),
    }


def _without_reason(want: dict) -> dict:
    return {**{k: v for k, v in want.items() if k != "reason"}, "claim_id": want["claim_id"] + SUFFIX}


async def _all_known(store, changes) -> bool:
    for change in changes:
        _, events = await store.identity_history(change.psn_no)
        if change.event_id not in {e.event_id for e in events}:
            return False
    return True


async def _all_enrolled(store, persons) -> bool:
    return all([(await store.enrollment_history(psn_no))[1] for psn_no in persons])


async def _nothing_queued(store, persons) -> bool:
    return not [q for q in await store.queued() if q.psn_no in persons]
