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
from datetime import datetime
from decimal import Decimal
from typing import Any

from schemas.codes import Payer
from schemas.events import (
    CategoryHeld,
    ClaimCancellation,
    DischargeClaim,
    PaymentLine,
    PolicyRef,
    RecordKind,
    Settlement,
)
from schemas.money import ZERO, format_yuan
from schemas.policy import Policy
from schemas.totals import YearTotals

from .identity import counting
from .loader import policy_for
from .premium_entries import premiums
from .received import (
    CancellationReceived,
    ClaimReceived,
    CloseReceived,
    Entry,
    Input,
    Key,
    RollReceived,
    cause_of,
    first_seqs,
    identity_at,
    key_of,
    reason_of,
)
from .settle import ClaimOfYear
from .year import settle_year

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


# --- the ledger as known at a point -------------------------------------------------------------


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
