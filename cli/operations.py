"""`onestop parked [retry]`: what the workers could not handle, and running it again after a fix."""
from __future__ import annotations

import asyncio
from collections.abc import Callable

import click
from aiokafka import AIOKafkaProducer

from schemas.personal import mask
from store import store_at
from workers.harness import Context, Worker
from workers.parking import retry_parked
from workers.registry import WORKERS

from .common import endpoints_or_fail
from streams.security import client_options


@click.group(invoke_without_command=True)
@click.option("--worker", type=click.Choice(sorted(WORKERS)), default=None)
@click.pass_context
def parked(context: click.Context, worker: str | None) -> None:
    """List the messages the workers parked, with why (a person's later ones wait behind the first)."""
    if context.invoked_subcommand is not None:
        return
    found = endpoints_or_fail()

    async def show():
        async with store_at(found.database) as store:
            return await store.parked(worker)

    items = asyncio.run(show())
    for p in items:
        person = mask(p.key.decode(errors="replace")) if p.key else "-"
        why = "waits behind an earlier one" if p.behind else p.error
        click.echo(f"#{p.parked_id:<6} {p.worker:<16} {p.topic}[{p.partition}]@{p.offset:<8} person {person:<10} "
                   f"{p.parked_at:%Y-%m-%d %H:%M:%S}  {why}")
    click.echo(f"{len(items)} parked")


@parked.command("retry")
@click.option("--worker", type=click.Choice(sorted(WORKERS)), default=None, help="default: every worker with something parked")
def parked_retry(worker: str | None) -> None:
    """Run parked messages again, person by person in order; what is handled is sent on and forgotten."""
    found = endpoints_or_fail()
    results = asyncio.run(retry_parked_messages(found.kafka, lambda _: found.database, worker))
    for name, handled, left in results:
        click.echo(f"{name}: {handled} handled, {left} still parked")


async def retry_parked_messages(kafka: str, database_of: Callable[[Worker], str], worker: str | None = None
                                ) -> list[tuple[str, int, int]]:
    """Run the parked messages of ``worker`` (default: every worker with something parked) again, each
    worker's with the database URL ``database_of(worker)`` gives; per worker (name, handled, still
    parked). `onestop parked retry` and the console's operations page."""
    async with store_at(database_of(WORKERS[worker]) if worker else _any_url(database_of)) as store:
        names = [worker] if worker else sorted({p.worker for p in await store.parked()})
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", **client_options())
    await producer.start()
    try:
        async def send(topic, key, value):
            return await producer.send(topic, value=value, key=key)

        results = []
        for name in names:
            context = Context(database_of(WORKERS[name]), kafka=kafka)
            try:
                results.append((name, *await retry_parked(WORKERS[name], context, send)))
            finally:
                await context.close()
        return results
    finally:
        await producer.stop()


def _any_url(database_of: Callable[[Worker], str]) -> str:
    """A URL that may read what is parked (every worker's role may)."""
    return database_of(next(iter(WORKERS.values())))


COMMANDS = [parked]
