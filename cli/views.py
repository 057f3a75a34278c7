"""`onestop settlements | person`: what the ledger holds, as finance and caseworkers read it."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import click
import orjson

from schemas.events import Settlement
from store import store_at
from streams.reader import read_topic
from streams.topics import SETTLEMENTS

from .common import endpoints_or_fail
from .formats import TABLE_HEADER, describe_person, table_row


@click.command()
@click.argument("psn_no")
@click.option("--as-known-at", type=click.DateTime(), default=None, help="the identity as this system knew it then")
def person(psn_no: str, as_known_at: datetime | None) -> None:
    """A person's categories over time and year-to-date totals per payer."""
    found = endpoints_or_fail()

    async def show() -> None:
        async with store_at(found.database) as store:
            held, events = await store.identity_history(psn_no)
            if as_known_at is not None:
                held = await store.identity_as_known(psn_no, as_known_at.replace(tzinfo=as_known_at.tzinfo or timezone.utc))
            years = {year: await store.year_totals(psn_no, year) for year in await store.years_of(psn_no)}
        click.echo(describe_person(psn_no, held, events, years, as_known_at))

    asyncio.run(show())


@click.command()
@click.option("--follow", is_flag=True, help="keep printing new settlements")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table")
def settlements(follow: bool, fmt: str) -> None:
    """Print settled claims from settlements.completed (json: one record per line, as CONTRACTS.md)."""
    found = endpoints_or_fail()

    async def show() -> None:
        if fmt == "table":
            click.echo(TABLE_HEADER)
        async for raw in read_topic(found.kafka, SETTLEMENTS, follow=follow):
            click.echo(raw.decode() if fmt == "json" else table_row(Settlement.model_validate(orjson.loads(raw))))

    try:
        asyncio.run(show())
    except KeyboardInterrupt:
        pass


COMMANDS = [settlements, person]
