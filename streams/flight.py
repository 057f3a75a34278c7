"""A claim in flight as the hops after intake read it (`claims.pay.<payer>`, `claims.ledger`):
decoded once by orjson and trusted, not validated again.

Intake validated the claim and built the rest of the record (``schemas.events.ClaimInFlight``,
which is also its written form); only our own workers may write these topics (their ACLs). So
a hop turns into models only the parts it uses, once: a payer the claim and the lines before
its own, the ledger nothing but who and which claim. A payer passes the record on by adding its
line to the decoded data, not by building and dumping the whole model again. A message on these
topics that is not a claim in flight (a bug, a stray producer) is still refused with a reason.
"""
from __future__ import annotations

from datetime import datetime

import orjson
from pydantic import ValidationError

from schemas.codes import Category, Payer
from schemas.events import ClaimPaid, DischargeClaim, PaymentLine, PolicyRef

from .codecs import BadInput, describe

_FIELDS = ("claim", "identity", "policy", "route", "received_at")


class Flight:
    """One claim in flight; ``data`` is the record as decoded. Read for a payer (``for_payer``),
    it also holds what the rules take: the claim, the categories held, the policy, the lines before."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.claim: DischargeClaim | None = None
        self.held: frozenset[Category] = frozenset()
        self.policy: PolicyRef | None = None
        self.prior: list[PaymentLine] = []

    @classmethod
    def read(cls, raw: bytes | None) -> "Flight":
        """The record in ``raw``, or BadInput naming what is wrong with it."""
        if not raw:
            raise BadInput("empty message: expected a claim in flight")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise BadInput(f"not JSON: {error}") from None
        if not isinstance(data, dict):
            raise BadInput(f"expected a JSON object, got {type(data).__name__}")
        missing = [name for name in _FIELDS if name not in data]
        if missing:
            raise BadInput(f"not a claim in flight: {', '.join(missing)} missing")
        claim = data["claim"]
        if not isinstance(claim, dict) or not all(isinstance(claim.get(k), str) for k in ("claim_id", "psn_no")):
            raise BadInput("not a claim in flight: claim.claim_id and claim.psn_no must be strings")
        if not isinstance(data["route"], list) or not isinstance(data.get("lines", []), list):
            raise BadInput("not a claim in flight: route and lines must be lists")
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
            flight.prior = [PaymentLine.model_validate(line) for line in data.get("lines", []) if line["payer"] != payer.value]
            flight.next_after(payer)
        except ValidationError as error:
            raise BadInput(describe(error)) from None
        except (KeyError, TypeError, ValueError) as error:
            raise BadInput(f"{type(error).__name__}: {error}") from None
        return flight

    @property
    def psn_no(self) -> str:
        return self.data["claim"]["psn_no"]

    @property
    def claim_id(self) -> str:
        return self.data["claim"]["claim_id"]

    @property
    def seq(self) -> int:
        return self.data.get("seq", 0)

    def next_after(self, payer: Payer) -> Payer | None:
        """The payer that follows ``payer`` on this claim's route; None after the last."""
        route = self.data["route"]
        index = route.index(payer.value)
        return Payer(route[index + 1]) if index + 1 < len(route) else None

    def paid(self) -> bytes:
        """The notice to the ledger that the claim passed its route (its lines are in the database)."""
        data, claim = self.data, self.data["claim"]
        return orjson.dumps({"claim_id": claim["claim_id"], "psn_no": claim["psn_no"], "seq": data.get("seq", 0),
                             "published_at": data.get("published_at")})

    def with_line(self, payer: Payer, line: PaymentLine | None) -> bytes:
        """The record passed on: the lines before ``payer``, then its own (if it pays a line)."""
        kept = [held for held in self.data.get("lines", []) if held["payer"] != payer.value]
        if line is not None:
            kept.append(line.model_dump(mode="json"))
        return orjson.dumps({**self.data, "lines": kept})

    @property
    def published_at(self) -> float | None:
        """When the hospital published the claim (epoch seconds), if its record said."""
        stamp = self.data.get("published_at")
        return datetime.fromisoformat(stamp).timestamp() if stamp else None



def read_paid(raw: bytes | None) -> ClaimPaid:
    """A notice on `claims.ledger`; a whole claim in flight (as sent before the notice) is read as one."""
    if not raw:
        raise BadInput("empty message: expected a paid claim")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadInput(f"not JSON: {error}") from None
    if isinstance(data, dict) and isinstance(data.get("claim"), dict):
        data = {**data["claim"], "seq": data.get("seq", 0), "published_at": data.get("published_at")}
    try:
        return ClaimPaid.model_validate(data)
    except ValidationError as error:
        raise BadInput(describe(error)) from None
