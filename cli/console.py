"""`onestop console`: the web console (console/), and its accounts (`onestop console user add`)."""

from __future__ import annotations

import asyncio
import sys

import click

from console.roles import ROLES

from .common import endpoints_or_fail


@click.group(invoke_without_command=True)
@click.option("--address", default=None, help="default: ONESTOP_CONSOLE_ADDRESS (127.0.0.1)")
@click.option(
    "--port", type=click.IntRange(min=0), default=None, help="default: ONESTOP_CONSOLE_PORT (8400); 0: any free port"
)
@click.pass_context
def console(context: click.Context, address: str | None, port: int | None) -> None:
    """Serve the web console for caseworkers, hospital windows, finance, auditors, operators and the
    administrator, from the running system's database (until Ctrl-C / SIGTERM)."""
    if context.invoked_subcommand is not None:
        return
    from console.app import serve
    from console.tables import NotMigrated
    from schemas.settings import settings

    found = endpoints_or_fail()
    try:
        asyncio.run(
            serve(
                found,
                address or settings.console_address,
                settings.console_port if port is None else port,
                lambda url: click.echo(f"onestop console at {url}", err=True),
            )
        )
    except NotMigrated as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"the console cannot listen: {error}") from None


@console.group("user")
def user() -> None:
    """The console's accounts, each person their own."""


async def _tables():
    from console.tables import ConsoleTables, NotMigrated

    try:
        return await ConsoleTables.open(endpoints_or_fail().for_console)
    except NotMigrated as error:
        raise click.ClickException(str(error)) from None


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option(
    "--scope",
    multiple=True,
    help="caseworker: its regions (zhengzhou, or the pooled city 4101; several, or "
    "comma-separated); hospital: its fixmedins_code",
)
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (else it is asked for)")
def user_add(name: str, role: str, scope: tuple[str, ...], password_stdin: bool) -> None:
    """Create an account with its role (and scope)."""
    from console.auth import hash_password, password_problem
    from console.roles import scope_of
    from console.tables import AccountExists

    try:
        scoped = scope_of(role, scope)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--scope") from None
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else click.prompt("password", hide_input=True, confirmation_prompt=True)
    )
    weak = password_problem(password)
    if weak:
        raise click.ClickException(weak)

    async def add() -> None:
        tables = await _tables()
        try:
            await tables.add_account(name, role, scoped, hash_password(password), "onestop console user add")
            await tables.record_action(
                "onestop console user add", "account added", {"name": name, "role": role, "scope": list(scoped)}
            )
        finally:
            await tables.close()

    try:
        asyncio.run(add())
    except (AccountExists, ValueError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"account {name}: {role}" + (f" of {', '.join(scoped)}" if scoped else ""))


@user.command("list")
def user_list() -> None:
    """Every account with its role, scope and whether it is locked or disabled."""

    async def read():
        tables = await _tables()
        try:
            return await tables.accounts()
        finally:
            await tables.close()

    for account in asyncio.run(read()):
        state = (
            "disabled"
            if account.disabled
            else f"locked until {account.locked_until:%Y-%m-%d %H:%M %Z}"
            if account.locked_until
            else "active"
        )
        click.echo(f"{account.name:<24} {account.role:<11} {','.join(account.scope):<24} {state}")


@user.command("unlock")
@click.argument("name")
def user_unlock(name: str) -> None:
    """Unlock an account locked after wrong passwords."""

    async def unlock() -> bool:
        tables = await _tables()
        try:
            done = await tables.unlock(name)
            if done:
                await tables.record_action("onestop console user unlock", "account unlocked", {"name": name})
            return done
        finally:
            await tables.close()

    if not asyncio.run(unlock()):
        raise click.ClickException(f"no account {name}")
    click.echo(f"{name} unlocked")


COMMANDS = [console]
