"""The ledger's life as pure functions: what each input a person's ledger is built from records.

A person's inputs — claims and their corrected bills, cancellations, eligibility and enrollment
changes, and the year-end closes and premium rolls of their region — are taken in the order they
were received (their sequence number, ``seq``). After each one the ledger holds, for every claim,
year-end close and premium subsidy, what the rules give for the years as known then
(:func:`truth`); each input records the difference from what was recorded before, entry by entry
(:func:`records_of`): a ``settlement`` for a claim's first record, a ``reversal`` for a cancelled
one, a ``year_end`` for a close's first, a ``premium`` for a premium subsidy (made once and never
changed: policies/premiums.py), an ``adjustment`` for every other change, each naming its cause.
So for every claim the sum of its records is what the rules give for the year as known now
(PARAMETERS.md), and the same inputs in the same order always record the same records: the live
workers and an auditor's replay agree.

A cancellation received before its claim takes effect right after the claim: the claim is
settled, then reversed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from schemas.codes import Authority, Category, Payer
from schemas.events import (
    CategoryHeld,
    ClaimCancellation,
    DischargeClaim,
    EligibilityChange,
    EnrollmentChange,
    PaymentLine,
    PolicyRef,
    PremiumRoll,
    RecordKind,
    Settlement,
    YearEndClose,
)
from schemas.ids import cause
from schemas.money import ZERO, format_yuan
from schemas.policy import Policy
from schemas.totals import YearTotals

from .enrollment import enrollment_from
from .identity import counting
from .loader import policy_for
from .periods import periods_from
from .premiums import contribution_of, entitlement, known_on, premium_policy
from .settle import ClaimOfYear
from .year import settle_year

#: where an input stands in a person's order: (seq, 0), or (seq of the claim, 1) for a
#: cancellation that waited for its claim
Key = tuple[int, int]


@dataclass(frozen=True)
class ClaimReceived:
    seq: int
    claim: DischargeClaim  # one revision of the bill


@dataclass(frozen=True)
class CancellationReceived:
    seq: int
    cancellation: ClaimCancellation


@dataclass(frozen=True)
class ChangeReceived:
    seq: int
    change: EligibilityChange


@dataclass(frozen=True)
class CloseReceived:
    seq: int
    close: YearEndClose


@dataclass(frozen=True)
class EnrollmentReceived:
    seq: int
    enrollment: EnrollmentChange


@dataclass(frozen=True)
class RollReceived:
    seq: int
    roll: PremiumRoll


Input = ClaimReceived | CancellationReceived | ChangeReceived | CloseReceived | EnrollmentReceived | RollReceived


@dataclass(frozen=True)
class Entry:
    """What one claim (or one year-end close) of one year comes to, as known at a point."""

    #: the claim's key (its hospital and id, schemas/ids.py), year-end/<region>/<year>/<psn_no> or premium/…
    entry_id: str
    year: int
    kind: str  # "claim", "year_end" or "premium"
    psn_no: str
    insuplc_admdvs: str
    policy: Policy
    identity: tuple[CategoryHeld, ...]
    lines: tuple[PaymentLine, ...]  # every payer's line, zero lines included; none when cancelled
    medfee_sumamt: Decimal  # the bill (0 when cancelled, and for a close)
    claim: DischargeClaim | None = None
    cancelled_by: str | None = None
    category: Category | None = None  # a premium subsidy's: the category that earned it
    due_date: date | None = None  # a premium subsidy's: when it is due


#: the parts of a bill (DOMAIN.md): medfee_sumamt = their sum
BILL_PARTS = ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")


@dataclass
class Net:
    """What the records of one entry and year add up to so far."""

    medfee_sumamt: Decimal = ZERO
    by_payer: dict[Payer, Decimal] = field(default_factory=dict)
    last_line: dict[Payer, PaymentLine] = field(default_factory=dict)
    kinds: set[str] = field(default_factory=set)
    parts: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BILL_PARTS, ZERO))

    def add(self, record: Settlement) -> None:
        self.medfee_sumamt += record.medfee_sumamt
        self.kinds.add(record.kind)
        for part in BILL_PARTS:
            self.parts[part] += getattr(record, part) or ZERO
        for line in record.payments:
            self.by_payer[line.payer] = self.by_payer.get(line.payer, ZERO) + line.amount
            self.last_line[line.payer] = line


def entry_key(record: Settlement) -> tuple[str, int]:
    """The (entry, year) a record is of: every record the ledger makes names its year (0: none named)."""
    return (record.key, record.year or 0)


def nets_of(records: Iterable[Settlement]) -> dict[tuple[str, int], Net]:
    """(entry, year) → what its records add up to."""
    nets: dict[tuple[str, int], Net] = defaultdict(Net)
    for record in records:
        nets[entry_key(record)].add(record)
    return dict(nets)


def summed(records: Sequence[Settlement]) -> Settlement:
    """What a claim's records add up to, as one record: what is owed on it now (its first
    settlement's shape, every payer's amount net of the later records)."""
    first = records[0]
    lines: dict[Payer, PaymentLine] = {}
    for record in records:
        for line in record.payments:
            was = lines.get(line.payer)
            lines[line.payer] = line if was is None else was.model_copy(update={"amount": was.amount + line.amount})
    medfee = sum((r.medfee_sumamt for r in records), start=ZERO)
    funds = sum((line.amount for line in lines.values()), start=ZERO)
    return first.model_copy(
        update={
            "medfee_sumamt": medfee,
            "payments": list(lines.values()),
            "fund_pay_sumamt": funds,
            "psn_part_amt": medfee - funds,
            "identity": records[-1].identity,
        }
    )


# --- the order of a person's inputs -----------------------------------------------------------


def first_seqs(inputs: Iterable[Input]) -> dict[str, int]:
    """claim key → the seq it was first received at (its place in the settlement order)."""
    first: dict[str, int] = {}
    for item in inputs:
        if isinstance(item, ClaimReceived):
            first[item.claim.key] = min(first.get(item.claim.key, item.seq), item.seq)
    return first


def key_of(item: Input, first: Mapping[str, int]) -> Key:
    """Where an input takes effect: at its seq, or right after its claim for an early cancellation."""
    if isinstance(item, CancellationReceived):
        claim_seq = first.get(item.cancellation.claim_key)
        if claim_seq is not None and claim_seq > item.seq:
            return (claim_seq, 1)
    return (item.seq, 0)


def cause_of(item: Input) -> str:
    """What an input's records name as their cause: its kind and its key (schemas/ids.py), so that
    two inputs of different kinds or signers with the same id cause different records."""
    if isinstance(item, ClaimReceived):
        claim = item.claim
        return cause("claim", claim.key) + (f"@{claim.revision}" if claim.revision else "")
    if isinstance(item, CancellationReceived):
        return item.cancellation.key
    if isinstance(item, ChangeReceived):
        return cause("eligibility", item.change.authority.value, item.change.event_id)
    if isinstance(item, EnrollmentReceived):
        return cause("enrollment", item.enrollment.event_id)
    if isinstance(item, RollReceived):
        return cause("roll", item.roll.event_id)
    return cause("close", item.close.event_id)


def reason_of(item: Input) -> str:
    """What an input is, in words, for the records it causes."""
    if isinstance(item, ClaimReceived):
        claim = item.claim
        if claim.revision:
            return f"corrected bill: claim {claim.claim_id} revision {claim.revision}"
        return f"claim {claim.claim_id} ({claim.begndate} – {claim.enddate}) settled in the same year"
    if isinstance(item, CancellationReceived):
        cancellation = item.cancellation
        return f"cancellation {cancellation.event_id} of claim {cancellation.claim_id}" + (
            f": {cancellation.reason}" if cancellation.reason else ""
        )
    if isinstance(item, ChangeReceived):
        change = item.change
        period = f"{change.valid_from} – {change.valid_to or 'open'}"
        done = "granted" if change.action == "grant" else "revoked"
        return (
            f"eligibility change {change.event_id}: {change.category.value} {done} {period} by {change.authority.value}"
        )
    if isinstance(item, EnrollmentReceived):
        enrollment = item.enrollment
        return (
            f"enrollment change {enrollment.event_id}: insured {enrollment.insutype.value} at "
            f"{enrollment.insuplc_admdvs} {enrollment.valid_from} – {enrollment.valid_to or 'open'}"
        )
    if isinstance(item, RollReceived):
        return f"premium roll {item.roll.event_id} of {item.roll.region} {item.roll.year}"
    close = item.close
    return f"year-end close {close.event_id} of {close.region} {close.year}"


# --- the ledger as known at a point -------------------------------------------------------------


def identity_at(inputs: Iterable[Input], at: Key) -> list[CategoryHeld]:
    """Every period the person held a category, from the changes received up to ``at``."""
    by_category: dict[Category, list[dict[str, Any]]] = defaultdict(list)
    for item in inputs:
        if isinstance(item, ChangeReceived) and (item.seq, 0) <= at:
            by_category[item.change.category].append(item.change.model_dump())
    held = [
        CategoryHeld(
            code=category, valid_from=p.start, valid_to=p.end, authority=Authority(p.authority), event_id=p.event_id
        )
        for category, events in by_category.items()
        for p in periods_from(events)
    ]
    return sorted(held, key=lambda h: (h.code.value, h.valid_from))


@dataclass(frozen=True)
class Truth:
    """The ledger as the rules give it at one point: every entry and each year's totals."""

    entries: dict[tuple[str, int], Entry]
    totals: dict[int, YearTotals]


