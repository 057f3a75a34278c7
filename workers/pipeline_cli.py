"""`onestop up | worker | init | check | claims | eligibility | settlements | demo`: the live system."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click
import orjson

from schemas.codes import Authority
from schemas.events import DischargeClaim, EligibilityChange, Settlement
from streams.codecs import encode
from streams.topics import DISCHARGED, ELIGIBILITY, SETTLEMENTS

from .bulk_lists import BadList, changes_of, read_list
from .display import describe_person
from .store import Store

from .demo import demo
from .display import TABLE_HEADER, table_row
from .follow import read_topic
from .pipeline import Parts, Workers, initialise_sync
from .publish import publish, read_lines
from .registry import WORKERS
from .settings import Endpoints, NotRunning, clear_runtime, endpoints, home, write_runtime


def _endpoints() -> Endpoints:
    try:
        return endpoints()
    except NotRunning as error:
        raise click.ClickException(str(error)) from None


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="default: .onestop/ here")
def up(data_dir: Path | None) -> None:
    """Start the broker, PostgreSQL, topics, migrations and every worker; Ctrl-C stops them all."""
    parts = Parts(data_dir or home())
    found = parts.start()
    workers = Workers(found, home() / "logs")
    stopping = []
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started in the background
        signal.signal(signum, lambda *_: stopping.append(True))
    try:
        initialise_sync(found)
        write_runtime(found, os.getpid())
        workers.start()
        click.echo(f"onestop is up: kafka {found.kafka}; {len(WORKERS)} workers; logs in {home() / 'logs'}. Ctrl-C stops.")
        while not stopping:
            for name in workers.crashed():
                click.echo(f"worker {name} stopped unexpectedly; restarting it", err=True)
                workers.start_one(name)
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping workers…")
        workers.stop()
        parts.stop()
        clear_runtime()
        click.echo("stopped.")


@click.command()
@click.argument("name", type=click.Choice(list(WORKERS)))
@click.option("--loglevel", default="warning")
def worker(name: str, loglevel: str) -> None:
    """Run one worker (its own Faust app and consumer group) until SIGINT / SIGTERM."""
    from .stage import run_stage

    found = _endpoints()
    run_stage(WORKERS[name], found.kafka, found.database, loglevel)


@click.command()
def init() -> None:
    """Create every topic and migrate the database (ONESTOP_KAFKA / ONESTOP_DATABASE_URL)."""
    initialise_sync(_endpoints())
    click.echo("topics created, database migrated")


@click.command()
def check() -> None:
    """Exit 0 when the broker and the database answer."""
    from .embedded import kafka_answers
    from .store import Store

    found = _endpoints()
    if not kafka_answers(found.kafka, timeout=5.0):
        raise click.ClickException(f"the broker at {found.kafka} does not answer")

    async def database() -> None:
        store = await Store.open(found.database, migrate=False)
        await store.close()

    asyncio.run(database())
    click.echo("broker and database answer")


def _publish_file(file: Path, topic: str, model) -> None:
    found = _endpoints()
    events = list(read_lines(file))
    with click.progressbar(length=len(events), label=f"publishing to {topic}", file=sys.stderr) as bar:
        tally = asyncio.run(publish(found.kafka, topic, events, model, bar))
    for reason in tally.reasons:
        click.echo(f"  rejected {reason}", err=True)
    click.echo(f"published {len(events)}: {tally.accepted} accepted, {tally.rejected} rejected (see the rejection topic)")


@click.group()
def claims() -> None:
    """Discharge events (claims.discharged)."""


@claims.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def claims_publish(file: Path) -> None:
    """Publish a JSON-lines or CSV file of discharge events."""
    _publish_file(file, DISCHARGED, DischargeClaim)


@click.group()
def eligibility() -> None:
    """Eligibility changes (eligibility.changes)."""


@eligibility.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def eligibility_publish(file: Path) -> None:
    """Publish a JSON-lines file of eligibility changes."""
    _publish_file(file, ELIGIBILITY, EligibilityChange)


@eligibility.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--authority", required=True, type=click.Choice([a.value for a in Authority]))
@click.option("--replace", is_flag=True, help="revoke the list's categories of everyone missing from it")
@click.option("--effective", type=click.DateTime(["%Y-%m-%d"]), default=None, help="date the revocations take effect (default today)")
def eligibility_import(file: Path, authority: str, replace: bool, effective: datetime | None) -> None:
    """Turn an authority's CSV name list into eligibility changes and publish them."""
    found = _endpoints()
    try:
        entries, digest = read_list(file)
    except BadList as error:
        raise click.ClickException(str(error)) from None
    on = (effective or datetime.now()).date()
    missing = asyncio.run(_missing_from(found, entries, Authority(authority), on)) if replace else []
    changes, problems = changes_of(entries, digest, Authority(authority), datetime.now(timezone.utc), missing, on)
    for problem in problems:
        click.echo(f"  not imported: {problem}", err=True)
    events = [encode(c) for c in changes]
    with click.progressbar(length=len(events), label="publishing to eligibility.changes", file=sys.stderr) as bar:
        asyncio.run(publish(found.kafka, ELIGIBILITY, events, EligibilityChange, bar))
    grants = sum(c.action == "grant" for c in changes)
    click.echo(f"{grants} grants and {len(changes) - grants} revocations published; {len(problems)} rows not imported")


async def _missing_from(found: Endpoints, entries, authority: Authority, on) -> list[tuple[str, str]]:
    listed = {(e.psn_no, e.category) for e in entries}
    store = await Store.open(found.database, migrate=False)
    try:
        holding = await store.holders(authority.value, sorted({e.category for e in entries}), on)
    finally:
        await store.close()
    return [pair for pair in holding if pair not in listed]


@click.command()
@click.argument("psn_no")
@click.option("--as-known-at", type=click.DateTime(), default=None, help="the identity as this system knew it then")
def person(psn_no: str, as_known_at: datetime | None) -> None:
    """A person's categories over time and year-to-date totals per payer."""
    found = _endpoints()

    async def show() -> None:
        store = await Store.open(found.database, migrate=False)
        try:
            held, events = await store.identity_history(psn_no)
            if as_known_at is not None:
                held = await store.identity_as_known(psn_no, as_known_at.replace(tzinfo=as_known_at.tzinfo or timezone.utc))
            years = {year: await store.year_totals(psn_no, year) for year in await store.years_of(psn_no)}
        finally:
            await store.close()
        click.echo(describe_person(psn_no, held, events, years, as_known_at))

    asyncio.run(show())


@click.command()
@click.option("--follow", is_flag=True, help="keep printing new settlements")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table")
def settlements(follow: bool, fmt: str) -> None:
    """Print settled claims from settlements.completed (json: one record per line, as CONTRACTS.md)."""
    found = _endpoints()

    async def show() -> None:
        if fmt == "table":
            click.echo(TABLE_HEADER)
        async for raw in read_topic(found.kafka, SETTLEMENTS, follow=follow):
            click.echo(raw.decode() if fmt == "json" else table_row(Settlement.model_validate(orjson.loads(raw))))

    try:
        asyncio.run(show())
    except KeyboardInterrupt:
        pass


COMMANDS = [up, worker, init, check, claims, eligibility, settlements, person, demo]
