"""The console's web application (aiohttp): its pages put together, and serving it."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

import orjson
from aiohttp import web

from runtime.console import console_address_file
from runtime.endpoints import Endpoints, worker_url
from store import open_store

from .auth import Signer, console_secret
from .tables import ConsoleTables
from .views import admin, audit, finance, hospital, operations, person, session
from .web import CONSOLE, Console, guard, templates

MAX_UPLOAD = 5 * 1024 * 1024


async def make_app(found: Endpoints, database: str | None = None) -> web.Application:
    """The console on ``found``'s broker, reading the database ``database`` (default: the console's
    own role, found.for_console)."""
    url = database or found.for_console
    tables = await ConsoleTables.open(url)
    try:
        store = await open_store(url, migrate=False)
    except BaseException:
        await tables.close()
        raise
    console = Console(
        Endpoints(found.kafka, url),
        store,
        tables,
        Signer(console_secret()),
        templates(),
        found.worker_database or worker_url(found.database) or found.database,
    )
    await tables.abandon_running_jobs()
    app = web.Application(middlewares=[guard], client_max_size=MAX_UPLOAD)
    app[CONSOLE] = console
    for views in (session, person, hospital, finance, audit, operations, admin):
        app.add_routes(views.routes)
    app.router.add_static("/static", Path(__file__).parent / "static")

    async def closing(_: web.Application) -> None:
        for task in console.tasks:
            task.cancel()
        await console.store.close()
        await console.tables.close()

    app.on_cleanup.append(closing)
    return app


async def serve(found: Endpoints, address: str, port: int, announce: Callable[[str], None] = print) -> None:
    """Serve the console until SIGINT / SIGTERM; its address is announced and written to
    .onestop/console.json while it runs."""
    runner = web.AppRunner(await make_app(found), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, address, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()  # the port chosen when 0 was asked for
    url = f"http://{address if ':' not in address else f'[{address}]'}:{bound[1]}"
    console_address_file().parent.mkdir(parents=True, exist_ok=True)
    console_address_file().write_bytes(orjson.dumps({"url": url, "pid": os.getpid()}))
    announce(url)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        console_address_file().unlink(missing_ok=True)
        await runner.cleanup()