def truth(inputs: Sequence[Input], at: Key) -> Truth:
    """Every claim and close of one person as known after the inputs up to ``at``."""
    first = first_seqs(inputs)
    known = [item for item in inputs if key_of(item, first) <= at]
    latest = _latest_revisions(known)
    cancelled = _cancellations(known)
    identity = identity_at(known, at)
    closed = {(c.close.region, c.close.year) for c in known if isinstance(c, CloseReceived)}
    by_year: dict[int, list[DischargeClaim]] = defaultdict(list)
    for key in sorted(latest, key=lambda c: first[c]):
        by_year[latest[key].year].append(latest[key])
    entries: dict[tuple[str, int], Entry] = {}
    totals: dict[int, YearTotals] = {}
    for year, claims in by_year.items():
        year_entries, totals[year] = _year(claims, cancelled, identity, {r for r, y in closed if y == year})
        entries.update({(e.entry_id, year): e for e in year_entries})
    if any(isinstance(item, RollReceived) for item in known):
        entries.update(premiums(sorted(known, key=lambda item: key_of(item, first))))
    return Truth(entries, totals)


def premiums(ordered: Sequence[Input]) -> dict[tuple[str, int], Entry]:
    """Every premium subsidy of one person, from their inputs in their order (PARAMETERS.md, "Premium
    subsidies"; policies/premiums.py). A region's year is rolled once its roll is received; at the
    roll, and at every eligibility or enrollment change after it, the person's categories and
    enrollment as known then may make them subsidised for a rolled year they are not subsidised for
    yet, in any region (a person who moves is subsidised once a year, where first subsidised). Once
    made, an entry never changes: nothing is topped up or recovered for that year."""
    if not any(isinstance(item, RollReceived) for item in ordered):
        return {}
    entries: dict[tuple[str, int], Entry] = {}
    rolled: set[tuple[str, int]] = set()
    changes: list[ChangeReceived | EnrollmentReceived] = []
    for item in ordered:
        recorded: date | None
        if isinstance(item, RollReceived):
            if (item.roll.region, item.roll.year) in rolled:
                continue  # rolling again changes nothing
            rolled.add((item.roll.region, item.roll.year))
            owed, recorded = [(item.roll.region, item.roll.year)], None
        elif isinstance(item, (ChangeReceived, EnrollmentReceived)):
            changes.append(item)
            event = item.change if isinstance(item, ChangeReceived) else item.enrollment
            owed, recorded = sorted(rolled), known_on(event.recorded_at)
        else:
            continue
        for region, year in owed:
            entry_id = f"premium/{region}/{year}/{_person(changes)}"
            if changes and all(subsidised != year for _, subsidised in entries):
                entry = _premium_entry(entry_id, region, year, changes, recorded)
                if entry is not None:
                    entries[(entry_id, year)] = entry
    return entries


