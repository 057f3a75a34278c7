"""`onestop claims … | eligibility …`: publishing hospitals' and authorities' events from files."""
from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from runtime.endpoints import Endpoints
from schemas.codes import Authority
from schemas.events import DischargeClaim, EligibilityChange
from store import store_at
from streams.codecs import encode
from streams.publisher import publish
from streams.topics import DISCHARGED, ELIGIBILITY

from .common import endpoints_or_fail
from .files import BadList, changes_of, read_lines, read_list


def _publish_file(file: Path, topic: str, model) -> None:
    found = endpoints_or_fail()
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
    found = endpoints_or_fail()
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
    async with store_at(found.database) as store:
        holding = await store.holders(authority.value, sorted({e.category for e in entries}), on)
    return [pair for pair in holding if pair not in listed]


COMMANDS = [claims, eligibility]
