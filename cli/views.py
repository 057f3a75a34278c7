"""`onestop settlements | person`: what the ledger holds, as finance and caseworkers read it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import click
import orjson

from policies.enrollment import Enrolled
from policies.nhsa import nhsa_form
from schemas.events import CategoryHeld, EligibilityChange, Settlement
from schemas.totals import YearTotals
from store import Store, store_at
from store.reading import pages
from streams.codecs import encode
from streams.reader import read_topic
from streams.topics import SETTLEMENTS

from .common import endpoints_or_fail
from .formats import TABLE_HEADER, describe_person, describe_premiums, table_row


@click.command()
@click.argument("psn_no")
@click.option("--as-known-at", type=click.DateTime(), default=None, help="the identity as this system knew it then")
def person(psn_no: str, as_known_at: datetime | None) -> None:
    """A person's categories over time, year-to-date totals per payer, insurance and premium subsidies."""
    found = endpoints_or_fail()

    async def show() -> None:
        known_at = as_known_at.replace(tzinfo=as_known_at.tzinfo or timezone.utc) if as_known_at else None
        async with store_at(found.database) as store:
            held, events, years = await person_identity(store, psn_no, as_known_at)
            enrolled, premiums = await person_premiums(store, psn_no, known_at)
        click.echo(describe_person(psn_no, held, events, years, as_known_at))
        click.echo(describe_premiums(enrolled, premiums, as_known_at))

    asyncio.run(show())


async def person_identity(
    store: Store, psn_no: str, as_known_at: datetime | None = None
) -> tuple[list[CategoryHeld], list[EligibilityChange], dict[int, YearTotals]]:
    """A person's categories (as known now, or at ``as_known_at``: naive is UTC), the changes in the
    order applied, and each year's totals per account: `onestop person` and the console's person page."""
    held, events = await store.identity_history(psn_no)
    if as_known_at is not None:
        held = await store.identity_as_known(psn_no, as_known_at.replace(tzinfo=as_known_at.tzinfo or timezone.utc))
    years = {year: await store.year_totals(psn_no, year) for year in await store.years_of(psn_no)}
    return held, events, years


async def person_premiums(
    store: Store, psn_no: str, known_at: datetime | None = None
) -> tuple[list[Enrolled], list[Settlement]]:
    """Where a person is insured (as known now, or at ``known_at``) and their premium subsidies."""
    enrolled, _ = await store.enrollment_history(psn_no, known_at)
    premiums = [r for _, r in await store.settlements(psn_no=psn_no, limit=100_000) if r.kind == "premium"]
    return enrolled, premiums


@click.command()
@click.option(
    "--from",
    "source",
    type=click.Choice(["ledger", "topic"]),
    default="ledger",
    help="ledger: the database's records (they survive a restart); topic: settlements.completed as published",
)
@click.option("--follow", is_flag=True, help="keep printing new records")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "table", "nhsa"]),
    default="table",
    help="json: each record as on the wire (CONTRACTS.md); "
    "nhsa: as the national platform's 2207 answer (setlinfo/setldetail)",
)
def settlements(source: str, follow: bool, fmt: str) -> None:
    """Print every record — settlements, adjustments, reversals, year-end payments — in the order recorded."""
    found = endpoints_or_fail()
    click.echo(f"records from the {'ledger (database)' if source == 'ledger' else 'topic ' + SETTLEMENTS}", err=True)

    def show_one(record: Settlement, raw: bytes | None = None) -> None:
        if fmt == "nhsa":
            click.echo(encode(nhsa_form(record)).decode())
        elif fmt == "json":
            click.echo(raw.decode() if raw is not None else record.model_dump_json(by_alias=True, exclude_none=False))
        else:
            click.echo(table_row(record))

    async def from_topic() -> int:
        count = 0
        async for raw in read_topic(found.kafka, SETTLEMENTS, follow=follow):
            show_one(Settlement.model_validate(orjson.loads(raw)), raw)
            count += 1
        return count

    async def from_ledger() -> int:
        # the ledger is read by place (person, then the person's order): following it reads it again
        # and shows what each person has recorded since (settlements.completed is the place to follow)
        count, shown = 0, {}
        async with store_at(found.database) as store:
            while True:
                async for page in pages(store.settlements, limit=1000):
                    for place, record in page:
                        if place.seq > shown.get(place.psn_no, 0):
                            show_one(record, encode(record))
                            shown[place.psn_no], count = place.seq, count + 1
                if not follow:
                    return count
                await asyncio.sleep(0.5)

    if fmt == "table":
        click.echo(TABLE_HEADER)
    try:
        count = asyncio.run(from_ledger() if source == "ledger" else from_topic())
        click.echo(f"{count} records", err=True)
    except KeyboardInterrupt:
        pass


COMMANDS = [settlements, person]
