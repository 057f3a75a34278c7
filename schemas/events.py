"""The events on the wire (CONTRACTS.md). Field names are fixed there; add, never rename."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, model_validator

from .codes import (
    Authority,
    Category,
    DivisionCode,
    HospitalLevel,
    Icd10,
    Identifier,
    InsuType,
    MedType,
    NonEmpty,
    Payer,
    Text,
    issuing_authority,
    printable,
)
from .ids import cancellation_key, claim_key
from .money import ZERO, Money, SignedMoney, WireMoney
from .times import Day, Timestamp

_SCHEMA_NAME = re.compile(r"[a-z][a-z0-9_.\-]{0,47}/[0-9]{1,4}")


def _schema_name(value: str) -> str:
    """An event's ``schema``: ``<name>/<version>`` (e.g. claims.discharged/2); it is stored with the
    event, so nothing else (a NUL or a control character would not even reach PostgreSQL's jsonb)."""
    if _SCHEMA_NAME.fullmatch(value):
        return value
    printable(value)
    raise ValueError(f'{value[:60]!r} is not a schema name; write <name>/<version>, e.g. "claims.discharged/2"')


#: ``schema`` on an event: a name and a version, printable, at most 53 characters.
SchemaName = Annotated[str, AfterValidator(_schema_name)]


class Event(BaseModel):
    """Events ignore fields they do not know (producers may add fields freely)."""

    model_config = ConfigDict(extra="ignore", frozen=True, use_enum_values=False)
    schema_: SchemaName | None = Field(default=None, alias="schema")


class DischargeClaim(Event):
    """`claims.discharged`: a hospital's bill at discharge, or an outpatient visit."""

    claim_id: Identifier
    psn_no: Identifier
    insutype: InsuType
    insuplc_admdvs: DivisionCode
    mdtrtarea_admvs: DivisionCode
    med_type: MedType
    hosp_lv: HospitalLevel
    referral: bool
    emergency_unable_to_pay: bool = False
    #: the patient's age at admission (入院年龄), optional: the children's major diseases and a rule's age
    #: conditions read it
    age: int | None = Field(default=None, ge=0, le=150)
    #: the contribution tier the person is insured in (参保缴费档次: 1 = 一档, 2 = 二档), optional: a rule's
    #: ``contribution_tier`` condition reads it. The hospital's system sends it as the platform gives it at
    #: admission (the person's enrollment, once onestop keeps enrollments, can fill it in where it does not)
    contribution_tier: int | None = Field(default=None, ge=1, le=9)
    begndate: Day
    enddate: Day
    dise_codg: Icd10
    medfee_sumamt: WireMoney
    fulamt_ownpay_amt: WireMoney
    overlmt_selfpay: WireMoney
    preselfpay_amt: WireMoney
    inscp_scp_amt: WireMoney
    fixmedins_code: Identifier | None = None  # the hospital (定点医药机构编号); finance clears per hospital
    fixmedins_name: Text | None = None
    revision: int = Field(default=0, ge=0)  # a corrected bill of the same claim_id carries a higher revision

    @model_validator(mode="after")
    def _consistent(self) -> "DischargeClaim":
        if self.schema_ not in (None, "claims.discharged/1", "claims.discharged/2"):
            raise ValueError(f"schema {self.schema_!r} is not known: send claims.discharged/1 or claims.discharged/2")
        if self.schema_ == "claims.discharged/2" and not self.fixmedins_code:
            raise ValueError("fixmedins_code (the hospital) is required from claims.discharged/2")
        if self.enddate < self.begndate:
            raise ValueError(f"enddate {self.enddate} is before begndate {self.begndate}")
        parts = self.fulamt_ownpay_amt + self.overlmt_selfpay + self.preselfpay_amt + self.inscp_scp_amt
        if parts != self.medfee_sumamt:
            raise ValueError(
                "the parts of the bill do not add up to medfee_sumamt: "
                f"fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt + inscp_scp_amt = {parts}, "
                f"medfee_sumamt = {self.medfee_sumamt}"
            )
        return self

    @property
    def year(self) -> int:
        """The policy year: the calendar year of discharge (PARAMETERS.md)."""
        return self.enddate.year

    @property
    def key(self) -> str:
        """Whose claim this is: its hospital and its id (schemas/ids.py)."""
        return claim_key(self.fixmedins_code, self.claim_id)


class EligibilityChange(Event):
    """`eligibility.changes`: an authority grants or ends a category for a period."""

    event_id: Identifier
    psn_no: Identifier
    category: Category
    action: Literal["grant", "revoke"]
    valid_from: Day
    valid_to: Day | None = None
    authority: Authority
    recorded_at: Timestamp

    @classmethod
    def grant_of(
        cls, psn_no: str, held: "CategoryHeld", event_id: str, recorded_at: datetime | None = None
    ) -> "EligibilityChange":
        """The grant of a category a person holds, from the authority that issues it; recorded
        (unless said otherwise) at 09:00 UTC on its first day."""
        return cls(
            event_id=event_id,
            psn_no=psn_no,
            category=held.code,
            action="grant",
            valid_from=held.valid_from,
            valid_to=held.valid_to,
            authority=issuing_authority(held.code),
            recorded_at=recorded_at or datetime.combine(held.valid_from, time(9), tzinfo=timezone.utc),
        )

    @model_validator(mode="after")
    def _period(self) -> "EligibilityChange":
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        return self


class ClaimCancellation(Event):
    """`claims.cancelled`: a hospital cancels a settlement (结算撤销, like the platform's 2208 / 2305)."""

    event_id: Identifier
    claim_id: Identifier
    psn_no: Identifier
    reason: Text = ""
    cancelled_at: Timestamp
    fixmedins_code: Identifier | None = None  # the hospital cancelling: it must be the claim's (and its key's)

    @property
    def key(self) -> str:
        """This cancellation: its hospital's and its event_id (schemas/ids.py)."""
        return cancellation_key(self.fixmedins_code, self.event_id)

    @property
    def claim_key(self) -> str:
        """The claim it cancels: one of the cancelling hospital's own (schemas/ids.py)."""
        return claim_key(self.fixmedins_code, self.claim_id)


class YearEndClose(Event):
    """`year_end.closes`: close a region's year (年终清算): pay what its rules defer to the year end, once."""

    event_id: Identifier
    region: Identifier
    year: int = Field(ge=2000, le=2100)
    #: when finance closed it; CONTRACTS.md names it recorded_at, earlier producers closed_at (either is read)
    recorded_at: Timestamp = Field(validation_alias=AliasChoices("recorded_at", "closed_at"))

    @model_validator(mode="before")
    @classmethod
    def _one_time(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and "recorded_at" in data
            and "closed_at" in data
            and data["recorded_at"] != data["closed_at"]
        ):
            raise ValueError(
                f"recorded_at {data['recorded_at']!r} and closed_at {data['closed_at']!r} differ: "
                "send recorded_at only (closed_at is its earlier name)"
            )
        return data

    @property
    def closed_at(self) -> datetime:
        """The close's time under its earlier name (recorded_at)."""
        return self.recorded_at


class EnrollmentChange(Event):
    """`enrollment.changes`: who is insured where, with which insurance, over which period (参保登记),
    from the medical-insurance bureau. On any day a person is insured as the latest recorded change
    covering that day says (policies/enrollment.py)."""

    event_id: Identifier
    psn_no: Identifier
    insutype: InsuType
    insuplc_admdvs: DivisionCode
    valid_from: Day
    valid_to: Day | None = None
    recorded_at: Timestamp

    @model_validator(mode="after")
    def _period(self) -> "EnrollmentChange":
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        return self


class PremiumRoll(Event):
    """`premiums.rolls`: roll a region's year of premium subsidies (参保资助): once per region and year,
    every person it subsidises gets one ``premium`` record (PARAMETERS.md, "Premium subsidies")."""

    event_id: Identifier
    region: Identifier
    year: int = Field(ge=2000, le=2100)
    recorded_at: Timestamp


class WakeUp(Event):
    """`claims.ledger` (internal): a person whose queue holds inputs ready to take effect (a corrected
    bill, a cancellation, an eligibility change or a close was queued). It carries no authority: the
    ledger only applies what the person's queue holds."""

    psn_no: NonEmpty
    cause: str | None = None


class CategoryHeld(BaseModel):
    """One category of a person's identity snapshot, with who granted it."""

    model_config = ConfigDict(frozen=True)
    code: Category
    valid_from: date
    valid_to: date | None = None
    authority: Authority | None = None
    event_id: str | None = None

    def in_force_during(self, begin: date, end: date) -> bool:
        """Held on at least one day of [begin, end]."""
        return self.valid_from <= end and (self.valid_to is None or self.valid_to >= begin)


class PaymentLine(BaseModel):
    """One payer's part of a settlement, with the arithmetic that produced it."""

    model_config = ConfigDict(frozen=True)
    payer: Payer
    fund_pay_type: str
    amount: SignedMoney
    base: SignedMoney
    rule: str
    explanation: str
    explanation_zh: str = ""
    applied: str | None = None  # the category (tier) whose schedule was applied, if any
    account: str | None = None
    cumulative_before: Money | None = None  # the account's yearly base before this claim


class PolicyRef(BaseModel):
    model_config = ConfigDict(frozen=True)
    region: str
    period: str
    version: int


#: what a settlement record is (README, "The ledger's life")
RecordKind = Literal["settlement", "adjustment", "reversal", "year_end", "premium"]


class Settlement(Event):
    """`settlements.completed`: one record per settled (or corrected) claim, for finance."""

    settlement_id: NonEmpty
    kind: RecordKind = "settlement"
    reason: str | None = None  # for every kind but settlement: what caused it, by its id
    claim_id: NonEmpty
    psn_no: NonEmpty
    insuplc_admdvs: DivisionCode
    policy: PolicyRef
    year: int | None = None  # the policy year of the claim (its discharge year)
    identity: list[CategoryHeld]
    medfee_sumamt: SignedMoney
    payments: list[PaymentLine]
    fund_pay_sumamt: SignedMoney
    psn_part_amt: SignedMoney
    settled_at: datetime
    fixmedins_code: str | None = None  # the hospital, when the claim named one
    fixmedins_name: str | None = None
    revision: int | None = None  # the claim's revision this record settles to
    # the bill's parts (an adjustment: their change; a reversal: negated; none on a year-end record)
    fulamt_ownpay_amt: SignedMoney | None = None
    overlmt_selfpay: SignedMoney | None = None
    preselfpay_amt: SignedMoney | None = None
    inscp_scp_amt: SignedMoney | None = None
    med_type: MedType | None = None
    begndate: date | None = None
    enddate: date | None = None
    # a premium subsidy (kind premium): the category that earned it and when it is due
    category: Category | None = None
    due_date: date | None = None

    @property
    def key(self) -> str:
        """The claim (or year-end entry) this record is of: its hospital's and its id (schemas/ids.py)."""
        return claim_key(self.fixmedins_code, self.claim_id)

    @model_validator(mode="after")
    def _balances(self) -> "Settlement":
        total = sum((line.amount for line in self.payments), start=ZERO)
        if total != self.fund_pay_sumamt:
            raise ValueError(f"fund_pay_sumamt {self.fund_pay_sumamt} is not the sum of payments {total}")
        if self.fund_pay_sumamt + self.psn_part_amt != self.medfee_sumamt:
            raise ValueError("fund_pay_sumamt + psn_part_amt does not equal medfee_sumamt")
        parts = [self.fulamt_ownpay_amt, self.overlmt_selfpay, self.preselfpay_amt, self.inscp_scp_amt]
        given = [part for part in parts if part is not None]
        if len(given) == len(parts) and sum(given, start=ZERO) != self.medfee_sumamt:
            raise ValueError("the bill's parts do not add up to medfee_sumamt")
        return self


class Rejection(BaseModel):
    """`claims.rejected` / `eligibility.rejected`: what came in, from where, and why not."""

    original: str
    topic: str
    partition: int | None = None
    offset: int | None = None
    reason: str
    rejected_at: datetime


class HighCostAlert(BaseModel):
    """`alerts.high_cost`: early warning (预警) to civil affairs / rural revitalisation."""

    claim_id: str
    psn_no: str
    psn_part_amt: Money  # the personal in-scope share measured by the rule
    threshold: Money
    measured_after: list[Payer]
    rule: str
    categories: list[Category]


class ClaimInFlight(BaseModel):
    """A claim on its way along the payer chain (`claims.pay.<payer>`, `claims.ledger`).

    Intake attaches the identity snapshot, the policy, the route and the year's totals as the
    ledger has them (``basis``) once; each payer appends its line and what it added to the totals
    (``accounts``). Nothing of it carries authority: the ledger settles the claim from what intake
    recorded, on its own totals, and only compares the lines (policies/soundness.py).
    """

    model_config = ConfigDict(frozen=True)
    claim: DischargeClaim
    identity: list[CategoryHeld]
    policy: PolicyRef
    route: list[Payer]
    lines: list[PaymentLine] = []
    #: account -> totals as JSON (schemas.totals.totals_json): read and validated by whoever uses them
    basis: dict[str, dict[str, Any]] = {}
    accounts: dict[str, dict[str, Any]] = {}
    received_at: datetime
    seq: int = 0  # the claim's place in its person's order (its first receipt)
    published_at: datetime | None = None  # when the hospital published it (its record's timestamp): the metrics' start

    def payer_after(self, payer: Payer) -> Payer | None:
        """The payer that follows ``payer`` on this claim's route; None after the last."""
        index = self.route.index(payer)
        return self.route[index + 1] if index + 1 < len(self.route) else None
