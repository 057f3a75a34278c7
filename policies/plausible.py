"""Is an input plausible when it arrives? The checks that need its receipt time or the policies.

The schemas refuse what is malformed whenever it is read (an id with "/", an amount written
"1e5", a timestamp without an offset, a date in year 1021); this module refuses, once, at receipt,
what is well formed but cannot be true of a hospital's bill, an authority's change or finance's
close, each with the reason a person can act on:

- a claim whose stay is longer than ONESTOP_MAX_STAY_DAYS (a begndate back-dated by years would
  make categories held then count), whose bill states more than ONESTOP_MAX_AMOUNT, or whose
  discharge is in the future or before its region's first policy period;
- an eligibility change, cancellation or close whose own time is in the future (a grant recorded
  in 9999 could never be revoked: a person's periods fold in recorded_at order);
- a close of a year that had not ended at the close's own time, or that precedes its region's
  first policy period.

"In the future" allows ONESTOP_CLOCK_SKEW_SECONDS, for clocks that disagree. The ceiling is
checked here, at receipt, rather than in the schema, so that lowering it later never makes a claim
already recorded unreadable (the ledger and the audit replay read them again).

Pure: no Kafka, no database; the settings are read once per Limits.from_settings().
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache

from schemas.events import (
    ClaimCancellation,
    DischargeClaim,
    EligibilityChange,
    EnrollmentChange,
    Event,
    PremiumRoll,
    YearEndClose,
)
from schemas.policy import Policy
from schemas.settings import settings

from .loader import policies_of_place, policy_named
from .nhsa import CHINA


@dataclass(frozen=True)
class Limits:
    """What is plausible (the settings of the same names)."""

    max_amount: Decimal  # ONESTOP_MAX_AMOUNT, yuan
    max_stay_days: int  # ONESTOP_MAX_STAY_DAYS
    clock_skew: timedelta  # ONESTOP_CLOCK_SKEW_SECONDS

    @classmethod
    def from_settings(cls) -> "Limits":
        return cls(settings.max_amount, settings.max_stay_days, timedelta(seconds=settings.clock_skew_seconds))


def implausible(event: Event, received_at: datetime, limits: Limits | None = None) -> str | None:
    """Why ``event``, received at ``received_at`` (with its offset), cannot be accepted; None when
    it can. Claims (and pre-settlement requests), eligibility and enrollment changes, cancellations,
    year-end closes and premium rolls are checked; any other event is None. ``limits``: from the
    settings when not given."""
    if received_at.utcoffset() is None:
        raise ValueError(f"received_at {received_at} has no offset")
    limits = limits or Limits.from_settings()
    if isinstance(event, DischargeClaim):
        return _claim(event, received_at, limits)
    if isinstance(event, EligibilityChange):
        return _in_the_future(
            "recorded_at",
            event.recorded_at,
            received_at,
            limits,
            "a change recorded in the future would outrank every later one, even its revocation",
        )
    if isinstance(event, ClaimCancellation):
        return _in_the_future("cancelled_at", event.cancelled_at, received_at, limits, "")
    if isinstance(event, YearEndClose):
        return _close(event, received_at, limits)
    if isinstance(event, EnrollmentChange):
        return _in_the_future(
            "recorded_at",
            event.recorded_at,
            received_at,
            limits,
            "an enrollment change recorded in the future would outrank every later one",
        )
    if isinstance(event, PremiumRoll):
        return _in_the_future("recorded_at", event.recorded_at, received_at, limits, "")
    return None


# --- claims


def _claim(claim: DischargeClaim, received_at: datetime, limits: Limits) -> str | None:
    return (
        _too_much(claim, limits)
        or _too_long(claim, limits)
        or _discharged_later(claim, received_at, limits)
        or _before_first_period(claim)
    )


def _too_much(claim: DischargeClaim, limits: Limits) -> str | None:
    # (the parts add up to medfee_sumamt and none is negative: none is above it)
    if claim.medfee_sumamt > limits.max_amount:
        return (
            f"medfee_sumamt {claim.medfee_sumamt} is above the ceiling of {limits.max_amount} for one bill "
            "(ONESTOP_MAX_AMOUNT): check the amount, or have the ceiling raised if the bill is real"
        )
    return None


def _too_long(claim: DischargeClaim, limits: Limits) -> str | None:
    days = (claim.enddate - claim.begndate).days
    if days > limits.max_stay_days:
        return (
            f"a stay from begndate {claim.begndate} to enddate {claim.enddate} is {days} days; at most "
            f"{limits.max_stay_days} are accepted (ONESTOP_MAX_STAY_DAYS): check begndate (categories held "
            "on its date would count for the claim)"
        )
    return None


def _discharged_later(claim: DischargeClaim, received_at: datetime, limits: Limits) -> str | None:
    # a discharge day begins at midnight China Standard Time, the hospitals' time
    begins = datetime.combine(claim.enddate, time(0), tzinfo=CHINA)
    if begins > received_at + limits.clock_skew:
        return (
            f"enddate {claim.enddate} is in the future: the claim was received at "
            f"{received_at.astimezone(CHINA):%Y-%m-%d %H:%M:%S} China Standard Time; a claim is sent at discharge"
        )
    return None


def _before_first_period(claim: DischargeClaim) -> str | None:
    # (an insured place with no policy at all is refused by intake, with the places known: NoPolicy)
    first = _first_of_place(claim.insuplc_admdvs)
    if first is not None and claim.enddate < first.in_force_from:
        return (
            f"enddate {claim.enddate} is before the first policy period of {first.region} (insured place "
            f"{claim.insuplc_admdvs}), {first.ref} in force from {first.in_force_from}: no rules settle it"
        )
    return None


# --- the times of changes, cancellations and closes


def _in_the_future(field: str, at: datetime, received_at: datetime, limits: Limits, why: str) -> str | None:
    if at > received_at + limits.clock_skew:
        seconds = int(limits.clock_skew.total_seconds())
        return (
            f"{field} {at.isoformat()} is in the future: it was received at {received_at.isoformat()} "
            f"(clocks may disagree by {seconds} s, ONESTOP_CLOCK_SKEW_SECONDS)" + (f"; {why}" if why else "")
        )
    return None


def _close(close: YearEndClose, received_at: datetime, limits: Limits) -> str | None:
    future = _in_the_future(
        "recorded_at", close.recorded_at, received_at, limits, "a close is sent when finance closes the year"
    )
    if future:
        return future
    year_over = date(close.year + 1, 1, 1)
    if close.recorded_at.date() < year_over:  # (in the close's own offset, as finance wrote it)
        return (
            f"the close of {close.year} is recorded at {close.recorded_at.isoformat()}, before the year ended: "
            f"a year is closed from {year_over} on"
        )
    first = _first_policy(close.region)
    if first is not None and close.year < first.in_force_from.year:
        return (
            f"{close.region} has no policy in {close.year}: its first policy period, {first.ref}, is in force "
            f"from {first.in_force_from}; there is no such year to close"
        )
    return None


@cache  # (every claim asks; the policies are loaded once)
def _first_of_place(insuplc_admdvs: str) -> Policy | None:
    """The earliest policy period of any file listing a prefix of the insured place; None when there is none."""
    serving = policies_of_place(insuplc_admdvs)
    return min(serving, key=lambda p: p.in_force_from) if serving else None


@cache
def _first_policy(region_or_city: str) -> Policy | None:
    """The earliest policy period of a region (by name) or pooled city (4 digits); None when it has none."""
    regional = policy_named(region_or_city)
    return min(regional, key=lambda p: p.in_force_from) if regional else None
