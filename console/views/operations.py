"""The operator: each worker process's health, consumer lag and throughput (from its /metrics),
what is parked with a retry, and the rejections by kind."""

from __future__ import annotations

from aiohttp import web

from cli.operations import retry_parked_messages
from workers.registry import WORKERS

from ..reading import rejections_by_kind, whole_archive, worker_processes
from ..web import account_of, allow, console_of, render

routes = web.RouteTableDef()


async def _page(request: web.Request, retried: list | None = None, problem: str | None = None) -> web.Response:
    console = console_of(request)
    parked = await console.store.parked()
    return render(
        request,
        "operations.html",
        processes=await worker_processes(),
        parked=parked,
        rejections=rejections_by_kind(await whole_archive(console.store)),
        counts=await console.store.counts(),
        workers=sorted(WORKERS),
        retried=retried,
        problem=problem,
    )


@routes.get("/operations")
@allow("operator")
async def operations(request: web.Request) -> web.Response:
    return await _page(request)


@routes.post("/operations/parked/retry")
@allow("operator")
async def retry(request: web.Request) -> web.Response:
    """Run a worker's parked messages again, as that worker's own database role (what it handles is
    written as the worker writes it, and nothing else)."""
    console, account = console_of(request), account_of(request)
    worker = str((await request.post()).get("worker", ""))
    if worker not in WORKERS:
        return await _page(request, problem=f"no worker {worker!r}")
    workers_url = console.workers_database
    results = await retry_parked_messages(console.found.kafka, lambda w: w.database_url(workers_url), worker)
    await console.tables.record_action(
        account.name,
        "parked retry",
        {"worker": worker, "results": [{"worker": n, "handled": h, "still_parked": left} for n, h, left in results]},
    )
    return await _page(request, retried=results)
