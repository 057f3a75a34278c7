"""The console's rules that need no server: passwords, signed cookies and CSRF tokens, scopes and
who may see what, the bars, and that every page but signing in says which roles may call it.
(The pages themselves are tested in a real browser on the live system: tests/live/test_console.py.)"""

from __future__ import annotations

from decimal import Decimal

import pytest

from console.auth import Signer, hash_password, password_matches, password_problem
from console.charts import account_bars
from console.roles import Account, Refused, region_of_division, require_claim, require_person, scope_of
from console.views import admin, audit, finance, hospital, operations, person, session
from console.web import safe_next
from reports.slip import RunningTotal

SECRET = b"s" * 32


def test_a_password_is_hashed_with_argon2id_and_only_it_matches():
    made = hash_password("correct horse battery")
    assert made.startswith("$argon2id$") and "correct" not in made
    assert password_matches(made, "correct horse battery")
    assert not password_matches(made, "correct horse batterx")
    assert not password_matches(None, "correct horse battery")  # no such account
    assert not password_matches("not a hash", "x")
    assert password_problem("short") and password_problem(" leading space ok?") and password_problem("tab\tinside-it-x")
    assert password_problem("twelve chars") is None


def test_a_cookie_or_token_the_server_did_not_sign_is_refused():
    signer = Signer(SECRET)
    cookie = signer.sign("session-1")
    assert signer.unsign(cookie) == "session-1"
    assert signer.unsign(cookie[:-1] + ("A" if cookie[-1] != "A" else "B")) is None
    assert signer.unsign("session-1") is None and signer.unsign(None) is None and signer.unsign(".x") is None
    assert Signer(b"t" * 32).unsign(cookie) is None  # another server's secret
    token = signer.csrf_token("session-1")
    assert signer.csrf_ok("session-1", token)
    assert not signer.csrf_ok("session-2", token)  # bound to its session
    assert not signer.csrf_ok("session-1", None) and not signer.csrf_ok("session-1", "")
    assert token != cookie.rpartition(".")[2]  # a cookie's signature is not a token
    with pytest.raises(ValueError):
        Signer(b"short")


def test_scopes_are_checked_when_an_account_is_made():
    assert scope_of("caseworker", ["zhengzhou, 3708"]) == ("zhengzhou", "jining")  # by name or pooled city
    assert scope_of("hospital", ["H4101021"]) == ("H4101021",)
    assert scope_of("finance", []) == ()
    for role, given, problem in [
        ("caseworker", [], "needs --scope"),
        ("caseworker", ["atlantis"], "no region 'atlantis'"),
        ("hospital", [], "one fixmedins_code"),
        ("hospital", ["A", "B"], "one fixmedins_code"),
        ("hospital", ["H/1"], "holds '/'"),
        ("finance", ["zhengzhou"], "has no scope"),
        ("boss", [], "no role 'boss'"),
    ]:
        with pytest.raises(ValueError, match=problem):
            scope_of(role, given)


def test_who_may_see_a_person_and_a_claim():
    caseworker = Account("cw", "caseworker", ("zhengzhou",))
    hospital = Account("h", "hospital", ("H1",))
    finance = Account("f", "finance", ())
    assert region_of_division("410102") == "zhengzhou" and region_of_division("999999") is None
    # a region whose policy file lists a county's 6 digits (the longest prefix chooses)
    assert region_of_division("500112") == "chongqing_yubei" and region_of_division("500113") is None
    require_person(caseworker, {"zhengzhou", "jining"})
    for account, regions in [
        (caseworker, {"jining"}),
        (caseworker, set()),
        (hospital, {"zhengzhou"}),
        (finance, {"zhengzhou"}),
    ]:
        with pytest.raises(Refused):
            require_person(account, regions)
    require_claim(hospital, "H1")
    require_claim(caseworker, "H9", {"zhengzhou"})
    for account, code, regions in [
        (hospital, "H2", None),
        (hospital, None, None),
        (hospital, "H10", None),
        (caseworker, "H9", {"jining"}),
        (caseworker, "H9", None),
        (finance, "H1", {"zhengzhou"}),
    ]:
        with pytest.raises(Refused):
            require_claim(account, code, regions)


def test_every_page_says_which_roles_may_call_it():
    public = {("GET", "/"), ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("GET", "/lang")}
    found = set()
    for views in (session, person, hospital, finance, audit, operations, admin):
        for route in views.routes:
            found.add((route.method, route.path))
            if (route.method, route.path) not in public:
                assert getattr(route.handler, "roles", None), f"{route.method} {route.path} checks no role"
    assert public <= found


def test_after_signing_in_only_a_page_of_this_site():
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil", "", None):
        assert safe_next(target, None) == "/login"
    assert safe_next("/person?psn_no=P1", None) == "/person?psn_no=P1"


def test_the_bars_show_the_year_against_its_deductible_and_cap():
    total = RunningTotal(
        "critical",
        "城乡居民大病保险",
        "critical-illness insurance",
        Decimal("30330.00"),
        Decimal("7665.00"),
        Decimal("15000.00"),
        False,
        Decimal("300000.00"),
        False,
    )
    drawn = str(account_bars(total))
    assert drawn.startswith("<svg") and "30330.00 / 15000.00" in drawn and "7665.00 / 300000.00" in drawn
    uncapped = RunningTotal("s", "补充", "supplementary", Decimal("0"), Decimal("0"), None, True, None, True)
    assert "0.00 / ∞" in str(account_bars(uncapped))
