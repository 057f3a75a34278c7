"""`onestop up | worker | init | check`: starting the live system, or one worker of it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import click

from runtime.console import ConsoleProcess
from runtime.embedded import kafka_answers
from runtime.endpoints import clear_runtime, home, write_runtime
from runtime.parts import Parts, initialise_sync
from runtime.supervisor import WorkerProcesses, layout
from schemas.settings import described, settings
from store import store_at
from workers.registry import WORKERS

from .common import endpoints_or_fail


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="default: .onestop/ here")
def up(data_dir: Path | None) -> None:
    """Start the broker, PostgreSQL, topics, migrations, every worker and the web console; Ctrl-C stops them all."""
    try:
        layout()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    parts = Parts(data_dir or home())
    found = parts.start()
    workers = WorkerProcesses(found, home() / "logs")
    console = ConsoleProcess(found, home() / "logs")
    stopping = []
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started in the background
        signal.signal(signum, lambda *_: stopping.append(True))
    try:
        initialise_sync(found)
        _say_what_survived(parts, found)
        if settings.accept_unsigned:
            click.echo(
                "WARNING: ONESTOP_ACCEPT_UNSIGNED is on: the workers accept unsigned events from anyone "
                "who can reach the broker. For development only.",
                err=True,
            )
        write_runtime(found, os.getpid())
        workers.start()
        console.start()
        click.echo(
            f"onestop is up: kafka {found.kafka}; {len(WORKERS)} workers in {len(workers.processes)} processes; "
            f"logs in {home() / 'logs'}. Ctrl-C stops."
        )
        address = console.address()
        click.echo(
            f"console: {address} (accounts: onestop console user add NAME --role ROLE)"
            if address
            else f"console: did not start; see {home() / 'logs' / 'console.log'}",
            err=address is None,
        )
        while not stopping:
            for name in workers.crashed():
                click.echo(f"worker {name} stopped unexpectedly; restarting it", err=True)
                workers.start_one(name)
            if console.crashed() and console.may_restart():
                click.echo(f"the console stopped; restarting it (see {home() / 'logs' / 'console.log'})", err=True)
                console.start()
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping workers…")
        console.stop()
        workers.stop()
        parts.stop()
        clear_runtime()
        click.echo("stopped.")


def _say_what_survived(parts: Parts, found) -> None:
    """The embedded broker keeps topics in memory only (its build has no other storage): after a
    restart the database still holds everything, the topics nothing. Say so when it matters."""
    if parts.broker is None:
        return

    async def counts() -> dict:
        async with store_at(found.database) as store:
            return await store.counts()

    held = asyncio.run(counts())
    if held["settlements"] or held["inputs"]:
        click.echo(
            f"note: the database holds the ledger — {held['settlements']} records, {held['inputs']} inputs received — "
            "but the embedded broker keeps topics in memory only, so its topics start empty: settlements.completed "
            "does not hold the earlier records. `onestop settlements` reads the ledger; `onestop audit replay` replays "
            "the archive. Inputs sent again are recognised and settle nothing twice.",
            err=True,
        )


@click.command()
@click.argument("names", nargs=-1, required=True, type=click.Choice(list(WORKERS)))
@click.option("--loglevel", default="warning")
@click.option(
    "--instance",
    type=click.IntRange(min=1),
    default=1,
    help="which instance of these workers this is (its metrics address is named after it); start more to scale out",
)
def worker(names: tuple[str, ...], loglevel: str, instance: int) -> None:
    """Run a worker (its own consumer group) until SIGINT / SIGTERM; several names run several
    workers in this one process, each still its own consumer group (the aiokafka driver)."""
    from workers import metrics
    from workers.drivers import OneWorkerOnly, run_together

    metrics.INSTANCE["number"] = instance
    found = endpoints_or_fail()
    try:
        run_together([WORKERS[name] for name in dict.fromkeys(names)], found.kafka, found.database, loglevel)
    except OneWorkerOnly as error:
        raise click.ClickException(str(error)) from None


@click.command()
def init() -> None:
    """Create every topic and migrate the database (ONESTOP_KAFKA / ONESTOP_DATABASE_URL)."""
    initialise_sync(endpoints_or_fail())
    click.echo("topics created, database migrated")


@click.command()
def check() -> None:
    """Exit 0 when the broker and the database answer."""
    found = endpoints_or_fail()
    if not kafka_answers(found.kafka, timeout=5.0):
        raise click.ClickException(f"the broker at {found.kafka} does not answer")

    async def database() -> None:
        async with store_at(found.database):
            pass

    asyncio.run(database())
    click.echo("broker and database answer")


@click.command("settings")
def settings_command() -> None:
    """Print every ONESTOP_* setting: its value now, its default and what it means."""
    for name, now, default, meaning in described():
        shown = now if now is not None else f"(default {default})" if default is not None else "(unset)"
        click.echo(f"{name:<28} {shown:<32} {meaning}")


@click.command("kafka-acls")
@click.option(
    "--hospital",
    "code",
    default=None,
    metavar="CODE",
    help="print instead the commands that add hospital CODE (fixmedins_code): its principal hospital-CODE, "
    "password $KAFKA_PASSWORD_HOSPITAL, and its ACLs",
)
def kafka_acls(code: str | None) -> None:
    """Print the script that creates every Kafka principal and its ACLs (deploy/kafka/acls.sh), or
    the commands that add one hospital."""
    from runtime.acls import hospital_script, script

    if code is None:
        click.echo(script(), nl=False)
        return
    try:
        click.echo(hospital_script(code), nl=False)
    except ValueError as problem:
        raise click.ClickException(str(problem)) from None


@click.command("compose")
@click.option("--prometheus", "what", flag_value="prometheus", help="print deploy/prometheus/prometheus.yml instead")
@click.option(
    "--dashboard", "what", flag_value="dashboard", help="print deploy/grafana/dashboards/onestop.json instead"
)
@click.option(
    "--env",
    "what",
    flag_value="env",
    help="print instead a .env of fresh random secrets, every one docker-compose.yml requires "
    "(once, before the first start)",
)
def compose_command(what: str | None) -> None:
    """Print docker-compose.yml: every worker a service, principal and database role of its own,
    with Prometheus and Grafana; or the Prometheus configuration or the Grafana dashboard it mounts,
    or the secrets it needs."""
    from runtime.compose import compose, env_file
    from runtime.dashboard import dashboard_json, prometheus_config

    click.echo(
        {"prometheus": prometheus_config, "dashboard": dashboard_json, "env": env_file}.get(what, compose)(), nl=False
    )


COMMANDS = [up, worker, init, check, settings_command, kafka_acls, compose_command]
