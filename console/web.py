"""What every page of the console shares (aiohttp): sessions, CSRF, roles, templates.

Every request passes ``_guard``: it finds the session from the signed cookie, refuses any POST
whose CSRF token is not the session's, and turns a ``Refused`` (roles.py) into 403. Every handler
says which roles may call it (``allow``); the scope checks are made by the handler on what it is
about to read, before it reads it (roles.require_*).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from urllib.parse import quote

import jinja2
from aiohttp import web

from policies.nhsa import china_time, policy_or_none
from reports import labels
from runtime.endpoints import Endpoints
from schemas.money import format_yuan
from schemas.personal import mask
from store import Store

from . import roles
from .auth import Signer, new_id
from .roles import Account, Refused
from .tables import ConsoleTables

SESSION_COOKIE = "onestop_session"
VISITOR_COOKIE = "onestop_visitor"  # before signing in: what the sign-in form's CSRF token is bound to
LANG_COOKIE = "onestop_lang"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Console:
    """What every handler shares."""

    found: Endpoints  # the broker, and the database as the console's role
    store: Store
    tables: ConsoleTables
    signer: Signer
    templates: jinja2.Environment
    workers_database: str  # the workers' URL: a parked message is retried as its worker's own role
    #: the auditor's runs in progress: job id -> (claims replayed, claims in all)
    progress: dict[int, list[int]] = field(default_factory=dict)
    tasks: set[asyncio.Task] = field(default_factory=set)


CONSOLE = web.AppKey("console", Console)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE]


def account_of(request: web.Request) -> Account:
    return request["account"]


def now() -> datetime:
    return datetime.now(timezone.utc)


# --- language, money, times ------------------------------------------------------------------------------


def lang_of(request: web.Request) -> str:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"


def _cst(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "—" if moment is None else china_time(moment).strftime(fmt)


def _signed(value: Decimal) -> str:
    return f"+{format_yuan(value)}" if value > 0 else format_yuan(value)


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        yuan=lambda v: "—" if v is None else format_yuan(v),
        signed=_signed,
        cst=_cst,
        mask=mask,
        url=lambda v: quote(str(v), safe=""),
    )
    env.globals.update(
        category_name=lambda code: labels.category(getattr(code, "value", code)),
        insutypes=labels.INSUTYPE,
        kinds=labels.KIND,
        statuses=STATUSES,
        fund_name=fund_name,
    )
    return env


def fund_name(record, line) -> tuple[str, str]:
    """(中文, English) name of the fund that paid ``line`` of ``record``, as its policy names it."""
    policy = policy_or_none(record)
    payer = next((p for p in policy.payers if p.payer == line.payer), None) if policy else None
    funds = policy.premiums.funds if policy and policy.premiums and record.kind == "premium" else []
    premium = next((f for f in funds if f.payer == line.payer), None)  # a premium subsidy's payer, by its region
    name_zh = premium.name_zh if premium else payer.name_zh if payer else line.payer.value
    return name_zh, labels.PAYER_EN.get(line.payer.value, line.payer.value)


#: a hospital's claim as its window reads it
STATUSES = {
    "settled": ("已结算", "settled"),
    "waiting": ("待结算", "waiting"),
    "rejected": ("已拒绝", "rejected"),
    "cancelled": ("已撤销", "cancelled"),
}


def render(request: web.Request, template: str, status: int = 200, **context) -> web.Response:
    lang = lang_of(request)
    account: Account | None = request.get("account")
    bound = request.get("session_id") or request.get("visitor")
    page = (
        console_of(request)
        .templates.get_template(template)
        .render(
            lang=lang,
            tr=lambda zh, en: zh if lang == "zh" else en,
            account=account,
            here=request.path_qs,
            csrf=console_of(request).signer.csrf_token(bound) if bound else "",
            role_names=roles.ROLE_NAMES,
            nav=_nav(account),
            **context,
        )
    )
    return web.Response(text=page, content_type="text/html", status=status)


def _nav(account: Account | None) -> list[tuple[str, str, str]]:
    """The links of the account's pages: (path, 中文, English)."""
    if account is None:
        return []
    return {
        "caseworker": [("/person", "人员查询", "Person")],
        "hospital": [
            ("/hospital/claims", "本院结算", "Our claims"),
            ("/hospital/presettle", "预结算", "Pre-settlement"),
        ],
        "finance": [
            ("/finance/statement", "月度清算", "Statement"),
            ("/finance/reconcile", "对账", "Reconcile"),
            ("/finance/year-end", "年终清算", "Year-end close"),
        ],
        "auditor": [
            ("/audit", "审计核验", "Audit runs"),
            ("/audit/archive", "输入存档", "Input archive"),
            ("/audit/views", "查阅记录", "Views of persons"),
            ("/audit/actions", "操作记录", "Actions"),
        ],
        "operator": [("/operations", "运行状态", "Operations")],
        "admin": [("/admin/accounts", "账户", "Accounts"), ("/admin/keys", "签名密钥", "Signing keys")],
    }[account.role]


