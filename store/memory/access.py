"""store/life.py's view of a batch of persons' ledgers in memory, inside the store's transaction —
as store/postgres/ledger.py's BatchedPersonAccess gives it, to the row.

What PostgreSQL's batching makes visible is mirrored: the claims that arrive are taken (checked
against what intake recorded, their queue items made ready) before anything is applied; the first
receipts and year totals those claims need are read up front and the totals kept in the batch as
the ledger computes them (the rules' path reads them as the batch left them); and records and
alerts are written when PostgreSQL's batch writes them — before the rules read more of a person's
ledger, and at the end —, records first, so that each takes the same place in its person's order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from policies.received import (
    CancellationReceived,
    ChangeReceived,
    ClaimReceived,
    CloseReceived,
    EnrollmentReceived,
    Input,
    RollReceived,
)
from policies.settle import Settled
from policies.soundness import checked
from schemas.events import (
    ClaimCancellation,
    DischargeClaim,
    EligibilityChange,
    EnrollmentChange,
    HighCostAlert,
    PremiumRoll,
    Settlement,
    YearEndClose,
)
from schemas.totals import YearTotals, totals_from_json, totals_json
from schemas.wire import encode

from ..records import ArrivedClaim, QueueItem
from .claims import first_receipt_of
from .enrollment import enrolments_of
from .identity import changes_of
from .rows import Alert, Record, loads, numeric
from .tables import Memory
from .totals import delete_years, load_totals, write_totals

#: settlements.kind's CHECK
RECORD_KINDS = ("settlement", "adjustment", "reversal", "year_end", "premium")


class PersonAccess:
    """store/life.py's PersonAccess on the memory store, for the persons of one batch."""

    def __init__(self, m: Memory) -> None:
        self.m = m
        self.written: dict[tuple[str, str], tuple[Settlement, bytes]] = {}  # (psn_no, id) -> the record as written
        #: (psn_no, claim key) -> the first receipt's seq, claim and snapshot
        self._receipts: dict[tuple[str, str], tuple[int, DischargeClaim, dict]] = {}
        self._totals: dict[tuple[str, int], YearTotals] = {}
        self._settled: dict[tuple[str, str], tuple[YearTotals, Settled]] = {}  # (psn_no, key) -> basis, settled on it
        self._records: list[Settlement] = []
        self._alerts: list[tuple[str, HighCostAlert]] = []

    def preload(self, persons: list[str], arrived: Sequence[ArrivedClaim] = ()) -> list[str | None]:
        """Read what the batch needs up front (the first receipts of the claims queued for the persons
        and of those that arrived, and those claims' year totals), then take the claims that arrived.
        Per arrival, None or why it was refused."""
        keys = {a.key for a in arrived}
        for psn_no in persons:
            queued = {i.ref for i in self.m.t.queue.get(psn_no, {}).values() if i.kind == "claim"}
            for claim_key in self.m.t.person_claims.get(psn_no, {}):
                row = first_receipt_of(self.m, psn_no, claim_key)
                if row is not None and row.snapshot is not None and (claim_key in keys or claim_key in queued):
                    claim = DischargeClaim.model_validate(loads(row.payload))
                    self._receipts[(psn_no, claim_key)] = (row.seq, claim, loads(row.snapshot))
        # every year of those claims is known now: one with no row yet has no totals
        years = {(psn_no, claim.year) for (psn_no, _), (_, claim, _) in self._receipts.items()}
        self._totals = load_totals(self.m, years)
        return [self._take(claim) for claim in arrived]

    def _take(self, arrived: ArrivedClaim) -> str | None:
        psn_no = arrived.psn_no
        receipt = self._receipts.get((psn_no, arrived.key))
        if receipt is None:
            return f"intake recorded no claim {arrived.key} of this person: a claim reaches the ledger only from intake"
        seq, claim, snapshot = receipt
        if seq != arrived.seq:
            return (
                f"claim {arrived.key} arrived at place {arrived.seq} of its person, but intake recorded it "
                "at another place"
            )
        try:
            basis = self._basis(psn_no, claim.year, arrived.basis)
            why, settled = checked(claim, snapshot, arrived.lines, basis)
        except (ValueError, TypeError, KeyError) as error:
            why = f"its lines or basis cannot be read: {type(error).__name__}: {error}"
        if why is not None:
            return f"claim {arrived.key} arrived with lines that are not the rules' for what intake recorded: {why}"
        self._settled[(psn_no, arrived.key)] = (basis, settled)
        queue = self.m.t.queue.get(psn_no, {})
        for place, item in list(queue.items()):
            if item.kind == "claim" and item.ref == arrived.key and not item.ready:
                self.m.set(queue, place, replace(item, ready=True))
        return None

    def _basis(self, psn_no: str, year: int, basis: object) -> YearTotals:
        """The totals a claim arrived with: the ledger's own when they are what it carried, else read from
        the flight."""
        own = self._totals.get((psn_no, year))
        return own if own is not None and totals_json(own) == basis else totals_from_json(basis)

    async def queue(self, psn_no: str) -> list[QueueItem]:
        return self.m.queue_of(psn_no)

    async def first_receipt(self, psn_no: str, claim_key: str) -> tuple[DischargeClaim, dict]:
        if (psn_no, claim_key) not in self._receipts:
            row = first_receipt_of(self.m, psn_no, claim_key)
            if row is None or row.snapshot is None:
                raise LookupError(f"claim {claim_key} has no first receipt of this person")
            return DischargeClaim.model_validate(loads(row.payload)), loads(row.snapshot)
        _, claim, snapshot = self._receipts[(psn_no, claim_key)]
        return claim, snapshot

    def settled_before(self, psn_no: str, claim_key: str, totals: YearTotals) -> Settled | None:
        """The claim as settled when it arrived, if that was on these very totals: the rules need not run twice."""
        known = self._settled.pop((psn_no, claim_key), None)
        return known[1] if known is not None and known[0] == totals else None

    async def totals(self, psn_no: str, year: int) -> YearTotals:
        if (psn_no, year) not in self._totals:
            self.flush()
            self._totals.update(load_totals(self.m, {(psn_no, year)}))
        return dict(self._totals[(psn_no, year)])

    async def set_totals(self, psn_no: str, year: int, totals: YearTotals) -> None:
        self._totals[(psn_no, year)] = dict(totals)
        write_totals(self.m, psn_no, year, totals)

    async def history(self, psn_no: str) -> list[Input]:
        self.flush()
        return history_of(self.m, psn_no)

    async def records(self, psn_no: str) -> list[Settlement]:
        self.flush()
        return [r.settlement() for r in records_in_order(self.m, psn_no)]

    async def write(self, records: list[Settlement], alerts: list[tuple[str, HighCostAlert]]) -> None:
        self._records += records
        self._alerts += alerts

    async def done(self, item: QueueItem) -> None:
        queue = self.m.t.queue.get(item.psn_no)
        if queue is not None:
            self.m.pop(queue, (item.seq, item.sub))
            self.m.pop(self.m.t.queued_at, (item.psn_no, item.seq, item.sub))

    async def replace_totals(self, psn_no: str, totals: dict[int, YearTotals]) -> None:
        self.flush()
        delete_years(self.m, psn_no, set(totals))
        for year, accounts in totals.items():
            await self.set_totals(psn_no, year, accounts)

    async def flag_claims(self, psn_no: str) -> None:
        self.flush()
        queue = self.m.t.queue.get(psn_no, {})
        for place, item in list(queue.items()):
            if item.kind == "claim" and not item.flagged:
                self.m.set(queue, place, replace(item, flagged=True))

    def flush(self) -> None:
        """Write the pending records, then the pending alerts, each at its person's next place."""
        records, alerts = self._records, self._alerts
        self._records, self._alerts = [], []
        self.written.update(write_records(self.m, records))
        write_alerts(self.m, alerts)


