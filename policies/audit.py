"""An auditor's replay: every input a ledger was built from, run in the recorded order through the
pure rules into a fresh ledger, and compared with the ledger record by record, to the fen.

The inputs are the archive's (the database keeps every input as received) or a topic's; each is
(seq, kind, outcome, raw bytes). Only accepted inputs take effect; the rest are counted. The
replay's records are policies.ledger's, input after input, per person; a year-end close (and a
premium roll) takes effect where the archive put it, in the order of each person it settles.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Protocol

from schemas.events import (
    ClaimCancellation,
    DischargeClaim,
    EligibilityChange,
    EnrollmentChange,
    PremiumRoll,
    Settlement,
    YearEndClose,
)
from schemas.money import ZERO, format_yuan
from schemas.personal import mask

from .ledger import replay
from .received import (
    CancellationReceived,
    ChangeReceived,
    ClaimReceived,
    CloseReceived,
    EnrollmentReceived,
    Input,
    RollReceived,
)

#: fields a replay cannot reproduce: when the record was made
NOT_COMPARED = {"settled_at"}
_PARSERS: dict[str, Callable[[int, bytes], Input]] = {
    "claim": lambda seq, raw: ClaimReceived(seq, DischargeClaim.model_validate_json(raw)),
    "cancellation": lambda seq, raw: CancellationReceived(seq, ClaimCancellation.model_validate_json(raw)),
    "eligibility": lambda seq, raw: ChangeReceived(seq, EligibilityChange.model_validate_json(raw)),
    "close": lambda seq, raw: CloseReceived(seq, YearEndClose.model_validate_json(raw)),
    "enrollment": lambda seq, raw: EnrollmentReceived(seq, EnrollmentChange.model_validate_json(raw)),
    "roll": lambda seq, raw: RollReceived(seq, PremiumRoll.model_validate_json(raw)),
}
#: the inputs that name no one person: each is archived once as received (under the person ""), and
#: again in the order of each person it concerns, where it takes effect
_OF_EVERYONE = ("close", "roll")


class Archived(Protocol):
    """One input as archived (store.ArchivedInput, or one read off its topic): what a replay reads of it."""

    @property
    def seq(self) -> int: ...
    @property
    def kind(self) -> str: ...  # claim, cancellation, eligibility, enrollment, close or roll
    @property
    def outcome(self) -> str: ...  # accepted, or why not
    @property
    def raw(self) -> bytes: ...
    @property
    def psn_no(self) -> str: ...  # whose order it is in ("" for a close as received, or an input naming no one)


@dataclass
class Replayed:
    """What a replay read and made."""

    inputs: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, outcome) -> count
    records: list[Settlement] = field(default_factory=list)


def by_person(archived: Iterable[Archived]) -> tuple[dict[str, list[Input]], Counter[tuple[str, str]]]:
    """The accepted inputs of each person, and the count of all inputs. A year-end close or a premium
    roll is counted once, as received (it names no one person), and takes effect where the archive
    put it: in the order of each person it concerns."""
    persons: dict[str, list[Input]] = defaultdict(list)
    counted: Counter[tuple[str, str]] = Counter()
    for item in archived:
        a_persons_copy = item.kind in _OF_EVERYONE and bool(item.psn_no)
        if not a_persons_copy:
            counted[(item.kind, item.outcome)] += 1
        as_received_only = item.kind in _OF_EVERYONE and not a_persons_copy
        if item.outcome != "accepted" or item.kind not in _PARSERS or as_received_only:
            continue
        parsed = _PARSERS[item.kind](item.seq, item.raw)
        persons[item.psn_no if a_persons_copy else _person_of(parsed)].append(parsed)
    return {psn: sorted(inputs, key=lambda i: i.seq) for psn, inputs in persons.items()}, counted


def _person_of(item: Input) -> str:
    if isinstance(item, ClaimReceived):
        return item.claim.psn_no
    if isinstance(item, CancellationReceived):
        return item.cancellation.psn_no
    if isinstance(item, EnrollmentReceived):
        return item.enrollment.psn_no
    if isinstance(item, ChangeReceived):
        return item.change.psn_no
    raise ValueError(f"{type(item).__name__} names no one person")


def replay_archive(archived: Iterable[Archived], progress: Callable[[int], object] | None = None) -> Replayed:
    """Every record the archived inputs make, person by person, each person's in the recorded order."""
    persons, counted = by_person(archived)
    done = Replayed(counted)
    when = datetime(1970, 1, 1, tzinfo=timezone.utc)
    for psn_no in sorted(persons):
        done.records += replay(persons[psn_no], when)
        if progress is not None:
            progress(sum(isinstance(i, ClaimReceived) for i in persons[psn_no]))
    return done


