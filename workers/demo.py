"""`onestop demo`: the main job end to end on the embedded default, with the worked cases.

Starts everything (or uses the `onestop up` running here), publishes the cases' people, then
their claims, waits until every claim is settled, prints the settlements and says whether each
agrees with the case's expectation to the fen.
"""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import click

from schemas.cases import Case
from schemas.events import DischargeClaim, EligibilityChange, Settlement
from streams.topics import DISCHARGED, ELIGIBILITY

from .cases_io import events_of
from .display import TABLE_HEADER, table_row
from .pipeline import Parts, Workers, initialise_sync
from .publish import publish
from .settings import NotRunning, endpoints, home
from .store import Store


async def settled_claims(store: Store, claim_ids: set[str], timeout: float) -> dict[str, Settlement]:
    """Wait until every claim has its settlement recorded; return them by claim_id."""
    found: dict[str, Settlement] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {s.claim_id: s for _, s in await store.settlements(limit=1_000_000) if s.claim_id in claim_ids}
        if len(found) == len(claim_ids):
            return found
        await asyncio.sleep(0.25)
    missing = sorted(claim_ids - set(found))
    raise TimeoutError(f"{len(missing)} claims not settled within {timeout:.0f}s: {missing[:10]}")


async def identities_recorded(store: Store, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (await store.counts())["identity_events"] < count:
        if time.monotonic() > deadline:
            raise TimeoutError("eligibility changes were not recorded in time; see .onestop/logs/eligibility.log")
        await asyncio.sleep(0.1)


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
    store = await Store.open(database, migrate=False)
    try:
        before = (await store.counts())["identity_events"]
        await publish(kafka, ELIGIBILITY, grants, EligibilityChange)
        await identities_recorded(store, min(before + len(grants), len(grants)), timeout)
        await publish(kafka, DISCHARGED, claims, DischargeClaim)
        settled = await settled_claims(store, {c.claim_id for case in cases for c in case.claims}, timeout)
    finally:
        await store.close()
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
    workers = Workers(found, home() / "logs")
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
