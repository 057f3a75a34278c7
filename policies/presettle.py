"""Pre-settlement (预结算, the national platform's 2206): what each fund would pay for a claim now.

Pure and recording nothing: the person's history (every input their ledger is built from, as
store.person_history gives it) with the hypothetical claim appended at the next place in their
order, through the same rules the ledger applies (policies.ledger). What settling the claim then
gives is exactly this, as long as nothing else of the person's arrives in between: the claim's
own record (a ``settlement``; for a corrected bill the ``adjustment`` it would make), the records
it would make for the person's other claims (a qualifying line crossed, a closed year's close
adjusted), and the year's totals after it. Whatever intake would refuse is refused here with the
same reason (CannotPresettle).

The answer (:func:`reply_for`) goes to the hospital that asked, so it holds only what that hospital
may see (policies/withheld.py): the bill, what each fund would pay and the arithmetic, but never the
person's categories, who granted them or the grants' ids — each record's ``identity`` is empty and
those names read "category withheld" in rules, explanations, reasons and notes. Of the records
the claim would make for the person's other claims, those of the asking hospital's claims and the
person's year-end entries are shown; those of other hospitals' claims only counted in a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from schemas.events import DischargeClaim, Settlement
from schemas.money import ZERO
from schemas.nhsa import PresettleReply, PresettleRequest
from schemas.totals import YearTotals

from .ledger import BILL_PARTS, Net, cancels, records_of, truth
from .loader import NoPolicy, policy_for
from .nhsa import nhsa_form
from .received import CancellationReceived, ChangeReceived, ClaimReceived, Entry, Input
from .withheld import seen_by_hospital, withhold


class CannotPresettle(ValueError):
    """The claim cannot be pre-settled: settling it would be refused, or would change nothing."""


@dataclass(frozen=True)
class Presettled:
    claim: DischargeClaim
    records: list[Settlement]  # the claim's own records (one; two when a corrected bill moves it to another year)
    effects: list[Settlement]  # the records it would make for the person's other claims and year-end entries
    totals: YearTotals  # the claim's year after it, per account
    notes: list[str] = field(default_factory=list)

    @property
    def record(self) -> Settlement | None:
        """The claim's record for its (new) year: what each fund would pay (or change, for a corrected bill)."""
        mine = [r for r in self.records if r.year == self.claim.year]
        return mine[0] if mine else (self.records[0] if self.records else None)


def next_seq(history: Sequence[Input]) -> int:
    """The place the claim would take in its person's order: after everything received."""
    return max((item.seq for item in history), default=0) + 1


def presettle(history: Sequence[Input], claim: DischargeClaim, at: datetime) -> Presettled:
    """What settling ``claim`` after ``history`` would record (see the module's doc)."""
    notes = _admissible(history, claim)
    try:
        policy_for(claim.insuplc_admdvs, claim.enddate)
    except NoPolicy as error:
        raise CannotPresettle(str(error)) from None
    seq = next_seq(history)
    item = ClaimReceived(seq, claim)
    inputs = [*history, item]
    before = truth(history, (seq, 0))
    made = records_of(item, inputs, nets_of_truth(before.entries), at)
    after = truth(inputs, (seq, 0))
    own = [r for r in made if r.key == claim.key]
    if not own:
        notes.append("the corrected bill changes no payment")
    if not any(isinstance(i, ChangeReceived) for i in history):
        notes.append(
            "no eligibility change was ever received for this person: no category counts, "
            "only the funds open to every insured person pay"
        )
    return Presettled(claim, own, [r for r in made if r.key != claim.key], after.totals.get(claim.year, {}), notes)


