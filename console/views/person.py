"""The caseworker's person page, and the slip of a claim (a hospital's own, a caseworker's person's)."""

from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web

from cli.slip import slip_of
from reports.render.html import slip_html
from reports.render.pdf import slip_pdf
from reports.slip import SlipError
from schemas.codes import identifier
from schemas.ids import claim_key

from ..charts import account_bars
from ..reading import person_page, person_regions
from ..roles import Refused, require_claim, require_person
from ..web import account_of, allow, console_of, now, render

routes = web.RouteTableDef()


def _moment(text: str) -> datetime | None:
    """A moment typed in the form (YYYY-MM-DD or YYYY-MM-DDTHH:MM, China Standard Time when naive)."""
    from policies.nhsa import CHINA

    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA).astimezone(timezone.utc)


@routes.get("/person")
@allow("caseworker")
async def person(request: web.Request) -> web.Response:
    console, account = console_of(request), account_of(request)
    psn_no = request.query.get("psn_no", "").strip()
    as_known = request.query.get("as_known_at", "").strip()
    if not psn_no:
        return render(request, "person.html", page=None, psn_no="", as_known_at=as_known, problem=None)
    try:
        identifier(psn_no)
        known_at = _moment(as_known)
    except ValueError as error:
        return render(
            request, "person.html", page=None, psn_no=psn_no, as_known_at=as_known, problem=str(error), status=400
        )
    require_person(account, await person_regions(console.store, psn_no))  # before anything of theirs is read
    page = await person_page(console.store, psn_no, known_at, now())
    await console.tables.record_view(account, psn_no, "person" + (f" as known at {as_known}" if as_known else ""))
    bars = {year: [account_bars(t) for t in totals] for year, totals in page.running.items()}
    return render(request, "person.html", page=page, psn_no=psn_no, as_known_at=as_known, problem=None, bars=bars)


async def _claim(request: web.Request) -> tuple[str, str]:
    """(claim key, person) of /slip/{hospital}/{claim_id} (hospital "-": a claim naming none), once
    the account may see it: a hospital its own claims (refused before anything is read), a
    caseworker the claims of persons of its regions."""
    console, account = console_of(request), account_of(request)
    hospital = request.match_info["hospital"]
    code = None if hospital == "-" else hospital
    if account.role == "hospital":
        require_claim(account, code)
    key = claim_key(code, request.match_info["claim_id"])
    records = await console.store.records_of(key)
    if not records:
        raise web.HTTPNotFound(
            text=f"no records of claim {request.match_info['claim_id']}" + (f" of hospital {code}" if code else "")
        )
    if account.role == "caseworker":
        require_claim(account, code, await person_regions(console.store, records[0].psn_no))
    return key, records[0].psn_no


async def _slip(request: web.Request, what: str):
    key, psn_no = await _claim(request)
    console = console_of(request)
    try:
        made = await slip_of(console.store, key, now())
    except SlipError as error:
        raise Refused(f"no slip for this claim: {error}") from None
    await console.tables.record_view(account_of(request), psn_no, f"{what} {key}")
    return made


@routes.get("/slip/{hospital}/{claim_id}/slip.pdf")
@allow("hospital", "caseworker")
async def slip_download(request: web.Request) -> web.Response:
    made = await _slip(request, "slip PDF")
    name = f"slip-{request.match_info['claim_id']}.pdf"
    return web.Response(
        body=slip_pdf(made),
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.get("/slip/{hospital}/{claim_id}/slip.html")
@allow("hospital", "caseworker")
async def slip_document(request: web.Request) -> web.Response:
    """The slip as `onestop slip` writes it: a printable page of its own (shown in the slip page's frame)."""
    made = await _slip(request, "slip")
    return web.Response(
        text=slip_html(made),
        content_type="text/html",
        headers={
            # its own inline styles, nothing else; framed by the console's slip page only
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            "frame-ancestors 'self'",
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


@routes.get("/slip/{hospital}/{claim_id}")
@allow("hospital", "caseworker")
async def slip_page(request: web.Request) -> web.Response:
    await _claim(request)
    return render(
        request,
        "slip.html",
        claim_id=request.match_info["claim_id"],
        document=f"{request.path}/slip.html",
        pdf=f"{request.path}/slip.pdf",
    )
