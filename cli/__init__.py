"""The `onestop` command: the live system, the pure rules as a calculator, and the operators' checks."""

from __future__ import annotations

from typing import Any

import click

from policies.loader import PolicyFileError

from . import (
    audit,
    compile_rules,
    console,
    finance,
    inputs,
    keys,
    metrics,
    operations,
    premiums,
    presettle,
    slip,
    system,
    views,
)
from .demo import demo
from .policy import policy


class _Onestop(click.Group):
    """The command group; a policy file that does not validate is said as ``file:line: field:
    problem``, never as a traceback (the files are read when a command first needs a rule)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PolicyFileError as error:
            raise click.ClickException(f"a policy file does not validate:\n{error}") from None


@click.group(cls=_Onestop)
def main() -> None:
    """onestop: one-stop settlement of hospital bills for people in hardship."""


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.pass_context
def chaos(context: click.Context) -> None:
    """Fault injection: settle a generated year with and without faults and compare (see --help)."""
    try:
        from bench.chaos import chaos as command  # the benchmarks load only when an operator asks for them
    except ImportError:
        raise click.ClickException(
            "onestop chaos runs from a source checkout of onestop (bench/ is not installed here)"
        ) from None

    command.main(args=context.args, prog_name="onestop chaos", standalone_mode=True)


for command in (
    *system.COMMANDS,
    *inputs.COMMANDS,
    *premiums.COMMANDS,
    *views.COMMANDS,
    *operations.COMMANDS,
    *audit.COMMANDS,
    *keys.COMMANDS,
    *finance.COMMANDS,
    *console.COMMANDS,
    *metrics.COMMANDS,
    *slip.COMMANDS,
    *presettle.COMMANDS,
    *compile_rules.COMMANDS,
    demo,
    policy,
    chaos,
):
    main.add_command(command)
