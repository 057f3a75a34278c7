"""The hospital window: its claims of a day or month with their status, and pre-settlement of a bill
typed into the form or uploaded (the pure rules on the person's year as known now; nothing recorded)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import orjson
from aiohttp import web

from cli.presettle import presettle_here, requests_of
from schemas.nhsa import PresettleReply, PresettleRequest

from ..reading import hospital_claims
from ..web import account_of, allow, console_of, now, render

routes = web.RouteTableDef()

PERIOD = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
#: the fields of a bill typed into the form (CONTRACTS.md, claims.discharged), in the form's order
FIELDS = (
    "psn_no",
    "claim_id",
    "insutype",
    "insuplc_admdvs",
    "mdtrtarea_admvs",
    "med_type",
    "hosp_lv",
    "begndate",
    "enddate",
    "dise_codg",
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
)
UPLOADS = (".json", ".jsonl", ".csv")


@routes.get("/hospital/claims")
@allow("hospital")
async def claims(request: web.Request) -> web.Response:
    account = account_of(request)
    period = request.query.get("period", "").strip()
    if period and not PERIOD.match(period):
        return render(
            request,
            "hospital_claims.html",
            claims=[],
            period=period,
            status=400,
            problem=f"{period!r}: write a month YYYY-MM or a day YYYY-MM-DD",
        )
    found = await hospital_claims(console_of(request).store, account.hospital, period or None)
    return render(request, "hospital_claims.html", claims=found, period=period, problem=None)


@routes.get("/hospital/presettle")
@allow("hospital")
async def presettle_form(request: web.Request) -> web.Response:
    return render(
        request,
        "presettle.html",
        fields=FIELDS,
        values={"insutype": "390", "med_type": "21", "hosp_lv": "3"},
        replies=[],
        problem=None,
    )


@routes.post("/hospital/presettle")
@allow("hospital")
async def presettle(request: web.Request) -> web.Response:
    account, console = account_of(request), console_of(request)
    form = await request.post()
    upload = form.get("file")
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    if isinstance(upload, web.FileField) and upload.filename:
        suffix = Path(upload.filename).suffix.lower()
        if suffix not in UPLOADS:
            return render(
                request,
                "presettle.html",
                fields=FIELDS,
                values=values,
                replies=[],
                status=400,
                problem=f"{upload.filename}: upload a .json, .jsonl or .csv file of discharge events",
            )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(upload.file.read())
            items = [(f"item {n}", raw) for n, raw in requests_of(path)]
        source = upload.filename
    else:
        event = {k: v for k, v in values.items() if v}
        event["referral"] = form.get("referral") == "on"
        items, source = [("the form", orjson.dumps(event))], ""
    items = [(where, _as_ours(raw, account.hospital)) for where, raw in items]

    def only_ours(request_: PresettleRequest) -> str | None:
        if request_.fixmedins_code != account.hospital:
            return f"names hospital {request_.fixmedins_code}: a hospital pre-settles only its own bills"
        return None

    replies: list[PresettleReply] = await presettle_here(console.store, items, now(), source, only_ours)
    for reply in replies:
        if reply.psn_no and not reply.error:
            await console.tables.record_view(account, reply.psn_no, f"pre-settlement {reply.claim_id}")
    return render(request, "presettle.html", fields=FIELDS, values=values, replies=replies, problem=None)


def _as_ours(raw: bytes, hospital: str) -> bytes:
    """A bill naming no hospital is the asking hospital's (as `onestop presettle --key` does)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    if isinstance(data, dict) and not data.get("fixmedins_code"):
        data["fixmedins_code"] = hospital
        return orjson.dumps(data)
    return raw