def write_records(m: Memory, records: Sequence[Settlement]) -> dict[tuple[str, str], tuple[Settlement, bytes]]:
    """Records once each, in the order given, each at its person's next place (also one whose id was
    recorded before, which is left as it was). Returns the records inserted now, with their bytes."""
    out = {}
    for record, seq in [(record, m.next_seq(record.psn_no)) for record in records]:
        if record.kind not in RECORD_KINDS:
            raise ValueError(f"a record of kind {record.kind!r} violates the check on settlements.kind")
        if record.kind == "settlement" and not 0 <= record.fund_pay_sumamt <= record.medfee_sumamt:
            raise ValueError(f"settlement {record.settlement_id} violates settlements_first_within_bill")
        if record.kind == "premium" and not 0 <= record.fund_pay_sumamt <= record.medfee_sumamt:
            raise ValueError(f"premium {record.settlement_id} violates settlements_premium_within_contribution")
        key = (record.psn_no, record.settlement_id)
        if key in m.t.records or key in out:
            continue
        wire = encode(record)
        m.set(
            m.t.records,
            key,
            Record(
                record.psn_no,
                record.settlement_id,
                seq,
                record.key,
                record.claim_id,
                record.kind,
                wire,
                numeric(record.medfee_sumamt),
                numeric(record.fund_pay_sumamt),
                numeric(record.psn_part_amt),
                record.year,
            ),
        )
        m.index(m.t.person_records, record.psn_no, record.settlement_id)
        m.index(m.t.claim_records, record.key, key)
        out[key] = (record, wire)
    return out


