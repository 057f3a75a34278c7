"""The `onestop` command."""
from __future__ import annotations

import click

from .policy_cli import policy


@click.group()
def main() -> None:
    """onestop: one-stop settlement of hospital bills for people in hardship."""


main.add_command(policy)

if __name__ == "__main__":
    main()
