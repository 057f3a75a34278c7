"""`onestop parked [retry]`: what the workers could not handle, and running it again after a fix."""
from __future__ import annotations

import asyncio

import click
from aiokafka import AIOKafkaProducer

from schemas.personal import mask
from store import store_at
from workers.harness import Context
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

    async def retry() -> list[tuple[str, int, int]]:
        context = Context(found.database, kafka=found.kafka)
        producer = AIOKafkaProducer(bootstrap_servers=found.kafka, acks="all", **client_options())
        await producer.start()
        try:
            store = await context.store()
            names = [worker] if worker else sorted({p.worker for p in await store.parked()})

            async def send(topic, key, value):
                return await producer.send(topic, value=value, key=key)

            return [(name, *await retry_parked(WORKERS[name], context, send)) for name in names]
        finally:
            await producer.stop()
            await context.close()

    for name, handled, left in asyncio.run(retry()):
        click.echo(f"{name}: {handled} handled, {left} still parked")


COMMANDS = [parked]