def write_alerts(m: Memory, alerts: Sequence[tuple[str, HighCostAlert]]) -> None:
    """Alerts once each, in the order given, each at its person's next place."""
    for (alert_id, alert), seq in [(pair, m.next_seq(pair[1].psn_no)) for pair in alerts]:
        if (alert.psn_no, alert_id) not in m.t.alerts:
            row = Alert(alert.psn_no, alert_id, seq, alert.model_dump_json().encode())
            m.set(m.t.alerts, (alert.psn_no, alert_id), row)
            m.index(m.t.person_alerts, alert.psn_no, alert_id)


def records_in_order(m: Memory, psn_no: str) -> list[Record]:
    """A person's records, in the order recorded."""
    return sorted((m.t.records[(psn_no, s)] for s in m.t.person_records.get(psn_no, {})), key=lambda r: r.seq)


def history_of(m: Memory, psn_no: str) -> list[Input]:
    """Every input of a person the ledger is built from (the year-end closes and premium rolls among
    them), in their order."""
    t = m.t
    claims = [row for key in t.person_claims.get(psn_no, {}) for row in t.claims[(psn_no, key)].values()]
    inputs: list[Input] = [ClaimReceived(row.seq, DischargeClaim.model_validate(loads(row.payload))) for row in claims]
    cancellations = [t.cancellations[key] for key in t.person_cancellations.get(psn_no, {})]
    inputs += [
        CancellationReceived(c.input_seq, ClaimCancellation.model_validate(loads(c.event))) for c in cancellations
    ]
    inputs += [
        ChangeReceived(c.input_seq, EligibilityChange.model_validate(loads(c.event))) for c in changes_of(m, psn_no)
    ]
    for region, year in t.persons_closes.get(psn_no, {}):
        taken, close = t.person_closes[(psn_no, region, year)], t.closes[(region, year)]
        inputs.append(
            CloseReceived(
                taken.seq, YearEndClose(event_id=close.event_id, region=region, year=year, closed_at=close.closed_at)
            )
        )
    inputs += [
        EnrollmentReceived(e.input_seq, EnrollmentChange.model_validate(loads(e.event)))
        for e in enrolments_of(m, psn_no)
    ]
    for region, year in t.persons_rolls.get(psn_no, {}):
        taken_roll, roll = t.person_rolls[(psn_no, region, year)], t.rolls[(region, year)]
        inputs.append(
            RollReceived(
                taken_roll.seq,
                PremiumRoll(event_id=roll.event_id, region=region, year=year, recorded_at=roll.recorded_at),
            )
        )
    return sorted(inputs, key=lambda i: i.seq)