def _person(changes: Sequence[ChangeReceived | EnrollmentReceived]) -> str:
    first = changes[0] if changes else None
    if first is None:
        return ""
    return first.change.psn_no if isinstance(first, ChangeReceived) else first.enrollment.psn_no


def _premium_entry(
    entry_id: str, region: str, year: int, changes: Sequence[ChangeReceived | EnrollmentReceived], recorded: date | None
) -> Entry | None:
    """The person's subsidy for a rolled year from the ``changes`` received so far (recorded on
    ``recorded``, or None at the roll); None while they are not subsidised."""
    policy = premium_policy(region, year)
    contribution = contribution_of(year)
    identity = identity_at(changes, (1 << 62, 0))
    enrolled = enrollment_from(i.enrollment for i in changes if isinstance(i, EnrollmentReceived))
    due = entitlement(policy, year, contribution, identity, enrolled, recorded)
    if due is None:
        return None
    return Entry(
        entry_id,
        year,
        "premium",
        _person(changes),
        due.insuplc_admdvs,
        policy,
        due.identity,
        due.subsidy.lines,
        contribution,
        category=due.subsidy.category,
        due_date=due.due_date,
    )


def _latest_revisions(known: Iterable[Input]) -> dict[str, DischargeClaim]:
    latest: dict[str, DischargeClaim] = {}
    for item in known:
        if isinstance(item, ClaimReceived):
            was = latest.get(item.claim.key)
            if was is None or item.claim.revision > was.revision:
                latest[item.claim.key] = item.claim
    return latest


