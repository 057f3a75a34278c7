"""`onestop parked [retry | drop | dropped]`: what the workers could not handle, running it again
after a fix, and resolving what must not run (README "Parked messages")."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from aiokafka import AIOKafkaProducer

from runtime.endpoints import Endpoints
from schemas.personal import mask
from store import Parked, store_at
from streams.security import client_options
from workers.harness import Context, SendOne, Worker
from workers.parking import drop_parked, retry_parked
from workers.registry import WORKERS

from .common import endpoints_or_fail

T = TypeVar("T")


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
        why = "waits behind an earlier one" if p.behind else p.error
        click.echo(f"{_line(p)}  {why}")
    click.echo(f"{len(items)} parked")


@parked.command("retry")
@click.option(
    "--worker", type=click.Choice(sorted(WORKERS)), default=None, help="default: every worker with something parked"
)
def parked_retry(worker: str | None) -> None:
    """Run parked messages again, person by person in order; what is handled is sent on and forgotten."""
    found = endpoints_or_fail()
    results = asyncio.run(retry_parked_messages(found.kafka, lambda _: found.database, worker))
    for name, handled, left in results:
        click.echo(f"{name}: {handled} handled, {left} still parked")


@parked.command("drop")
@click.argument("parked_id", type=int)
@click.option("--reason", required=True, help="why it must not run (kept for the audit; required)")
@click.option("--by", default=None, help="who drops it (default: your login name)")
def parked_drop(parked_id: int, reason: str, by: str | None) -> None:
    """Resolve parked message PARKED_ID without running it: it is kept among the dropped ones (`onestop
    parked dropped`) with who dropped it, when and why, and its person's messages that waited behind
    it run again."""
    if not reason.strip():
        raise click.UsageError("--reason must say why the message is dropped: it is kept for the audit")
    operator = by or _login_name()
    found = endpoints_or_fail()

    async def drop(context: Context, send: SendOne):
        return await drop_parked(WORKERS, context, send, parked_id, reason, operator)

    try:
        dropped, handled, left = _with_sender(found, drop)
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    worker = dropped.parked.worker
    click.echo(f"dropped #{parked_id} ({worker}) by {dropped.dropped_by}: {dropped.reason}")
    click.echo(f"{worker}: {handled} of the same person's handled, {left} still parked")


@parked.command("dropped")
@click.option("--worker", type=click.Choice(sorted(WORKERS)), default=None)
def parked_dropped(worker: str | None) -> None:
    """List the parked messages operators dropped: who, when and why."""
    found = endpoints_or_fail()

    async def show():
        async with store_at(found.database) as store:
            return await store.dropped(worker)

    items = asyncio.run(show())
    for d in items:
        click.echo(
            f"{_line(d.parked)}  dropped {d.dropped_at:%Y-%m-%d %H:%M:%S} by {d.dropped_by}: {d.reason}"
            f"  (it had: {'waits behind an earlier one' if d.parked.behind else d.parked.error})"
        )
    click.echo(f"{len(items)} dropped")


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # (a container's user may have no name)
        raise click.UsageError("no login name to record as who dropped it: give one with --by") from None


def _line(p: Parked) -> str:
    person = mask(p.key.decode(errors="replace")) if p.key else "-"
    place = f"{p.topic}[{p.partition}]@{p.offset}" if p.offset is not None else f"{p.topic} (its own)"
    return f"#{p.parked_id:<6} {p.worker:<16} {place:<32} person {person:<10} {p.parked_at:%Y-%m-%d %H:%M:%S}"


def _with_sender(found: Endpoints, work: Callable[[Context, SendOne], Awaitable[T]]) -> T:
    """``work`` run with a context on the database and a sender to the broker (what it runs again sends on)."""

    async def run() -> T:
        context = Context(found.database, kafka=found.kafka)
        producer = AIOKafkaProducer(bootstrap_servers=found.kafka, acks="all", **client_options())
        await producer.start()
        try:

            async def send(topic, key, value):
                return await producer.send(topic, value=value, key=key)

            return await work(context, send)
        finally:
            await producer.stop()
            await context.close()

    return asyncio.run(run())


async def retry_parked_messages(
    kafka: str, database_of: Callable[[Worker], str], worker: str | None = None
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
