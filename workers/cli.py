"""The `onestop` command."""
from __future__ import annotations

import click

from bench.chaos import chaos

from .pipeline_cli import COMMANDS
from .policy_cli import policy


@click.group()
def main() -> None:
    """onestop: one-stop settlement of hospital bills for people in hardship."""


main.add_command(policy)
main.add_command(chaos)
for command in COMMANDS:
    main.add_command(command)

if __name__ == "__main__":
    main()
