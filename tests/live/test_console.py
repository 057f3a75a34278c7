"""The web console in a real browser (Debian's chromium driven by Playwright), on the live system:
each role signs in to its own pages and is refused the others'; a person's amounts are the
ledger's; a hospital gets 403 for another hospital's claim and slip, page and download; a
caseworker of one region for a person of another; the statement is `onestop finance statement`'s;
pre-settlement of a worked case gives its expected amounts; the year-end close needs confirming and
is recorded; a form posted without its CSRF token is refused; wrong passwords lock an account.

The console runs as `onestop console` does, in its own process, as its own database role. Each
page is photographed: into a temporary folder, or into docs/console/ (the pictures docs/console.md
shows) when the run is asked to retake them (`CONSOLE_PICTURES=docs/console pytest tests/live/test_console.py`),
so that a test run leaves the tree as it found it."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from pypdf import PdfReader

from cli import main
from cli.files import events_of
from cli.keys import register_key
from reports.render.pdf import yuan
from reports.statement import month_of
from schemas.events import DischargeClaim, EligibilityChange
from schemas.money import format_yuan
from store.reading import every
from store.waiting import identities_recorded, settled_claims
from streams.codecs import encode
from streams.publisher import publish
from streams.signing import new_key
from streams.topics import DISCHARGED, ELIGIBILITY

from .test_finance import renamed

ROOT = Path(__file__).resolve().parents[2]
PICTURES = (
    Path(os.environ["CONSOLE_PICTURES"])
    if os.environ.get("CONSOLE_PICTURES")
    else Path(tempfile.mkdtemp(prefix="onestop-console-pictures-"))
)
CHROMIUM = "/usr/bin/chromium"
TIMEOUT = 180.0
PASSWORD = "correct horse battery staple"


@dataclass
class Console:
    url: str
    tag: str
    browser: Browser
    live: object
    zz: object  # a Zhengzhou person, two claims settled at hospital HCZ<tag>, the third kept for pre-settlement
    third: DischargeClaim
    jn: object  # a Jining person, claims at hospital HCJ<tag>
    accounts: dict[str, str]  # role (and variants) -> account name
    bureau_key_id: str
    store: object  # the owner's store, to read the ledger as it is

    async def signed_in(self, who: str, viewport: tuple[int, int] = (1366, 768)) -> tuple[BrowserContext, Page]:
        context = await self.browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="zh-CN")
        page = await context.new_page()
        await sign_in(page, self.url, self.accounts[who], PASSWORD)
        return context, page


async def sign_in(page: Page, url: str, name: str, password: str):
    await page.goto(f"{url}/login")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", password)
    async with page.expect_navigation():
        await page.click("form[action='/login'] button[type=submit]")


async def picture(page: Page, name: str, full: bool = True) -> None:
    PICTURES.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(PICTURES / f"{name}.png"), full_page=full)


async def onestop(live, *args: str, stdin: str | None = None):
    """`onestop …` against the live system (in a thread: it runs its own event loop)."""
    env = {"ONESTOP_DATABASE_URL": live.database, "ONESTOP_KAFKA": live.kafka}
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), input=stdin, env=env, catch_exceptions=False)


def _console_process(live, home: Path, key_file: Path) -> tuple[subprocess.Popen, str]:
    """`onestop console --port 0`, and its address once it listens."""
    env = {
        **os.environ,
        "ONESTOP_DATABASE_URL": live.database,
        "ONESTOP_KAFKA": live.kafka,
        "ONESTOP_HOME": str(home),
        "ONESTOP_CONSOLE_BUREAU_KEY": str(key_file),
        "PYTHONPATH": str(ROOT),
    }
    address = home / ".onestop" / "console.json"
    address.unlink(missing_ok=True)
    log = open(home / "console.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "cli", "console", "--port", "0"], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if address.is_file():
            return process, orjson.loads(address.read_bytes())["url"]
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"the console did not start: {(home / 'console.log').read_text()[-3000:]}")


@pytest.fixture(scope="module")
async def console(live_system, store, tmp_path_factory):
    tag = uuid.uuid4().hex[:6].upper()
    zz = renamed("zhengzhou-dibao-deferred-then-paid", f"-C{tag}", f"HCZ{tag}")
    jn = renamed("jining-tekun-caps", f"-C{tag}", f"HCJ{tag}")
    third = zz.claims[2]
    zz = zz.model_copy(update={"claims": zz.claims[:2]})
    grants, claims = events_of([zz, jn])
    before = (await store.counts())["identity_events"]
    await publish(live_system.kafka, ELIGIBILITY, grants, EligibilityChange)
    await identities_recorded(store, before + len(grants), TIMEOUT)
    await publish(live_system.kafka, DISCHARGED, claims, DischargeClaim)
    await settled_claims(store, {c.claim_id for case in (zz, jn) for c in case.claims}, TIMEOUT)

    # the bureau's key, registered on proof, held by the console's server
    folder = tmp_path_factory.mktemp("console")
    key = new_key(f"bureau-C{tag}", "authority", "medical_insurance")
    await register_key(store, key, datetime(2000, 1, 1, tzinfo=timezone.utc))
    key_file = folder / "bureau.key.json"
    key_file.write_bytes(key.model_dump_json().encode())

    accounts = {
        "caseworker": f"cw-zz-{tag}",
        "caseworker-jn": f"cw-jn-{tag}",
        "hospital": f"h-zz-{tag}",
        "hospital-jn": f"h-jn-{tag}",
        "finance": f"fin-{tag}",
        "auditor": f"aud-{tag}",
        "operator": f"ops-{tag}",
        "admin": f"adm-{tag}",
        "locked": f"lock-{tag}",
    }
    scopes = {
        "caseworker": ["--scope", "zhengzhou"],
        "caseworker-jn": ["--scope", "jining"],
        "hospital": ["--scope", f"HCZ{tag}"],
        "hospital-jn": ["--scope", f"HCJ{tag}"],
    }
    for who, name in accounts.items():
        role = who.split("-")[0] if who != "locked" else "finance"
        made = await onestop(
            live_system,
            "console",
            "user",
            "add",
            name,
            "--role",
            role,
            *scopes.get(who, []),
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        assert made.exit_code == 0, made.output
    refused = await onestop(
        live_system,
        "console",
        "user",
        "add",
        f"x-{tag}",
        "--role",
        "caseworker",
        "--scope",
        "atlantis",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert refused.exit_code != 0 and "no region 'atlantis'" in refused.output

    # the console beside the live system's workers (their metrics addresses are in the same home)
    process, url = await asyncio.to_thread(
        _console_process, live_system, Path(live_system.workers.extra_env["ONESTOP_HOME"]), key_file
    )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield Console(url, tag, browser, live_system, zz, third, jn, accounts, key.key_id, store)
        finally:
            await browser.close()
            process.terminate()
            await asyncio.to_thread(process.wait, 20)


async def test_each_role_signs_in_to_its_own_pages_and_is_refused_the_others(console):
    homes = {
        "caseworker": "/person",
        "hospital": "/hospital/claims",
        "finance": "/finance/statement",
        "auditor": "/audit",
        "operator": "/operations",
        "admin": "/admin/accounts",
    }
    context = await console.browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    answer = await page.goto(f"{console.url}/finance/statement")
    assert page.url.startswith(f"{console.url}/login")  # nobody signed in: sent to sign in
    await picture(page, "login", full=False)
    await context.close()
    for role, home in homes.items():
        context, page = await console.signed_in(role)
        assert page.url == f"{console.url}{home}", (role, page.url)
        for other, elsewhere in homes.items():
            if other != role:
                answer = await page.goto(f"{console.url}{elsewhere}")
                assert answer.status == 403, (role, elsewhere, answer.status)
        if role == "hospital":
            await picture(page, "refused", full=False)  # the last one refused: the administrator's accounts
        await page.click("form[action='/logout'] button")
        answer = await page.goto(f"{console.url}{home}")
        assert page.url.startswith(f"{console.url}/login")  # signed out: the session is over
        await context.close()


async def test_the_person_page_shows_the_ledgers_amounts_and_the_view_is_recorded(console, store):
    context, page = await console.signed_in("caseworker")
    psn_no = console.zz.person.psn_no
    await page.fill("input[name=psn_no]", psn_no)
    async with page.expect_navigation():
        await page.click("form.search button")
    assert await page.inner_text("#psn") == psn_no
    assert "dibao" in await page.inner_text("#categories")
    records = [r for _, r in await store.settlements(limit=1_000_000, psn_no=psn_no)]
    assert {r.kind for r in records} >= {"settlement"}
    for record in records:
        if record.kind != "settlement":
            continue
        claim = page.locator(f"[id='claim-{record.claim_id}']")
        shown = {
            await cell.get_attribute("data-payer"): await cell.inner_text()
            for cell in await claim.locator(".amount").all()
        }
        assert shown == {line.payer.value: format_yuan(line.amount) for line in record.payments}
        assert await claim.locator(".medfee").first.inner_text() == format_yuan(record.medfee_sumamt)
        assert await claim.locator(".fund").first.inner_text() == format_yuan(record.fund_pay_sumamt)
        assert await claim.locator(".psn").first.inner_text() == format_yuan(record.psn_part_amt)
    assert await page.locator("svg.bars").count() >= 1  # the year against its deductibles and caps
    answer = await page.goto(f"{console.url}/person?psn_no={psn_no}&as_known_at=2000-01-01")
    assert answer.status == 200 and "dibao" not in await page.inner_text(
        "#categories"
    )  # nothing granted was known then
    await page.goto(f"{console.url}/person?psn_no={psn_no}")
    await picture(page, "person")
    await page.click("text=English")
    assert "Categories" in await page.inner_text("main")
    await picture(page, "person-en", full=False)
    await page.click("text=中文")
    await context.close()

    # the auditor reads who looked at whom
    context, page = await console.signed_in("auditor")
    await page.goto(f"{console.url}/audit/views?psn_no={psn_no}")
    rows = await page.inner_text("#views")
    assert console.accounts["caseworker"] in rows and psn_no in rows
    await picture(page, "views", full=False)
    await context.close()


async def test_a_hospital_sees_its_own_claims_and_slips_only(console):
    tag, zz, jn = console.tag, console.zz, console.jn
    context, page = await console.signed_in("hospital")
    listed = await page.inner_text("#claims")
    assert all(c.claim_id in listed for c in zz.claims) and not any(c.claim_id in listed for c in jn.claims)
    await picture(page, "hospital-claims", full=False)
    ours = zz.claims[1]
    answer = await page.goto(f"{console.url}/slip/HCZ{tag}/{ours.claim_id}")
    assert answer.status == 200
    await page.wait_for_timeout(500)
    await picture(page, "slip", full=False)
    pdf = await page.request.get(f"{console.url}/slip/HCZ{tag}/{ours.claim_id}/slip.pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(await pdf.body())).pages[0].extract_text()
    settled = next(r for r in await console.store.records_of(ours.key) if r.kind == "settlement")
    assert all(
        yuan(amount) in text for amount in (settled.medfee_sumamt, settled.fund_pay_sumamt, settled.psn_part_amt)
    )

    theirs = jn.claims[0]
    for path in (f"/slip/HCJ{tag}/{theirs.claim_id}", f"/slip/HCJ{tag}/{theirs.claim_id}/slip.html"):
        answer = await page.goto(console.url + path)
        assert answer.status == 403, path
    download = await page.request.get(f"{console.url}/slip/HCJ{tag}/{theirs.claim_id}/slip.pdf")
    assert download.status == 403 and not (await download.body()).startswith(b"%PDF")
    # its own code with another hospital's claim id finds nothing of theirs
    answer = await page.goto(f"{console.url}/slip/HCZ{tag}/{theirs.claim_id}")
    assert answer.status == 404
    await context.close()


async def test_a_caseworker_of_one_region_is_refused_a_person_of_another(console):
    context, page = await console.signed_in("caseworker-jn")
    answer = await page.goto(f"{console.url}/person?psn_no={console.zz.person.psn_no}")
    assert answer.status == 403
    assert "此人不属于您的统筹区（jining）" in await page.inner_text("#problem")
    claim = console.zz.claims[0]
    for path in (f"/slip/HCZ{console.tag}/{claim.claim_id}", f"/slip/HCZ{console.tag}/{claim.claim_id}/slip.pdf"):
        answer = await page.request.get(console.url + path)
        assert answer.status == 403, path
    answer = await page.goto(f"{console.url}/person?psn_no={console.jn.person.psn_no}")
    assert answer.status == 200  # a person of its own region
    await context.close()


async def test_the_statement_is_the_commands(console):
    records = [
        r for _, r in await console.store.settlements(limit=1_000_000) if r.fixmedins_code == f"HCZ{console.tag}"
    ]
    month = month_of(records[0].settled_at)
    context, page = await console.signed_in("finance")
    hospital = f"HCZ{console.tag}"
    await page.goto(f"{console.url}/finance/statement?month={month}&hospital={hospital}")
    shown = Decimal(await page.inner_text("#net"))
    cli = json.loads(
        (
            await onestop(
                console.live, "finance", "statement", "--month", month, "--hospital", hospital, "--format", "json"
            )
        ).output
    )
    assert shown == Decimal(cli["net_payable"]) == sum((r.fund_pay_sumamt for r in records), start=Decimal(0))
    csv = await page.request.get(f"{console.url}/finance/statement.csv?month={month}&hospital={hospital}")
    assert (await csv.body()).decode() == (
        await onestop(console.live, "finance", "statement", "--month", month, "--hospital", hospital, "--format", "csv")
    ).output
    pdf = await page.request.get(f"{console.url}/finance/statement.pdf?month={month}&hospital={hospital}")
    assert (await pdf.body()).startswith(b"%PDF")
    for _ in range(3):  # every hospital: the same unless a record was made between the two readings
        await page.goto(f"{console.url}/finance/statement?month={month}")
        everyone = Decimal(await page.inner_text("#net"))
        cli = json.loads(
            (await onestop(console.live, "finance", "statement", "--month", month, "--format", "json")).output
        )
        if everyone == Decimal(cli["net_payable"]):
            break
    assert everyone == Decimal(cli["net_payable"])
    assert await page.locator(".chart svg").count() == 1
    await picture(page, "statement", full=False)
    await context.close()


async def test_reconciliation_lists_the_differences(console, tmp_path):
    hospital = f"HCJ{console.tag}"
    records = [r for _, r in await console.store.settlements(limit=1_000_000) if r.fixmedins_code == hospital]
    first = records[0]
    rows = [
        f"{first.settlement_id},{first.medfee_sumamt},{first.fund_pay_sumamt + Decimal('0.01')},"
        f"{first.psn_part_amt - Decimal('0.01')}"
    ] + [f"{r.settlement_id},{r.medfee_sumamt},{r.fund_pay_sumamt},{r.psn_part_amt}" for r in records[1:]]
    listed = tmp_path / "hospital.csv"
    listed.write_text("setl_id,medfee_sumamt,fund_pay_sumamt,psn_part_amt\n" + "\n".join(rows) + "\n")
    context, page = await console.signed_in("finance")
    await page.goto(f"{console.url}/finance/reconcile")
    await page.fill("input[name=hospital]", hospital)
    await page.fill("input[name=from]", "2000-01-01")
    await page.fill("input[name=to]", "2100-12-31")
    await page.set_input_files("input[name=file]", str(listed))
    async with page.expect_navigation():
        await page.click("form button[type=submit] >> nth=-1")
    differences = await page.inner_text("#differences")
    assert first.settlement_id in differences and "fund_pay_sumamt 0.01" in differences
    assert "不一致" in await page.inner_text("#verdict")
    await picture(page, "reconcile", full=False)
    await context.close()


async def test_presettlement_of_a_worked_case_gives_its_expected_amounts(console):
    third = console.third
    expected = next(e for e in console_case_expect(console) if third.claim_id.startswith(e.claim_id))
    context, page = await console.signed_in("hospital", viewport=(1366, 900))
    await page.goto(f"{console.url}/hospital/presettle")
    bill = orjson.loads(encode(third))
    for name in (
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
    ):
        await page.fill(f"#bill input[name={name}]", str(bill[name]))
    async with page.expect_navigation():
        await page.click("#bill button[type=submit]")
    reply = page.locator("#reply-1")
    shown = {
        await cell.get_attribute("data-payer"): await cell.inner_text() for cell in await reply.locator(".amount").all()
    }
    assert {payer: amount for payer, amount in shown.items() if amount != "0.00"} == {
        getattr(payer, "value", payer): format_yuan(amount) for payer, amount in expected.payments.items() if amount
    }
    assert await reply.locator(".psn").inner_text() == format_yuan(expected.personal)
    await picture(page, "presettle")
    store = console.store
    assert not [
        r for _, r in await store.settlements(limit=1_000_000, psn_no=third.psn_no) if r.claim_id == third.claim_id
    ]
    await context.close()


def console_case_expect(console):
    from tests.shared_cases import CASES_DIR, load_case

    return load_case(CASES_DIR / "zhengzhou-dibao-deferred-then-paid.json").expect


async def test_a_form_posted_without_its_csrf_token_is_refused(console):
    context, page = await console.signed_in("finance")
    before = await _closes(console)
    for form in (
        {"region": "zhengzhou", "year": "2018", "confirm": "yes"},
        {"region": "zhengzhou", "year": "2018", "confirm": "yes", "csrf": "forged"},
    ):
        answer = await page.request.post(f"{console.url}/finance/year-end", form=form)
        assert answer.status == 403 and "CSRF" in await answer.text()
    assert await _closes(console) == before  # nothing was published
    await context.close()


async def _closes(console) -> list:
    return [a for a in await console_actions(console) if a["action"] == "year-end close"]


async def console_actions(console) -> list[dict]:
    import asyncpg

    conn = await asyncpg.connect(console.live.database)
    try:
        return [
            dict(r) for r in await conn.fetch("SELECT account, action, detail::text AS detail FROM console_actions")
        ]
    finally:
        await conn.close()


async def test_the_year_end_close_asks_for_confirmation_is_signed_and_recorded(console):
    store = console.store
    context, page = await console.signed_in("finance")
    await page.goto(f"{console.url}/finance/year-end")
    await page.select_option("select[name=region]", "zhengzhou")
    await page.fill("input[name=year]", "2018")
    closes_before = {a.place for a in await every(store.inputs) if a.kind == "close"}
    async with page.expect_navigation():
        await page.click("#close-form button")
    assert await page.locator("#confirm").count() == 1  # asked, not done
    await picture(page, "year-end-confirm", full=False)
    await asyncio.sleep(2)
    assert not [a for a in await _closes(console) if a["account"] == console.accounts["finance"]]
    async with page.expect_navigation():
        await page.click("#confirm button[name=confirm]")
    assert "year-end.zhengzhou.2018" in await page.inner_text("#done")
    recorded = [a for a in await _closes(console) if a["account"] == console.accounts["finance"]]
    assert len(recorded) == 1 and console.bureau_key_id in recorded[0]["detail"]
    assert console.accounts["finance"] in await page.inner_text("#closes")
    # the close came in signed by the bureau's key and took effect: the Zhengzhou person's year-end record
    deadline = time.monotonic() + TIMEOUT
    wanted = f"year-end/zhengzhou/2018/{console.zz.person.psn_no}/year_end"
    while time.monotonic() < deadline:
        if any(
            r.settlement_id == wanted
            for _, r in await store.settlements(limit=1_000_000, psn_no=console.zz.person.psn_no)
        ):
            break
        await asyncio.sleep(0.5)
    else:
        raise AssertionError(f"no {wanted} within {TIMEOUT:.0f}s")
    closes = [a for a in await every(store.inputs) if a.kind == "close" and a.place not in closes_before]
    assert closes and all(a.outcome != "rejected" for a in closes), [(a.outcome, a.reason) for a in closes]
    await context.close()


async def test_wrong_passwords_lock_the_account(console):
    context = await console.browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    name = console.accounts["locked"]
    for attempt in range(5):
        await sign_in(page, console.url, name, "not the password")
        problem = await page.inner_text("#problem")
        assert ("锁定至" in problem) == (attempt == 4), (attempt, problem)
    await sign_in(page, console.url, name, PASSWORD)
    assert page.url.startswith(f"{console.url}/login") and "锁定至" in await page.inner_text("#problem")
    await picture(page, "locked", full=False)
    unlocked = await onestop(console.live, "console", "user", "unlock", name)
    assert unlocked.exit_code == 0, unlocked.output
    await sign_in(page, console.url, name, PASSWORD)
    assert page.url == f"{console.url}/finance/statement"
    await context.close()
    actions = [a["action"] for a in await console_actions(console) if a["account"] == name]
    assert actions.count("sign-in refused") >= 5 and "account locked" in actions


async def test_the_auditor_runs_verify_and_browses_the_archive(console):
    context, page = await console.signed_in("auditor")
    async with page.expect_navigation():
        await page.click("#run-verify button")
    deadline = time.monotonic() + TIMEOUT
    while "运行中" in await page.inner_text("#state") and time.monotonic() < deadline:
        await asyncio.sleep(1)
        await page.goto(page.url)
    assert "账本不变式全部成立" in await page.inner_text("#verdict")
    await picture(page, "audit-verify", full=False)
    await page.goto(f"{console.url}/audit/archive?outcome=accepted")
    assert "claims.discharged" in await page.inner_text("#archive")
    await picture(page, "archive", full=False)
    await context.close()


async def test_the_operator_sees_the_workers_and_the_admin_the_accounts_and_keys(console):
    context, page = await console.signed_in("operator")
    processes = await page.inner_text("#processes")
    assert "ledger" in processes and "intake" in processes and "异常" not in processes
    await picture(page, "operations", full=False)
    await context.close()
    context, page = await console.signed_in("admin")
    assert console.accounts["hospital"] in await page.inner_text("#accounts")
    await page.fill("#add-account input[name=name]", f"new-{console.tag}")
    await page.select_option("#add-account select[name=role]", "caseworker")
    await page.fill("#add-account input[name=scope]", "atlantis")
    await page.fill("#add-account input[name=password]", PASSWORD)
    async with page.expect_navigation():
        await page.click("#add-account button")
    assert "no region 'atlantis'" in await page.inner_text("#problem")
    await page.fill("#add-account input[name=name]", f"new-{console.tag}")
    await page.select_option("#add-account select[name=role]", "caseworker")
    await page.fill("#add-account input[name=scope]", "zhangye")
    await page.fill("#add-account input[name=password]", PASSWORD)
    async with page.expect_navigation():
        await page.click("#add-account button")
    assert f"new-{console.tag}" in await page.inner_text("#accounts")
    await picture(page, "accounts", full=False)
    await page.goto(f"{console.url}/admin/keys")
    assert console.bureau_key_id in await page.inner_text("#keys")
    await context.close()


async def test_the_consoles_database_role_reads_what_it_shows_and_writes_only_its_own_tables(console):
    import asyncpg

    from runtime.endpoints import console_url

    conn = await asyncpg.connect(console_url(console.live.database))
    try:
        assert await conn.fetchval("SELECT current_user") == "onestop_console"
        assert await conn.fetchval("SELECT count(*) FROM settlements") > 0
        for statement in (
            "INSERT INTO settlements (settlement_id) VALUES ('forged')",
            "UPDATE year_totals SET paid = 0",
            "DELETE FROM inputs",
            "INSERT INTO signing_keys (key_id) VALUES ('forged')",
            "SELECT * FROM key_challenges",
            "UPDATE console_person_views SET psn_no = 'someone else'",
            "DELETE FROM console_person_views",
            "DELETE FROM console_actions",
            "UPDATE console_actions SET account = 'someone else'",
            "UPDATE console_accounts SET role = 'admin'",
            "DELETE FROM console_accounts",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()
