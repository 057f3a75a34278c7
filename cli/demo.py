"""`onestop demo`: the main job end to end on the embedded default, with the worked cases.

Starts everything (or uses the `onestop up` running here), publishes the cases' people, then
their claims, waits until every claim is settled, prints the settlements and says whether each
agrees with the case's expectation to the fen.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import click

from schemas.cases import Case
from schemas.events import DischargeClaim, EligibilityChange, Settlement
from streams.topics import DISCHARGED, ELIGIBILITY

from runtime.endpoints import NotRunning, endpoints, home
from runtime.parts import Parts, initialise_sync
from runtime.supervisor import WorkerProcesses
from store import store_at
from store.waiting import identities_recorded, settled_claims
from streams.publisher import publish

from .files import events_of
from .formats import TABLE_HEADER, table_row


def agreement(case: Case, settled: dict[str, Settlement]) -> list[str]:
    """What differs from the case's expectations, in words (empty: agrees to the fen)."""
    problems = []
    for expected in case.expect:
        got = settled[expected.claim_id]
        payments = {p.payer.value: p.amount for p in got.payments if p.amount}
        if payments != expected.payments or got.psn_part_amt != expected.personal:
            problems.append(f"{expected.claim_id}: got {payments} personal {got.psn_part_amt}, "
                            f"expected {dict(expected.payments)} personal {expected.personal}")
    return problems


async def _run(kafka: str, database: str, cases: list[Case], timeout: float) -> bool:
    grants, claims = events_of(cases)
    async with store_at(database) as store:
        before = (await store.counts())["identity_events"]
        await publish(kafka, ELIGIBILITY, grants, EligibilityChange)
        await identities_recorded(store, min(before + len(grants), len(grants)), timeout)
        await publish(kafka, DISCHARGED, claims, DischargeClaim)
        settled = await settled_claims(store, {c.claim_id for case in cases for c in case.claims}, timeout)
    click.echo(TABLE_HEADER)
    all_agree = True
    for case in cases:
        for claim in case.claims:
            click.echo(table_row(settled[claim.claim_id]))
        problems = agreement(case, settled)
        all_agree &= not problems
        verdict = "agrees to the fen" if not problems else "DIFFERS: " + "; ".join(problems)
        click.echo(f"  ↳ {case.name}: {verdict}")
    return all_agree


def run_demo(cases_dir: Path, timeout: float = 180.0) -> bool:
    cases = [Case.model_validate_json(p.read_bytes()) for p in sorted(cases_dir.glob("*.json"))]
    if not cases:
        raise click.ClickException(f"no case files in {cases_dir}")
    try:
        found = endpoints()
        return asyncio.run(_run(found.kafka, found.database, cases, timeout))
    except NotRunning:
        pass
    parts = Parts(home())
    found = parts.start()
    workers = WorkerProcesses(found, home() / "logs")
    try:
        initialise_sync(found)
        workers.start()
        click.echo(f"started the broker, PostgreSQL and {len(workers.processes)} workers (logs in {home() / 'logs'})")
        return asyncio.run(_run(found.kafka, found.database, cases, timeout))
    finally:
        workers.stop()
        parts.stop()


@click.command()
@click.argument("cases_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default="../shared/cases")
@click.option("--timeout", default=180.0, help="seconds to wait for the settlements")
def demo(cases_dir: Path, timeout: float) -> None:
    """Publish the worked cases' people and claims through the live system and print the settlements."""
    if not run_demo(cases_dir, timeout):
        raise SystemExit(1)
