"""Signing in and out, the language switch, and the first page of each role."""

from __future__ import annotations

from aiohttp import web

from ..auth import password_matches
from ..roles import HOME
from ..web import LANG_COOKIE, SESSION_COOKIE, account_of, console_of, now, render, safe_next

routes = web.RouteTableDef()


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    account = request.get("account")
    raise web.HTTPSeeOther(HOME[account.role] if account else "/login")


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    return render(request, "login.html", problem=None, name="", next=request.query.get("next", ""))


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    console = console_of(request)
    form = await request.post()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    target = str(form.get("next", ""))
    account, password_hash = await console.tables.account(name)
    at = now()
    if account is not None and account.locked_until is not None and account.locked_until > at:
        await console.tables.record_action(name, "sign-in refused", {"why": "locked"})
        return _refused(request, name, target, "locked", account.locked_until)
    if not password_matches(password_hash, password) or account is None or account.disabled:
        if account is not None and not account.disabled:
            account = await console.tables.wrong_password(name, at)
            locked = account is not None and account.locked_until is not None and account.locked_until > at
            await console.tables.record_action(
                name,
                "account locked" if locked else "sign-in refused",
                {"why": "wrong password", "failures": account.failures if account else None},
            )
            if locked:
                return _refused(request, name, target, "locked", account.locked_until)
        return _refused(request, name, target, "wrong")
    await console.tables.right_password(name)
    session_id = await console.tables.new_session(name)
    await console.tables.record_action(name, "signed in", {})
    response = web.HTTPSeeOther(safe_next(target, account) if target else HOME[account.role])
    response.set_cookie(
        SESSION_COOKIE,
        console.signer.sign(session_id),
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
    )
    raise response


def _refused(request: web.Request, name: str, target: str, why: str, until=None) -> web.Response:
    return render(
        request, "login.html", status=401 if why == "wrong" else 423, problem=why, until=until, name=name, next=target
    )


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    if request.get("session_id"):
        await console_of(request).tables.end_session(request["session_id"])
        await console_of(request).tables.record_action(account_of(request).name, "signed out", {})
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


@routes.get("/lang")
async def language(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther(safe_next(request.query.get("next"), request.get("account")))
    response.set_cookie(
        LANG_COOKIE,
        "en" if request.query.get("to") == "en" else "zh",
        samesite="Lax",
        path="/",
        max_age=365 * 24 * 3600,
    )
    raise response
