"""A claim in flight as the hops after intake read it (`claims.pay.<payer>`, `claims.ledger`):
decoded once by orjson, not validated again.

Intake validated the claim and built the rest of the record (``schemas.events.ClaimInFlight``,
which is also its written form). Nothing on these topics carries authority — anyone who can write
them could write such a record — so a payer only computes: it turns into models the parts the
rules take (the claim, the categories, the lines before its own, the year's totals it travels with
and what the payers before it added), appends its line and what it added, and passes the record
on; it records nothing. The ledger takes from a record only which claim it says it is, its lines
and its basis, and believes none of it (store/life.py, policies/soundness.py). A message here that
is not a claim in flight (a bug, a stray producer) is refused with a reason.

`claims.ledger` also carries wake-ups (``schemas.events.WakeUp``): a person whose queue holds an
input to apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import orjson
from pydantic import ValidationError

from schemas.codes import Category, Payer, identifier
from schemas.events import DischargeClaim, PaymentLine, PolicyRef, WakeUp
from schemas.ids import claim_key
from schemas.totals import AccountTotals, YearTotals, totals_from_json, totals_json

from .codecs import BadInput, describe

_FIELDS = ("claim", "identity", "policy", "route", "received_at")


class Flight:
    """One claim in flight; ``data`` is the record as decoded. Read for a payer (``for_payer``),
    it also holds what the rules take: the claim, the categories held, the policy, the lines before,
    and the year's totals before this payer."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.claim: DischargeClaim | None = None
        self.held: frozenset[Category] = frozenset()
        self.policy: PolicyRef | None = None
        self.prior: list[PaymentLine] = []
        self.totals: YearTotals = {}

    @classmethod
    def read(cls, raw: bytes | None) -> "Flight":
        """The record in ``raw``, or BadInput naming what is wrong with it."""
        return cls.of(_json_object(raw, "a claim in flight"))

    @classmethod
    def of(cls, data: dict) -> "Flight":
        """The record decoded as ``data``, or BadInput naming what is wrong with it."""
        missing = [name for name in _FIELDS if name not in data]
        if missing:
            raise BadInput(f"not a claim in flight: {', '.join(missing)} missing")
        claim = data["claim"]
        if not isinstance(claim, dict) or not all(isinstance(claim.get(k), str) for k in ("claim_id", "psn_no")):
            raise BadInput("not a claim in flight: claim.claim_id and claim.psn_no must be strings")
        if claim.get("fixmedins_code") is not None and not isinstance(claim["fixmedins_code"], str):
            raise BadInput("not a claim in flight: claim.fixmedins_code must be a string")
        for name in ("claim_id", "psn_no", "fixmedins_code"):  # (looked up by, and kept with a refusal: ids only)
            if claim.get(name) is not None:
                _an_id(f"not a claim in flight: claim.{name}", claim[name])
        published = data.get("published_at")
        if published is not None and not _iso_moment(published):
            raise BadInput("not a claim in flight: published_at must be an ISO timestamp")
        if not isinstance(data["route"], list) or not isinstance(data.get("lines", []), list):
            raise BadInput("not a claim in flight: route and lines must be lists")
        if not isinstance(data.get("basis", {}), dict) or not isinstance(data.get("accounts", {}), dict):
            raise BadInput("not a claim in flight: basis and accounts must be objects")
        if type(data.get("seq", 0)) is not int:
            raise BadInput("not a claim in flight: seq must be an integer")
        return cls(data)

    @classmethod
    def for_payer(cls, payer: Payer, raw: bytes | None) -> "Flight":
        """The record read, with what ``payer`` uses of it turned into models now, so that a record
        the rules could not use is refused here, with the reason, rather than half-paid."""
        flight = cls.read(raw)
        data = flight.data
        try:
            # the claim as a model for the rules: a model_validate of fields intake checked, so the
            # rules' typed view of them (cheaper than building the model field by field), not a second check
            flight.claim = DischargeClaim.model_validate(data["claim"])
            flight.held = frozenset(Category(held["code"]) for held in data["identity"])
            flight.policy = PolicyRef(**data["policy"])
            flight.prior = [
                PaymentLine.model_validate(line) for line in data.get("lines", []) if line["payer"] != payer.value
            ]
            flight.totals = {**totals_from_json(data.get("basis", {})), **totals_from_json(data.get("accounts", {}))}
            flight.next_after(payer)
        except ValidationError as error:
            raise BadInput(describe(error)) from None
        except (KeyError, TypeError, ValueError) as error:
            raise BadInput(f"{type(error).__name__}: {error}") from None
        # a policy no worker can have (only one not yet deployed here is parked, to run again once it is)
        _an_id("not a claim in flight: policy.region", flight.policy.region)
        _an_id("not a claim in flight: policy.period", flight.policy.period)
        return flight

    @property
    def psn_no(self) -> str:
        return self.data["claim"]["psn_no"]

    @property
    def claim_id(self) -> str:
        return self.data["claim"]["claim_id"]

    @property
    def key(self) -> str:
        """The claim's key: its hospital and id (schemas/ids.py)."""
        return claim_key(self.data["claim"].get("fixmedins_code"), self.data["claim"]["claim_id"])

    @property
    def seq(self) -> int:
        return self.data.get("seq", 0)

    def next_after(self, payer: Payer) -> Payer | None:
        """The payer that follows ``payer`` on this claim's route; None after the last."""
        route = self.data["route"]
        index = route.index(payer.value)
        return Payer(route[index + 1]) if index + 1 < len(route) else None

    def with_line(
        self, payer: Payer, line: PaymentLine | None, changed: Mapping[str, AccountTotals], last: bool = False
    ) -> bytes:
        """The record passed on: the lines before ``payer``, then its own (if it pays a line), and
        the totals it ``changed`` added to those the payers before it changed — but by the ``last``
        payer, to the ledger, which settles on its own totals and reads none of them."""
        kept = [held for held in self.data.get("lines", []) if held["payer"] != payer.value]
        if line is not None:
            kept.append(line.model_dump(mode="json"))
        if last:
            return orjson.dumps({**{k: v for k, v in self.data.items() if k != "accounts"}, "lines": kept})
        return orjson.dumps(
            {**self.data, "lines": kept, "accounts": {**self.data.get("accounts", {}), **totals_json(changed)}}
        )

    @property
    def published_at(self) -> float | None:
        """When the hospital published the claim (epoch seconds), if its record said."""
        stamp = self.data.get("published_at")
        return datetime.fromisoformat(stamp).timestamp() if stamp else None