def cancels(cancellation: ClaimCancellation, claim: DischargeClaim) -> bool:
    """A cancellation takes effect on a claim of the same person and of its own hospital (a claim is
    its hospital's and its id: schemas/ids.py)."""
    return cancellation.claim_key == claim.key and cancellation.psn_no == claim.psn_no


def _cancellations(known: Iterable[Input]) -> dict[str, str]:
    """claim key → the cause of the cancellation that cancelled it (the first received that may)."""
    first: dict[str, DischargeClaim] = {}
    for item in sorted((i for i in known if isinstance(i, ClaimReceived)), key=lambda i: i.seq):
        first.setdefault(item.claim.key, item.claim)
    out: dict[str, str] = {}
    for received in sorted((i for i in known if isinstance(i, CancellationReceived)), key=lambda i: i.seq):
        claim = first.get(received.cancellation.claim_key)
        if claim is not None and cancels(received.cancellation, claim):
            out.setdefault(claim.key, received.cancellation.key)
    return out


def _year(
    claims: list[DischargeClaim], cancelled: Mapping[str, str], identity: list[CategoryHeld], closed_regions: set[str]
) -> tuple[list[Entry], YearTotals]:
    live, out = [], []
    for claim in claims:
        policy = policy_for(claim.insuplc_admdvs, claim.enddate)
        held = counting(identity, claim, policy)
        if claim.key in cancelled:
            out.append(_entry(claim, policy, held, (), cancelled[claim.key]))
        else:
            live.append((ClaimOfYear(claim, frozenset(h.code for h in held), policy), held))
    year = settle_year([c for c, _ in live], closed_regions)
    out += [_entry(item.claim, item.policy, held, settled.lines) for (item, held), settled in zip(live, year.claims)]
    psn_no, place, year_id = claims[-1].psn_no, claims[-1].insuplc_admdvs, claims[-1].year
    closes = {close.region: (close.policy, close.lines) for close in year.year_end}
    for entry in out:  # a closed region whose claims were all cancelled: its close now pays nothing
        if entry.policy.region in closed_regions:
            closes.setdefault(entry.policy.region, (entry.policy, ()))
    for region, (policy, lines) in sorted(closes.items()):
        out.append(
            Entry(f"year-end/{region}/{year_id}/{psn_no}", year_id, "year_end", psn_no, place, policy, (), lines, ZERO)
        )
    return out, year.totals