def differences(expected: Sequence[Settlement], found: Sequence[Settlement], where: str) -> list[str]:
    """Every record missing from ``found``, extra in it, or different, in words (persons masked)."""
    want = {r.settlement_id: r for r in expected}
    got = {r.settlement_id: r for r in found}
    out = []
    for settlement_id in sorted(want.keys() - got.keys()):
        out.append(f"{where}: missing record {_name(want[settlement_id])}")
    for settlement_id in sorted(got.keys() - want.keys()):
        out.append(f"{where}: extra record {_name(got[settlement_id])} (the inputs do not make it)")
    for settlement_id in sorted(want.keys() & got.keys()):
        problems = record_differences(want[settlement_id], got[settlement_id])
        if problems:
            out.append(f"{where}: record {_name(got[settlement_id])} differs: " + "; ".join(problems))
    return out


def record_differences(want: Settlement, got: Settlement) -> list[str]:
    """What differs between two records of one id, field by field (amounts per payer, to the fen)."""
    out = []
    a = want.model_dump(mode="json", exclude=NOT_COMPARED)
    b = got.model_dump(mode="json", exclude=NOT_COMPARED)
    for name in sorted(set(a) | set(b)):
        if name == "payments" or a.get(name) == b.get(name):
            continue
        if name == "identity":
            codes = [[held["code"] for held in side.get(name) or []] for side in (a, b)]
            out.append(f"identity snapshot should be {codes[0]}, is {codes[1]}")
        else:
            out.append(f"{name} should be {a.get(name)}, is {b.get(name)}")
    out += _payment_differences(want, got)
    return out


def _payment_differences(want: Settlement, got: Settlement) -> list[str]:
    lines_a = {line.payer: line for line in want.payments}
    lines_b = {line.payer: line for line in got.payments}
    out = []
    for payer in sorted(lines_a.keys() | lines_b.keys()):
        x, y = lines_a.get(payer), lines_b.get(payer)
        if x is None or y is None:
            out.append(f"{payer.value} line {'missing' if y is None else 'extra'}")
        elif x.amount != y.amount:
            out.append(
                f"{payer.value} should pay {format_yuan(x.amount)}, pays {format_yuan(y.amount)} "
                f"({format_yuan(y.amount - x.amount)})"
            )
        elif x.model_dump(mode="json") != y.model_dump(mode="json"):
            fields = [k for k in x.model_dump() if x.model_dump()[k] != y.model_dump()[k]]
            out.append(f"{payer.value} line differs in {', '.join(fields)}")
    return out


def _name(record: Settlement) -> str:
    return f"{record.settlement_id} ({record.kind}, {mask(record.psn_no)}, {record.year})"


def totals_per_fund(records: Iterable[Settlement]) -> dict[str, Decimal]:
    """The sum of every line per fund code (fund_pay_type), and the persons' share."""
    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for record in records:
        for line in record.payments:
            sums[f"{line.payer.value} {line.fund_pay_type}"] += line.amount
        sums["personal share"] += record.psn_part_amt
    return dict(sorted(sums.items()))
