"""The auditor: `audit verify` and `audit replay` run in the background with their progress, the
last results with every difference; the input archive with the reasons of what was refused; the
record of every view of a person's data, and what the console's users did."""

from __future__ import annotations

import asyncio

from aiohttp import web

from cli.audit import replay
from store import Place

from ..reading import archive_page, event_of, place_of, place_read, place_text
from ..web import Console, account_of, allow, console_of, render

routes = web.RouteTableDef()
ARCHIVE_PAGE = 100


@routes.get("/audit")
@allow("auditor")
async def runs(request: web.Request) -> web.Response:
    console = console_of(request)
    return render(request, "audit.html", jobs=await console.tables.jobs(), progress=console.progress)


@routes.post("/audit/run")
@allow("auditor")
async def start(request: web.Request) -> web.Response:
    console, account = console_of(request), account_of(request)
    kind = str((await request.post()).get("kind", ""))
    if kind not in ("verify", "replay"):
        raise web.HTTPBadRequest(text="run verify or replay")
    job_id = await console.tables.start_job(account.name, kind)
    await console.tables.record_action(account.name, f"audit {kind}", {"job_id": job_id})
    task = asyncio.create_task(_run(console, job_id, kind))
    console.tasks.add(task)
    task.add_done_callback(console.tasks.discard)
    raise web.HTTPSeeOther(f"/audit/jobs/{job_id}")


async def _run(console: Console, job_id: int, kind: str) -> None:
    console.progress[job_id] = [0, 0]
    try:
        if kind == "verify":
            breaches, counts = await console.store.check_ledger(), await console.store.counts()
            result = {
                "problems": breaches,
                "counts": counts,
                "summary": [f"checked {counts['settlements']} records, {counts['claims_received']} claims"],
            }
        else:

            def progress(done: int, claims: int) -> None:
                console.progress[job_id][0] += done
                console.progress[job_id][1] = claims

            found = await asyncio.to_thread(replay, console.found, "archive", progress)
            result = {"summary": found.summary, "problems": found.problems, "notes": found.notes}
        await console.tables.end_job(job_id, "done", result)
    except Exception as error:  # noqa: BLE001 - a failed run is shown with its reason
        await console.tables.end_job(job_id, "failed", {"error": f"{type(error).__name__}: {error}"})
    finally:
        console.progress.pop(job_id, None)


@routes.get("/audit/jobs/{job_id:\\d+}")
@allow("auditor")
async def job(request: web.Request) -> web.Response:
    console = console_of(request)
    found = await console.tables.job(int(request.match_info["job_id"]))
    if found is None:
        raise web.HTTPNotFound(text="no such run")
    return render(request, "audit_job.html", job=found, progress=console.progress.get(found.job_id))


@routes.get("/audit/archive")
@allow("auditor")
async def archive(request: web.Request) -> web.Response:
    outcome = request.query.get("outcome", "")
    after = place_read(request.query.get("after", ""))
    shown, place = [], after
    while len(shown) < ARCHIVE_PAGE:  # a filtered page may need several of the archive's pages
        chunk = await archive_page(console_of(request).store, place, ARCHIVE_PAGE * 5)
        if not chunk:
            break
        for item in chunk:
            place = place_of(item)
            if not outcome or item.outcome == outcome:
                shown.append((item, event_of(item.raw)))
                if len(shown) == ARCHIVE_PAGE:
                    break
    more = len(shown) == ARCHIVE_PAGE
    return render(
        request,
        "archive.html",
        items=shown,
        outcome=outcome,
        after=place_text(after),
        next_place=place_text(place) if more else None,
    )


@routes.get("/audit/archive/input")
@allow("auditor")
async def archived(request: web.Request) -> web.Response:
    console, account = console_of(request), account_of(request)
    place = place_read(request.query.get("place", ""))
    before = Place(place.psn_no, place.seq - 1)
    found = [item for item in await archive_page(console.store, before, 1) if item.place == place and place.seq]
    if not found:
        raise web.HTTPNotFound(text=f"no input {place_text(place)} in the archive")
    seq = place_text(place)
    event = event_of(found[0].raw)
    if isinstance(event.get("psn_no"), str):
        await console.tables.record_view(account, event["psn_no"], f"archived input {seq}")
    return render(request, "archived.html", item=found[0], text=found[0].raw.decode("utf-8", errors="replace"))


@routes.get("/audit/views")
@allow("auditor")
async def views(request: web.Request) -> web.Response:
    psn_no = request.query.get("psn_no", "").strip() or None
    name = request.query.get("account", "").strip() or None
    return render(
        request,
        "views.html",
        views=await console_of(request).tables.views(psn_no, name),
        psn_no=psn_no or "",
        name=name or "",
    )


@routes.get("/audit/actions")
@allow("auditor", "admin")
async def actions(request: web.Request) -> web.Response:
    return render(request, "actions.html", actions=await console_of(request).tables.actions())