def _entry(
    claim: DischargeClaim,
    policy: Policy,
    held: list[CategoryHeld],
    lines: Iterable[PaymentLine],
    cancelled_by: str | None = None,
) -> Entry:
    return Entry(
        claim.key,
        claim.year,
        "claim",
        claim.psn_no,
        claim.insuplc_admdvs,
        policy,
        tuple(held),
        tuple(lines),
        ZERO if cancelled_by else claim.medfee_sumamt,
        claim,
        cancelled_by,
    )


# --- the records an input makes ------------------------------------------------------------------


def records_of(
    item: Input, inputs: Sequence[Input], nets: Mapping[tuple[str, int], Net], settled_at: datetime
) -> list[Settlement]:
    """The records ``item`` makes: for every entry, what the rules give after it less what was
    recorded before (``nets``), in settlement order; nothing where nothing changed."""
    first = first_seqs(inputs)
    after = truth(inputs, key_of(item, first)).entries
    cause, reason = cause_of(item), reason_of(item)
    own = item.claim.key if isinstance(item, ClaimReceived) and first[item.claim.key] == item.seq else None
    by_id = {entry_id: entry for (entry_id, _), entry in after.items()}
    keys = sorted(set(after) | set(nets), key=lambda k: (first.get(k[0], 1 << 62), k[0], k[1]))
    out = []
    for key in keys:
        record = _record(key, after.get(key), by_id.get(key[0]), nets.get(key), cause, reason, own, settled_at)
        if record is not None:
            out.append(record)
    return out


def replay(inputs: Sequence[Input], settled_at: datetime) -> list[Settlement]:
    """Every record a person's inputs make, each input applied in its order: the ledger from scratch."""
    first = first_seqs(inputs)
    records: list[Settlement] = []
    nets: dict[tuple[str, int], Net] = defaultdict(Net)
    for item in sorted(inputs, key=lambda i: key_of(i, first)):
        made = records_of(item, inputs, nets, settled_at)
        for record in made:
            nets[entry_key(record)].add(record)
        records += made
    return records


