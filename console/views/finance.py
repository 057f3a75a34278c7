"""Finance: the monthly clearing statement (with its chart, as CSV and PDF), a hospital's
reconciliation uploaded and its differences, and the year-end close, confirmed, signed with the
bureau's key the server holds, published as `onestop year-end close` publishes it, and recorded
with who did it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from aiohttp import web

from cli.finance import render_statement
from cli.inputs import year_end_close_of
from cli.keys import read_key_file
from policies.loader import load_policies
from policies.nhsa import china_time
from reports import reconcile as reconciling, statement as statements
from reports.render.chart import as_svg, statement_chart
from reports.render.fonts import pdf_font
from schemas.events import YearEndClose
from schemas.settings import settings
from streams.codecs import encode
from streams.publisher import publish
from streams.topics import YEAR_END

from ..reading import all_records
from ..web import account_of, allow, console_of, now, render

routes = web.RouteTableDef()


async def _statement(request: web.Request) -> tuple[statements.Statement | None, str, str, str | None]:
    month = request.query.get("month", "").strip() or china_time(now()).strftime("%Y-%m")
    hospital = request.query.get("hospital", "").strip() or None
    try:
        return (
            statements.build_statement(await all_records(console_of(request).store), month, hospital),
            month,
            hospital or "",
            None,
        )
    except statements.StatementError as error:
        return None, month, hospital or "", str(error)


@routes.get("/finance/statement")
@allow("finance")
async def statement(request: web.Request) -> web.Response:
    made, month, hospital, problem = await _statement(request)
    chart = None
    if made is not None:
        font = pdf_font().name
        chart = as_svg(statement_chart(made, font, width=760, height=220), font)
    return render(
        request,
        "statement.html",
        statement=made,
        month=month,
        hospital=hospital,
        problem=problem,
        chart=chart,
        status=400 if problem else 200,
    )


@routes.get("/finance/statement.{fmt:csv|pdf}")
@allow("finance")
async def statement_download(request: web.Request) -> web.Response:
    made, month, hospital, problem = await _statement(request)
    if made is None:
        raise web.HTTPBadRequest(text=problem or "no statement")
    fmt = request.match_info["fmt"]
    name = f"statement-{made.month}" + (f"-{hospital}" if hospital else "") + f".{fmt}"
    body = render_statement(made, fmt)
    return web.Response(
        body=body if isinstance(body, bytes) else body.encode("utf-8"),
        content_type="application/pdf" if fmt == "pdf" else "text/csv",
        charset=None if fmt == "pdf" else "utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.get("/finance/reconcile")
@allow("finance")
async def reconcile_form(request: web.Request) -> web.Response:
    return render(request, "reconcile.html", result=None, problem=None, values={})


@routes.post("/finance/reconcile")
@allow("finance")
async def reconcile(request: web.Request) -> web.Response:
    form = await request.post()
    values = {k: str(form.get(k, "")).strip() for k in ("hospital", "from", "to")}
    upload = form.get("file")

    def refuse(problem: str) -> web.Response:
        return render(request, "reconcile.html", result=None, problem=problem, values=values, status=400)

    try:
        first, last = date.fromisoformat(values["from"]), date.fromisoformat(values["to"])
    except ValueError:
        return refuse("write the period's first and last days as YYYY-MM-DD")
    if last < first or not values["hospital"]:
        return refuse("the hospital's fixmedins_code, and a last day not before the first")
    if not isinstance(upload, web.FileField) or not upload.filename:
        return refuse(
            "upload the hospital's CSV file (setl_id or claim_id, medfee_sumamt, fund_pay_sumamt, psn_part_amt)"
        )
    try:
        listed = reconciling.read_hospital_file(upload.file.read().decode("utf-8-sig"), Path(upload.filename).name)
        result = reconciling.reconcile(
            listed, await all_records(console_of(request).store), values["hospital"], first, last
        )
    except UnicodeDecodeError as error:
        return refuse(f"{upload.filename}: not UTF-8 text ({error.reason} at byte {error.start})")
    except (reconciling.BadFile, reconciling.UnknownHospital) as error:
        return refuse(str(error))
    return render(
        request,
        "reconcile.html",
        result=reconciling.as_json(result),
        problem=None,
        values=values,
        status_words=reconciling.STATUS,
    )


def _regions() -> list[str]:
    return sorted({p.region for p in load_policies()})


@routes.get("/finance/year-end")
@allow("finance")
async def year_end_form(request: web.Request) -> web.Response:
    closes = await console_of(request).tables.actions("year-end close")
    return render(
        request,
        "year_end.html",
        regions=_regions(),
        step="form",
        close=None,
        problem=None,
        closes=closes,
        key_held=bool(settings.console_bureau_key),
    )


@routes.post("/finance/year-end")
@allow("finance")
async def year_end(request: web.Request) -> web.Response:
    """Two steps: the form says what would be closed and asks to confirm; only a post that says
    confirm=yes publishes the close."""
    console, account = console_of(request), account_of(request)
    form = await request.post()
    region, year_text = str(form.get("region", "")), str(form.get("year", ""))
    closes = await console.tables.actions("year-end close")

    def page(
        step: str, close: YearEndClose | None = None, problem: str | None = None, status: int = 200
    ) -> web.Response:
        return render(
            request,
            "year_end.html",
            regions=_regions(),
            step=step,
            close=close,
            problem=problem,
            status=status,
            closes=closes,
            key_held=bool(settings.console_bureau_key),
            region=region,
            year=year_text,
        )

    if not settings.console_bureau_key:
        return page(
            "form",
            problem="the server holds no key of the bureau (ONESTOP_CONSOLE_BUREAU_KEY): no close can be signed here",
            status=409,
        )
    try:
        key = read_key_file(Path(settings.console_bureau_key))
        close = year_end_close_of(region, int(year_text), None, key, now())
    except ValueError as error:
        return page("form", problem=str(error), status=400)
    except Exception as error:  # noqa: BLE001 - the key file's problem, said as it is
        return page("form", problem=f"the bureau's key: {error}", status=500)
    if form.get("confirm") != "yes":
        return page("confirm", close)
    await publish(console.found.kafka, YEAR_END, [encode(close)], YearEndClose, key_field="region", signed_by=key)
    await console.tables.record_action(
        account.name,
        "year-end close",
        {
            "region": close.region,
            "year": close.year,
            "event_id": close.event_id,
            "key_id": key.key_id,
            "recorded_at": close.recorded_at.isoformat(),
        },
    )
    closes = await console.tables.actions("year-end close")
    return page("done", close)
