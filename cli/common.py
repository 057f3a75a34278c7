"""What the commands share: finding the running system, or saying clearly how to start one."""

from __future__ import annotations

import click

from runtime.endpoints import Endpoints, NotRunning, endpoints


def endpoints_or_fail() -> Endpoints:
    """The broker and database to talk to (ONESTOP_KAFKA / ONESTOP_DATABASE_URL, or `onestop up`)."""
    try:
        return endpoints()
    except NotRunning as error:
        raise click.ClickException(str(error)) from None
