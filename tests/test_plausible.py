"""What is well formed but implausible at receipt is refused, each with its reason (policies/plausible.py).

Issue 27, finding 6: a back-dated begndate made a category that ended years ago count; a bill of
999,999,999,999.99 was accepted; a grant recorded in 9999 could never be revoked; a close of 2018
at 1900 paid. (What is malformed whenever it is read — dates in year 1021 or 9999, a timestamp
without an offset, an amount written "1e5" — is refused by the schemas: tests/test_schemas.py.)
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given, settings, strategies as st

from policies.loader import NoPolicy, load_policies, policy_for
from policies.nhsa import CHINA
from policies.plausible import Limits, implausible
from schemas.events import ClaimCancellation, DischargeClaim, EligibilityChange, WakeUp, YearEndClose
from schemas.nhsa import PresettleRequest

#: when the inputs below are received (Beijing: 2026-12-06 20:00)
RECEIVED = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
LIMITS = Limits(max_amount=D("10000000.00"), max_stay_days=366, clock_skew=timedelta(seconds=300))

CLAIM = {  # Guang'an (pooled city 5116, its first policy period from 2018-01-01)
    "claim_id": "C-1",
    "psn_no": "P-1",
    "insutype": "390",
    "insuplc_admdvs": "511602",
    "mdtrtarea_admvs": "511602",
    "med_type": "21",
    "hosp_lv": "2",
    "referral": False,
    "begndate": "2024-03-01",
    "enddate": "2024-03-10",
    "dise_codg": "C34.9",
    "medfee_sumamt": "1000.00",
    "fulamt_ownpay_amt": "100.00",
    "overlmt_selfpay": "0.00",
    "preselfpay_amt": "50.00",
    "inscp_scp_amt": "850.00",
}


def claim(**changes) -> DischargeClaim:
    return DischargeClaim.model_validate({**CLAIM, **changes})


def bill(total: str) -> dict:
    """A bill of ``total``, all of it in scope."""
    return {
        "medfee_sumamt": total,
        "fulamt_ownpay_amt": "0",
        "overlmt_selfpay": "0",
        "preselfpay_amt": "0",
        "inscp_scp_amt": total,
    }


def why(event, received_at: datetime = RECEIVED, limits: Limits = LIMITS) -> str | None:
    return implausible(event, received_at, limits)


def test_an_ordinary_claim_is_plausible():
    assert why(claim()) is None


# --- the stay


def test_a_stay_longer_than_the_limit_is_refused_with_its_length():
    reason = why(claim(begndate="2023-03-08", enddate="2024-03-10"))  # 368 days
    assert reason is not None
    for words in ("begndate 2023-03-08", "enddate 2024-03-10", "368 days", "at most 366", "ONESTOP_MAX_STAY_DAYS"):
        assert words in reason, (words, reason)


def test_a_stay_of_exactly_the_limit_is_accepted():
    assert why(claim(begndate="2023-03-10", enddate="2024-03-10")) is None  # 366 days (2024 is a leap year)
    assert "367 days" in why(claim(begndate="2023-03-09", enddate="2024-03-10"))


def test_the_finding_a_begndate_back_dated_by_years_is_refused():
    reason = why(claim(begndate="2019-01-01", enddate="2024-03-10"))
    assert reason is not None and "1895 days" in reason and "check begndate" in reason


# --- the amount


def test_a_bill_above_the_ceiling_is_refused_with_the_ceiling():
    reason = why(claim(**bill("10000000.01")))
    assert reason == (
        "medfee_sumamt 10000000.01 is above the ceiling of 10000000.00 for one bill (ONESTOP_MAX_AMOUNT): "
        "check the amount, or have the ceiling raised if the bill is real"
    )
    assert why(claim(**bill("10000000.00"))) is None


def test_the_finding_a_bill_of_almost_a_trillion_is_refused():
    # (well formed: the schema takes 12 digits before the point; implausible: refused at receipt)
    assert "medfee_sumamt 999999999999.99 is above the ceiling" in why(claim(**bill("999999999999.99")))


def test_the_ceiling_is_the_setting(monkeypatch):
    monkeypatch.setenv("ONESTOP_MAX_AMOUNT", "500")
    assert "above the ceiling of 500.00" in implausible(claim(), RECEIVED)  # a bill of 1000.00
    monkeypatch.setenv("ONESTOP_MAX_AMOUNT", "1000")
    assert implausible(claim(), RECEIVED) is None


# --- the discharge date


def test_a_discharge_tomorrow_is_refused():
    reason = why(
        claim(begndate="2026-12-01", enddate="2026-12-07"), received_at=datetime(2026, 12, 5, 12, tzinfo=timezone.utc)
    )
    assert reason == (
        "enddate 2026-12-07 is in the future: the claim was received at 2026-12-05 20:00:00 China Standard "
        "Time; a claim is sent at discharge"
    )


def test_a_discharge_today_in_beijing_is_accepted_while_it_is_still_yesterday_in_utc():
    # 2026-12-06 17:00 UTC is 2026-12-07 01:00 in Beijing: a discharge on the 7th is today's
    received = datetime(2026, 12, 6, 17, tzinfo=timezone.utc)
    assert why(claim(begndate="2026-12-01", enddate="2026-12-07"), received_at=received) is None
    assert "enddate 2026-12-08 is in the future" in why(
        claim(begndate="2026-12-01", enddate="2026-12-08"), received_at=received
    )


def test_a_discharge_within_the_clock_skew_is_accepted():
    # received four minutes before midnight in Beijing: a hospital clock a little ahead already says the 7th
    received = datetime(2026, 12, 7, tzinfo=CHINA) - timedelta(minutes=4)
    tomorrow = claim(begndate="2026-12-01", enddate="2026-12-07")
    assert why(tomorrow, received_at=received) is None
    assert "in the future" in why(tomorrow, received_at=received, limits=Limits(D("10000000.00"), 366, timedelta(0)))


def test_a_discharge_before_the_regions_first_policy_period_says_so():
    reason = why(claim(begndate="2017-12-20", enddate="2017-12-31"))
    assert reason == (
        "enddate 2017-12-31 is before the first policy period of guangan (insured place 511602), "
        "guangan/2018/v1 in force from 2018-01-01: no rules settle it"
    )
    assert why(claim(begndate="2017-12-20", enddate="2018-01-01")) is None  # (a stay across it: the discharge counts)


def test_a_place_with_no_policy_at_all_is_left_to_intake_which_names_the_places_known():
    unknown = claim(insuplc_admdvs="999999", mdtrtarea_admvs="999999")
    assert why(unknown) is None
    with pytest.raises(NoPolicy, match="no policy for insured place 999999"):
        policy_for(unknown.insuplc_admdvs, unknown.enddate)


def test_a_pre_settlement_request_is_checked_as_a_claim():
    request = PresettleRequest.model_validate({**CLAIM, "begndate": "2020-01-01", "request_id": "window-7"})
    assert "1530 days" in why(request)


# --- the times of grants, cancellations and closes


def grant(recorded_at: str) -> EligibilityChange:
    return EligibilityChange.model_validate(
        {
            "event_id": "E-1",
            "psn_no": "P-1",
            "category": "dibao",
            "action": "grant",
            "valid_from": "2024-01-01",
            "authority": "civil_affairs",
            "recorded_at": recorded_at,
        }
    )


def cancellation(cancelled_at: str) -> ClaimCancellation:
    return ClaimCancellation.model_validate(
        {"event_id": "X-1", "claim_id": "C-1", "psn_no": "P-1", "cancelled_at": cancelled_at}
    )


def close(year: int, recorded_at: str, region: str = "zhengzhou") -> YearEndClose:
    return YearEndClose.model_validate({"event_id": "Y-1", "region": region, "year": year, "recorded_at": recorded_at})


def test_a_grant_recorded_in_the_future_is_refused_it_could_never_be_revoked():
    reason = why(grant("2100-01-01T00:00:00+00:00"))
    assert reason == (
        "recorded_at 2100-01-01T00:00:00+00:00 is in the future: it was received at 2026-12-06T12:00:00+00:00 "
        "(clocks may disagree by 300 s, ONESTOP_CLOCK_SKEW_SECONDS); a change recorded in the future would "
        "outrank every later one, even its revocation"
    )


@pytest.mark.parametrize(
    "make, field", [(grant, "recorded_at"), (cancellation, "cancelled_at"), (lambda at: close(2025, at), "recorded_at")]
)
def test_an_own_time_beyond_the_clock_skew_is_refused_and_within_it_accepted(make, field):
    assert why(make("2026-12-06T12:05:00+00:00")) is None  # 300 s ahead
    assert why(make("2026-12-06T20:05:00+08:00")) is None  # the same moment, in Beijing's offset
    reason = why(make("2026-12-06T12:05:01+00:00"))
    assert reason is not None and reason.startswith(f"{field} 2026-12-06T12:05:01+00:00 is in the future")


def test_a_close_of_a_year_not_yet_over_is_refused():
    reason = why(close(2026, "2026-12-06T10:00:00+00:00"))
    assert reason == (
        "the close of 2026 is recorded at 2026-12-06T10:00:00+00:00, before the year ended: "
        "a year is closed from 2027-01-01 on"
    )


def test_the_finding_a_close_of_2018_at_1900_is_refused():
    assert "before the year ended" in why(close(2018, "1900-01-01T00:00:00+00:00"))


def test_a_close_after_its_year_is_accepted_at_its_own_time():
    assert why(close(2018, "2019-01-01T00:00:00+08:00")) is None
    assert why(close(2018, "2026-11-30T09:00:00+08:00")) is None  # closed late: plausible


def test_a_close_of_a_year_before_the_regions_first_policy_period_is_refused():
    reason = why(close(2017, "2018-01-05T09:00:00+08:00"))
    assert reason == (
        "zhengzhou has no policy in 2017: its first policy period, zhengzhou/2018/v1, is in force from "
        "2018-01-01; there is no such year to close"
    )
    assert why(close(2018, "2019-01-05T09:00:00+08:00")) is None
    assert why(close(2017, "2018-01-05T09:00:00+08:00", region="nowhere")) is None  # (the year_end worker names it)


def test_other_events_are_not_its_business():
    assert why(WakeUp(psn_no="P-1")) is None


def test_the_receipt_time_must_carry_its_offset():
    with pytest.raises(ValueError, match="has no offset"):
        implausible(claim(), datetime(2026, 12, 6, 12))


def test_the_limits_are_the_settings(monkeypatch):
    monkeypatch.setenv("ONESTOP_MAX_STAY_DAYS", "10")
    monkeypatch.setenv("ONESTOP_CLOCK_SKEW_SECONDS", "0")
    assert Limits.from_settings() == Limits(D("10000000.00"), 10, timedelta(0))
    assert "9 days" not in (implausible(claim(), RECEIVED) or "")  # a stay of 9 days
    assert "11 days; at most 10" in implausible(claim(begndate="2024-02-28"), RECEIVED)
    assert implausible(grant("2026-12-06T12:00:01+00:00"), RECEIVED).startswith("recorded_at")


# --- properties


FIRST = {
    code: min(q.in_force_from for q in load_policies() if code in q.codes) for p in load_policies() for code in p.codes
}
PLACES = sorted(FIRST)


@settings(max_examples=300, deadline=None)
@given(
    city=st.sampled_from(PLACES),
    stay=st.integers(0, 800),
    end=st.dates(date(2000, 1, 1), date(2028, 12, 31)),
    received=st.datetimes(datetime(2015, 1, 1), datetime(2030, 1, 1), timezones=st.just(timezone.utc)),
)
def test_a_claim_is_refused_exactly_when_one_rule_says_so_and_a_plausible_one_has_a_policy(city, stay, end, received):
    begin = end - timedelta(days=stay)
    if begin < date(1900, 1, 1):
        return
    insured = city + "0101"[: 6 - len(city)]  # (a place the policy listing ``city`` is for)
    c = claim(insuplc_admdvs=insured, begndate=begin.isoformat(), enddate=end.isoformat())
    reason = why(c, received_at=received)
    too_long = stay > 366
    too_late = datetime.combine(end, datetime.min.time(), tzinfo=CHINA) > received + timedelta(seconds=300)
    too_early = end < FIRST[city]
    assert (reason is None) == (not (too_long or too_late or too_early)), reason
    if too_long:
        assert f"{stay} days" in reason
    elif too_late:
        assert "is in the future" in reason
    elif too_early:
        assert "before the first policy period" in reason
    else:
        policy_for(c.insuplc_admdvs, c.enddate)  # (a plausible claim's place and day have a policy: no NoPolicy)


@given(
    year=st.integers(2000, 2100),
    at=st.datetimes(
        datetime(1900, 1, 1),
        datetime(2100, 12, 31),
        timezones=st.sampled_from([timezone.utc, CHINA, timezone(timedelta(hours=-5))]),
    ),
)
def test_a_close_is_refused_exactly_when_its_year_is_not_over_at_its_own_time_or_it_is_in_the_future(year, at):
    reason = why(close(year, at.isoformat()), received_at=datetime(2100, 12, 31, 23, tzinfo=timezone.utc))
    over = at.date() >= date(year + 1, 1, 1)
    future = at > datetime(2100, 12, 31, 23, 5, tzinfo=timezone.utc)
    assert (reason is None) == (over and not future and year >= 2018), (year, at, reason)


@pytest.mark.parametrize(
    "name, text",
    [
        ("ONESTOP_MAX_AMOUNT", "1e30"),
        ("ONESTOP_MAX_AMOUNT", "12.345"),
        ("ONESTOP_MAX_AMOUNT", "0"),
        ("ONESTOP_MAX_STAY_DAYS", "0"),
        ("ONESTOP_CLOCK_SKEW_SECONDS", "-1"),
    ],
)
def test_a_limit_set_to_what_cannot_be_one_is_refused_naming_the_setting(monkeypatch, name, text):
    monkeypatch.setenv(name, text)
    with pytest.raises(ValueError, match=f"^{name}='{re.escape(text)}': "):
        Limits.from_settings()
