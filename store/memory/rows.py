"""The rows of the memory store: what each table's columns hold, as PostgreSQL gives them back.

Events, snapshots and records are kept as the JSON their jsonb columns hold and validated again
when read; money columns are ``numeric(14,2)`` (two places, rounded half away from zero);
timestamps are UTC. Each table's key is PostgreSQL's (store/migrations/), its person first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson

from schemas.events import CategoryHeld, Settlement
from schemas.money import FEN
from schemas.totals import AccountTotals

from ..columns import account_of


def loads(data: bytes) -> Any:
    """A jsonb column's value."""
    return orjson.loads(data)


def numeric(value: Decimal) -> Decimal:
    """A value as a ``numeric(14,2)`` column keeps it (rounded half away from zero, as PostgreSQL does)."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def utc(moment: datetime) -> datetime:
    """A moment as a ``timestamptz`` column gives it back: in UTC (a naive one read as local time, as asyncpg does)."""
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class Archived:
    """``inputs``, by (psn_no, seq); its place (psn_no, life, topic, partition, offset, digest) once."""

    psn_no: str  # "" when it names no one person
    seq: int
    life: int
    topic: str
    partition: int | None
    offset: int | None
    digest: str
    raw: bytes
    kind: str
    outcome: str
    reason: str | None
    received_at: datetime


@dataclass(frozen=True)
class Claim:
    """``claims_received``, by (psn_no, claim_key, revision)."""

    psn_no: str
    key: str  # claim_key: its hospital and id (schemas/ids.py)
    revision: int
    claim_id: str
    digest: str
    payload: bytes  # the claim as JSON (by alias)
    snapshot: bytes | None  # only the first receipt travels
    topic: str
    partition: int | None
    offset: int | None
    seq: int
    year: int
    region: str | None
    received_at: datetime


@dataclass(frozen=True)
class Cancellation:
    """``cancellations``, by (psn_no, fixmedins_code, event_id)."""

    psn_no: str
    hospital: str  # fixmedins_code, "" when none
    event_id: str
    key: str  # cancellation_key: its hospital and event_id (schemas/ids.py)
    claim_key: str  # the claim it cancels: its own hospital's
    input_seq: int
    reason: str
    cancelled_at: datetime
    event: bytes
    status: str  # applied | waiting
    received_at: datetime


@dataclass(frozen=True)
class Change:
    """``identity_events``, by (psn_no, authority, event_id)."""

    psn_no: str
    authority: str
    event_id: str
    category: str
    action: str
    valid_from: date
    valid_to: date | None
    recorded_at: datetime
    event: bytes
    received_at: datetime
    input_seq: int

    def folded(self) -> dict:
        """The columns policies.periods.periods_from reads."""
        return {
            "event_id": self.event_id,
            "action": self.action,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "authority": self.authority,
            "recorded_at": self.recorded_at,
        }


@dataclass(frozen=True)
class Period:
    """``identity_periods``, by (psn_no, category, valid_from)."""

    category: str
    valid_from: date
    valid_to: date | None
    authority: str
    event_id: str

    def held(self) -> CategoryHeld:
        return CategoryHeld(
            code=self.category,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            authority=self.authority,
            event_id=self.event_id,
        )


@dataclass(frozen=True)
class Totals:
    """``year_totals``, by (psn_no, year, account)."""

    base: Decimal
    paid: Decimal
    paid_by_day: bytes
    assisted_visits_by_month: bytes

    def account(self) -> AccountTotals:
        return account_of(self.base, self.paid, loads(self.paid_by_day), loads(self.assisted_visits_by_month))


@dataclass(frozen=True)
class Record:
    """``settlements``, by (psn_no, settlement_id); (psn_no, seq) once."""

    psn_no: str
    settlement_id: str
    seq: int
    key: str  # claim_key: the claim's (or the year-end entry's)
    claim_id: str
    kind: str
    record: bytes
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    psn_part_amt: Decimal
    year: int | None
    published: bool = False

    def settlement(self) -> Settlement:
        return Settlement.model_validate(loads(self.record))


@dataclass(frozen=True)
class Alert:
    """``alerts``, by (psn_no, alert_id)."""

    psn_no: str
    alert_id: str
    seq: int
    alert: bytes
    published: bool = False


@dataclass(frozen=True)
class Rejection:
    """``rejections``, by (psn_no, id); its place (psn_no, life, topic, partition, offset) once."""

    psn_no: str
    id: int
    life: int
    topic: str
    reason: str
    original: str
    partition: int | None
    offset: int | None
    rejected_at: datetime


@dataclass(frozen=True)
class YearClose:
    """``year_closes``, by (region, year); its event_id once."""

    region: str
    year: int
    event_id: str
    input_seq: int  # its place as received, in the order of the person ""
    closed_at: datetime


@dataclass(frozen=True)
class PersonClose:
    """``person_closes``, by (psn_no, region, year): a close at its place in the order of a person it settles."""

    psn_no: str
    region: str
    year: int
    seq: int
    event_id: str


@dataclass(frozen=True)
class Enrolment:
    """``enrollment_events``, by (psn_no, event_id)."""

    psn_no: str
    event_id: str
    insutype: str
    insuplc_admdvs: str
    valid_from: date
    valid_to: date | None
    recorded_at: datetime
    event: bytes
    input_seq: int
    received_at: datetime


@dataclass(frozen=True)
class Roll:
    """``premium_rolls``, by (region, year)."""

    region: str
    year: int
    event_id: str
    input_seq: int  # its place as received, in the order of the person ""
    recorded_at: datetime


@dataclass(frozen=True)
class PersonRoll:
    """``person_rolls``, by (psn_no, region, year): a roll at its place in the order of a person it may subsidise."""

    psn_no: str
    region: str
    year: int
    seq: int
    event_id: str