def _admissible(history: Sequence[Input], claim: DischargeClaim) -> list[str]:
    """Refuse what intake would refuse; the notes on what it would accept."""
    same = sorted(
        (i for i in history if isinstance(i, ClaimReceived) and i.claim.key == claim.key), key=lambda i: i.seq
    )
    if not same:
        if claim.revision:
            raise CannotPresettle(
                f"claim {claim.claim_id} was never received from its hospital: a corrected bill "
                f"(revision {claim.revision}) corrects only its own hospital's claim"
            )
        return []
    if same[0].claim.psn_no != claim.psn_no:
        raise CannotPresettle(f"claim {claim.claim_id} was received for another person")
    for item in same:
        if item.claim.revision == claim.revision:
            if _content(item.claim) == _content(claim):
                raise CannotPresettle(
                    f"claim {claim.claim_id} revision {claim.revision} was received already and is "
                    f"settled: settling it again changes nothing (onestop slip {claim.claim_id})"
                )
            raise CannotPresettle(
                f"claim {claim.claim_id} revision {claim.revision} was received with other content: "
                "a corrected bill needs a higher revision"
            )
    latest = max(item.claim.revision for item in same)
    if claim.revision < latest:
        raise CannotPresettle(
            f"claim {claim.claim_id} has revision {latest} already: revision {claim.revision} would be refused"
        )
    cancelled = [i for i in history if isinstance(i, CancellationReceived) and cancels(i.cancellation, same[0].claim)]
    if cancelled:
        raise CannotPresettle(
            f"claim {claim.claim_id} was cancelled ({cancelled[0].cancellation.event_id}): "
            "a cancelled claim is not corrected"
        )
    return [
        f"a corrected bill of claim {claim.claim_id} (revision {latest} → {claim.revision}): "
        "its record is the change from what was settled"
    ]


def _content(claim: DischargeClaim) -> dict[str, Any]:
    return claim.model_dump(exclude={"schema_"})


def nets_of_truth(entries: dict[tuple[str, int], Entry]) -> dict[tuple[str, int], Net]:
    """What the records of each entry add up to once every input received has taken effect: by
    the ledger's invariant, the entries the rules give (a cancelled claim nets to nothing)."""
    nets: dict[tuple[str, int], Net] = {}
    for key, entry in entries.items():
        claim = entry.claim if entry.cancelled_by is None else None
        nets[key] = Net(
            medfee_sumamt=entry.medfee_sumamt,
            by_payer={line.payer: line.amount for line in entry.lines},
            last_line={line.payer: line for line in entry.lines},
            kinds={"year_end" if entry.kind == "year_end" else "settlement"}
            | ({"reversal"} if entry.cancelled_by else set()),
            parts={part: (getattr(claim, part) if claim is not None else ZERO) for part in BILL_PARTS},
        )
    return nets


def claim_of(request: PresettleRequest) -> DischargeClaim:
    """The discharge event of a pre-settlement request (without its request_id)."""
    return DischargeClaim.model_validate(request.model_dump(by_alias=True, exclude={"request_id"}))


def reply_for(history: Sequence[Input], request: PresettleRequest, at: datetime) -> PresettleReply:
    """The answer to a pre-settlement request (`claims.presettle.replies.<fixmedins_code>`, `onestop
    presettle --format json`) as the asking hospital may see it (the module's doc): the would-be record
    in the platform's shape and ours, its effects, the notes; or the reason it cannot be."""
    claim = claim_of(request)
    answer = partial(
        PresettleReply, request_id=request.answer_to, claim_id=claim.claim_id, psn_no=claim.psn_no, answered_at=at
    )
    grants = tuple(item.change.event_id for item in history if isinstance(item, ChangeReceived))
    try:
        result = presettle(history, claim, at)
    except CannotPresettle as error:
        return answer(error=withhold(str(error), grants))
    record = seen_by_hospital(result.record, grants) if result.record is not None else None
    others = [*[r for r in result.records if r is not result.record], *result.effects]
    shown = [seen_by_hospital(r, grants) for r in others if r.fixmedins_code in (None, request.fixmedins_code)]
    notes = [withhold(note, grants) for note in result.notes]
    elsewhere = len(others) - len(shown)
    if elsewhere:
        notes.append(
            f"settling it would also change {elsewhere} record(s) of the person's claims at other hospitals "
            "(not shown: they are those hospitals')"
        )
    form = nhsa_form(record) if record is not None else None
    return answer(
        setlinfo=form.setlinfo if form else None,
        setldetail=form.setldetail if form else [],
        payments=list(record.payments) if record is not None else [],
        settlement=record,
        effects=shown,
        notes=notes,
    )


def error_reply(raw: bytes | None, reason: str, at: datetime, fallback_id: str) -> PresettleReply:
    """The answer to a request that is not one (not JSON, a field missing or wrong): named by the
    request_id or claim_id it carries, else by where it came from."""
    import orjson

    try:
        data = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        data = None
    data = data if isinstance(data, dict) else {}
    request_id = str(data.get("request_id") or data.get("claim_id") or fallback_id)
    return PresettleReply(
        request_id=request_id,
        claim_id=data.get("claim_id") if isinstance(data.get("claim_id"), str) else None,
        psn_no=data.get("psn_no") if isinstance(data.get("psn_no"), str) else None,
        answered_at=at,
        error=reason,
    )