def refused_page(request: web.Request, reason: str, status: int = 403, reason_zh: str | None = None) -> web.Response:
    return render(request, "refused.html", status=status, reason=reason, reason_zh=reason_zh or reason)


# --- who may call what ----------------------------------------------------------------------------------


def allow(*allowed: str) -> Callable[[Handler], Handler]:
    """The roles that may call a handler; anyone else gets 403, and nobody signed in is sent to sign in."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            account = request.get("account")
            if account is None:
                if request.method == "GET":
                    raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")
                raise web.HTTPUnauthorized(text="sign in first")
            if account.role not in allowed:
                raise Refused(
                    f"this page is for {', '.join(allowed)}; you are signed in as {account.role}",
                    f"此页面仅限{'、'.join(roles.ROLE_NAMES[r][0] for r in allowed)}；您的角色是"
                    f"{roles.ROLE_NAMES[account.role][0]}",
                )
            return await handler(request)

        guarded.roles = allowed  # type: ignore[attr-defined]
        return guarded

    return wrap


def safe_next(target: str | None, account: Account | None) -> str:
    """Where to go after signing in or switching language: a path of this site only."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return roles.HOME[account.role] if account else "/login"


SECURITY_HEADERS = {
    # no script at all; inline styles only for the reports' own pages and the charts' SVG
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "script-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    console = console_of(request)
    session_id = console.signer.unsign(request.cookies.get(SESSION_COOKIE))
    account = await console.tables.session(session_id, now()) if session_id else None
    request["account"] = account
    request["session_id"] = session_id if account else None
    visitor = console.signer.unsign(request.cookies.get(VISITOR_COOKIE))
    new_visitor = visitor is None and account is None
    request["visitor"] = new_id() if new_visitor else visitor
    try:
        if request.method == "POST" and not await _csrf_ok(request):
            response = refused_page(
                request,
                "The form has expired or was not sent from this site (its CSRF token is "
                "missing or wrong): open the page again and submit it from there.",
                reason_zh="这个表单已过期或不是本站发出的（缺少或错误的 CSRF 令牌）：请重新打开页面再提交。",
            )
        else:
            response = await handler(request)
    except Refused as refusal:
        response = refused_page(request, refusal.reason, reason_zh=refusal.reason_zh)
    except web.HTTPException as error:
        if error.status == 404 and error.content_type != "text/html":
            response = refused_page(request, error.text or "not found", status=404)
        else:
            raise _with_headers(error, request, new_visitor) from None
    return _with_headers(response, request, new_visitor)


def _with_headers(response, request: web.Request, new_visitor: bool):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if new_visitor:
        response.set_cookie(
            VISITOR_COOKIE,
            console_of(request).signer.sign(request["visitor"]),
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            path="/",
        )
    return response


async def _csrf_ok(request: web.Request) -> bool:
    bound = request["session_id"] or request["visitor"]
    token = request.headers.get("X-CSRF-Token")
    if token is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        token = (await request.post()).get("csrf")
    return console_of(request).signer.csrf_ok(bound, token if isinstance(token, str) else None)