def _record(
    key: tuple[str, int],
    entry: Entry | None,
    elsewhere: Entry | None,
    net: Net | None,
    cause: str,
    reason: str | None,
    own: str | None,
    settled_at: datetime,
) -> Settlement | None:
    entry_id, year = key
    net = net or Net()
    kind: RecordKind
    lines = _difference(entry, net, cause)
    medfee = (entry.medfee_sumamt if entry else ZERO) - net.medfee_sumamt
    if not net.kinds and entry is not None and entry.kind == "claim" and entry_id == own:
        kind, settlement_id, reason = "settlement", f"{entry_id}/settlement", None
        lines = list(entry.lines)
    elif not net.kinds and entry is not None and entry.kind == "premium":
        kind, settlement_id = "premium", f"{entry_id}/premium"
        lines = list(entry.lines)
    elif not any(line.amount for line in lines) and medfee == 0:
        return None
    elif not net.kinds and entry is not None and entry.kind == "year_end":
        kind, settlement_id = "year_end", f"{entry_id}/year_end"
    elif entry is not None and entry.cancelled_by == cause:
        kind, settlement_id = "reversal", f"{entry_id}/reversal/{cause}"
    else:
        kind, settlement_id = "adjustment", f"{entry_id}/adjustment/{cause}"
        if entry is None or entry.year != year:
            settlement_id += f"@{year}"
    funds = sum((line.amount for line in lines), start=ZERO)
    source = entry or elsewhere  # a claim whose corrected bill moved it to another year
    if source is None:
        raise ValueError(f"{entry_id} ({year}) has records but is no longer in the ledger")
    claim = source.claim
    bill = _bill(entry, net) if source.kind == "claim" else {}
    if source.kind == "premium":
        bill = {"category": source.category, "due_date": source.due_date}
    return Settlement(
        settlement_id=settlement_id,
        kind=kind,
        reason=reason,
        claim_id=claim.claim_id if claim else entry_id,
        psn_no=source.psn_no,
        insuplc_admdvs=source.insuplc_admdvs,
        policy=PolicyRef(region=source.policy.region, period=source.policy.period, version=source.policy.version),
        year=year,
        identity=list(source.identity),
        medfee_sumamt=medfee,
        payments=lines,
        fund_pay_sumamt=funds,
        psn_part_amt=medfee - funds,
        settled_at=settled_at,
        fixmedins_code=claim.fixmedins_code if claim else None,
        fixmedins_name=claim.fixmedins_name if claim else None,
        revision=claim.revision if claim else None,
        **bill,
    )


def _bill(entry: Entry | None, net: Net) -> dict[str, Any]:
    """The bill's parts as the record carries them: now less what was recorded before, and the stay."""
    now = entry.claim if entry is not None and entry.cancelled_by is None else None
    parts = {part: (getattr(now, part) if now else ZERO) - net.parts[part] for part in BILL_PARTS}
    stay = entry.claim if entry is not None else None
    return {
        **parts,
        "med_type": stay.med_type if stay else None,
        "begndate": stay.begndate if stay else None,
        "enddate": stay.enddate if stay else None,
    }


def bill_of(claim: DischargeClaim) -> dict[str, Any]:
    """The bill's fields a claim's first record carries."""
    return {
        **{part: getattr(claim, part) for part in BILL_PARTS},
        "med_type": claim.med_type,
        "begndate": claim.begndate,
        "enddate": claim.enddate,
    }


def _difference(entry: Entry | None, net: Net, cause: str) -> list[PaymentLine]:
    """Per payer: the line of ``entry`` with its amount less what was recorded; payers that no
    longer pay get their recorded net back, negated."""
    out = []
    now = {line.payer: line for line in (entry.lines if entry else ())}
    for payer, line in now.items():
        was = net.by_payer.get(payer, ZERO)
        if line.amount != was or not net.kinds:
            out.append(_changed(line, was, cause))
    for payer, was in net.by_payer.items():
        if payer not in now and was:
            last = net.last_line[payer]
            why = "cancelled" if entry is not None and entry.cancelled_by == cause else "no longer owed"
            out.append(
                last.model_copy(
                    update={
                        "amount": -was,
                        "explanation": f"{why} ({cause}): {format_yuan(was)} paid before is recovered",
                        "explanation_zh": f"{'结算撤销' if why == 'cancelled' else '不再支付'}（{cause}）："
                        f"追回此前已付 {format_yuan(was)}",
                    }
                )
            )
    return out


def _changed(line: PaymentLine, was: Decimal, cause: str) -> PaymentLine:
    if was == 0 and line.amount == 0:
        return line
    return line.model_copy(
        update={
            "amount": line.amount - was,
            "explanation": f"settled again ({cause}): was {format_yuan(was)}, now {format_yuan(line.amount)}; "
            f"{line.explanation}",
            "explanation_zh": f"重新结算（{cause}）：原 {format_yuan(was)}，现 {format_yuan(line.amount)}；"
            f"{line.explanation_zh}",
        }
    )