def read_for_ledger(raw: bytes | None) -> Flight | WakeUp:
    """A message on `claims.ledger`: a claim in flight that passed its payers, or a wake-up."""
    data = _json_object(raw, "a claim in flight or a wake-up")
    if "claim" in data:
        return Flight.of(data)
    try:
        wake = WakeUp.model_validate(data)
    except ValidationError as error:
        raise BadInput(f"not a wake-up: {describe(error)}") from None
    _an_id("not a wake-up: psn_no", wake.psn_no)  # (the ledger looks the person up by it)
    return wake


def _an_id(what: str, value: str) -> None:
    """BadInput unless ``value`` is an id as inputs have them (schemas/codes.py): a record naming a
    person or claim by anything else — a NUL, which PostgreSQL's text refuses — is refused, not parked."""
    try:
        identifier(value)
    except ValueError as error:
        raise BadInput(f"{what} {error}") from None


def _iso_moment(value: object) -> bool:
    try:
        return isinstance(value, str) and datetime.fromisoformat(value) is not None
    except ValueError:
        return False


def _json_object(raw: bytes | None, expected: str) -> dict:
    if not raw:
        raise BadInput(f"empty message: expected {expected}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadInput(f"not JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadInput(f"expected a JSON object, got {type(data).__name__}")
    return data
