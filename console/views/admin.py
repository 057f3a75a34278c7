"""The administrator: accounts (made, unlocked, disabled) and the signing keys registered."""

from __future__ import annotations

from aiohttp import web

from ..auth import hash_password, password_problem
from ..roles import ROLES, scope_of
from ..tables import AccountExists
from ..web import account_of, allow, console_of, now, render

routes = web.RouteTableDef()


async def _accounts(request: web.Request, problem: str | None = None, done: str | None = None, status: int = 200):
    return render(
        request,
        "accounts.html",
        accounts=await console_of(request).tables.accounts(),
        roles=ROLES,
        now=now(),
        problem=problem,
        done=done,
        status=status,
    )


@routes.get("/admin/accounts")
@allow("admin")
async def accounts(request: web.Request) -> web.Response:
    return await _accounts(request)


@routes.post("/admin/accounts")
@allow("admin")
async def add(request: web.Request) -> web.Response:
    console, account = console_of(request), account_of(request)
    form = await request.post()
    name, role, password = str(form.get("name", "")).strip(), str(form.get("role", "")), str(form.get("password", ""))
    try:
        scope = scope_of(role, [str(form.get("scope", ""))])
        weak = password_problem(password)
        if weak:
            raise ValueError(weak)
        await console.tables.add_account(name, role, scope, hash_password(password), account.name)
    except (ValueError, AccountExists) as error:
        return await _accounts(request, problem=str(error), status=400)
    await console.tables.record_action(
        account.name, "account added", {"name": name, "role": role, "scope": list(scope)}
    )
    return await _accounts(request, done=f"account {name} ({role}) added")


@routes.post("/admin/accounts/{name}/{what:unlock|disable|enable}")
@allow("admin")
async def change(request: web.Request) -> web.Response:
    console, account = console_of(request), account_of(request)
    name, what = request.match_info["name"], request.match_info["what"]
    if what == "unlock":
        changed = await console.tables.unlock(name)
    else:
        if name == account.name:
            return await _accounts(request, problem="you cannot disable your own account", status=400)
        changed = await console.tables.set_disabled(name, what == "disable")
    if not changed:
        raise web.HTTPNotFound(text=f"no account {name}")
    await console.tables.record_action(
        account.name, f"account {what}d" if what != "unlock" else "account unlocked", {"name": name}
    )
    return await _accounts(request, done=f"{name}: {what} done")


@routes.get("/admin/keys")
@allow("admin")
async def keys(request: web.Request) -> web.Response:
    found = await console_of(request).store.signing_keys()
    return render(request, "keys.html", keys=sorted(found.values(), key=lambda k: (k.signer_kind, k.signer, k.key_id)))
