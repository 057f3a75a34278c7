"""What the console's pages read, through the store's public methods and the readers the commands
use (cli/, reports/). Every use of the store's paging is here, in ``_pages``, ``person_records`` and
``archive_page``, so that a change of how the store pages is made in one place."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import orjson

from cli.finance import all_records
from cli.slip import slip_of
from cli.views import person_identity
from policies.ledger import summed
from policies.received import ClaimReceived
from reports.slip import RunningTotal, SlipError
from runtime.scrape import by_label, healthz, scrape, stages
from schemas.events import CategoryHeld, EligibilityChange, Settlement
from schemas.ids import claim_key
from schemas.totals import YearTotals
from store import START, ArchivedInput, Place, Store
from store.reading import every
from workers import metrics as worker_metrics

from .roles import region_of_division

__all__ = ["all_records"]


async def person_records(store: Store, psn_no: str) -> list[Settlement]:
    """Every record of one person, in the order recorded."""
    return [record for _, record in await every(store.settlements, psn_no=psn_no, limit=10_000)]


async def archive_page(store: Store, after: Place, limit: int) -> list[ArchivedInput]:
    """Up to ``limit`` archived inputs after the place ``after``: each person's in the order they take effect."""
    return await store.inputs(after=after, limit=limit)


def place_of(item: ArchivedInput) -> Place:
    """Where the archive's next page begins after ``item``."""
    return item.place


def place_text(place: Place) -> str:
    """A place as a page's address carries it: ``<psn_no>:<seq>`` (an id may hold ':' itself: the last one splits)."""
    return f"{place.psn_no}:{place.seq}"


def place_read(text: str) -> Place:
    """The place ``place_text`` wrote; the archive's beginning for anything else."""
    psn_no, _, seq = text.rpartition(":")
    return Place(psn_no, int(seq)) if seq.isdigit() else START


async def whole_archive(store: Store, page: int = 20_000) -> list[ArchivedInput]:
    return await every(store.inputs, limit=page)


def event_of(raw: bytes) -> dict:
    """An archived input's fields when it is a JSON object (refused inputs may be anything)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


# --- a person ---------------------------------------------------------------------------------------


@dataclass
class ClaimView:
    key: str
    records: list[Settlement]

    @property
    def first(self) -> Settlement:
        return self.records[0]

    @property
    def now(self) -> Settlement:
        """What the claim's records add up to: what is owed on it now."""
        return summed(self.records)

    @property
    def later(self) -> list[Settlement]:
        return self.records[1:]

    @property
    def is_year_end(self) -> bool:
        return self.first.kind == "year_end"

    @property
    def is_premium(self) -> bool:
        """A premium subsidy (参保资助): the person's contribution, not a claim (no slip, no running totals)."""
        return self.first.kind == "premium"

    @property
    def is_claim(self) -> bool:
        return not (self.is_year_end or self.is_premium)


@dataclass
class PersonPage:
    psn_no: str
    held: list[CategoryHeld]
    events: list[EligibilityChange]
    years: dict[int, YearTotals]
    regions: set[str]
    claims: list[ClaimView]
    #: per year, each account against its deductible and cap, by the rules of the year's last claim
    running: dict[int, list[RunningTotal]] = field(default_factory=dict)
    running_claim: dict[int, str] = field(default_factory=dict)
    enrollment: list[tuple[str, str, str]] = field(default_factory=list)  # insured place, region, insurance type

    @property
    def known(self) -> bool:
        return bool(self.held or self.events or self.claims or self.years)


async def person_regions(store: Store, psn_no: str) -> set[str]:
    """The policy regions of the insured places a person's claims name (received or settled)."""
    places = {i.claim.insuplc_admdvs for i in await store.person_history(psn_no) if isinstance(i, ClaimReceived)}
    places |= {r.insuplc_admdvs for r in await person_records(store, psn_no)}
    return {region for region in map(region_of_division, places) if region}


async def person_page(store: Store, psn_no: str, as_known_at: datetime | None, now: datetime) -> PersonPage:
    held, events, years = await person_identity(store, psn_no, as_known_at)
    records = await person_records(store, psn_no)
    history = await store.person_history(psn_no)
    by_claim: dict[str, list[Settlement]] = defaultdict(list)
    for record in records:
        by_claim[record.key].append(record)
    claims = [ClaimView(key, found) for key, found in by_claim.items()]
    received = [i.claim for i in history if isinstance(i, ClaimReceived)]
    places = {c.insuplc_admdvs for c in received} | {r.insuplc_admdvs for r in records}
    page = PersonPage(psn_no, held, events, years, {r for r in map(region_of_division, places) if r}, claims)
    known_at = as_known_at.replace(tzinfo=as_known_at.tzinfo or timezone.utc) if as_known_at else None
    enrolled, _ = await store.enrollment_history(psn_no, known_at)  # the bureau's (参保登记), and the claims'
    page.enrollment = sorted(
        {(c.insuplc_admdvs, region_of_division(c.insuplc_admdvs) or "?", str(c.insutype.value)) for c in received}
        | {(p.insuplc_admdvs, region_of_division(p.insuplc_admdvs) or "?", p.insutype.value) for p in enrolled}
    )
    for year in sorted({c.first.year for c in claims if c.first.year and c.is_claim}):
        last = [c for c in claims if c.first.year == year and c.is_claim][-1]
        try:
            slip = await slip_of(store, last.key, now)
        except SlipError:
            continue
        if slip is not None:
            page.running[year], page.running_claim[year] = slip.totals, last.first.claim_id
    return page


# --- a hospital's claims ------------------------------------------------------------------------------


@dataclass
class HospitalClaim:
    claim_id: str
    psn_no: str
    enddate: str
    received_at: datetime
    status: str  # settled, waiting, rejected, cancelled
    reason: str | None = None
    revision: int = 0
    now: Settlement | None = None  # what its records add up to


def _period_holds(period: str | None, day: str) -> bool:
    return not period or day.startswith(period)


async def hospital_claims(store: Store, code: str, period: str | None) -> list[HospitalClaim]:
    """The claims hospital ``code`` sent (by discharge day, ``period`` YYYY-MM or YYYY-MM-DD), newest
    first: settled (what is owed on it now), cancelled, waiting, or refused with the reason."""
    records: dict[str, list[Settlement]] = defaultdict(list)
    for record in await all_records(store):
        if record.fixmedins_code == code:
            records[record.key].append(record)
    claims: dict[str, HospitalClaim] = {}
    for item in await whole_archive(store):
        if item.kind != "claim" or item.outcome == "repeat":
            continue
        event = event_of(item.raw)
        claim_id, enddate = str(event.get("claim_id") or "?"), str(event.get("enddate") or "")
        if event.get("fixmedins_code") != code or not _period_holds(period, enddate):
            continue
        if item.outcome == "rejected":
            claims[f"rejected/{item.seq}"] = HospitalClaim(
                claim_id, str(event.get("psn_no") or "?"), enddate, item.received_at, "rejected", item.reason
            )
            continue
        key = claim_key(code, claim_id)
        revision = event.get("revision") if isinstance(event.get("revision"), int) else 0
        found = records.get(key, [])
        status = "cancelled" if any(r.kind == "reversal" for r in found) else "settled" if found else "waiting"
        shown = claims.get(key)
        if shown is None or revision >= shown.revision:
            claims[key] = HospitalClaim(
                claim_id,
                str(event.get("psn_no")),
                enddate,
                item.received_at,
                status,
                revision=revision,
                now=summed(found) if found else None,
            )
    return sorted(claims.values(), key=lambda c: (c.enddate, c.received_at), reverse=True)


# --- operations -----------------------------------------------------------------------------------------


@dataclass
class WorkerProcess:
    process: str
    url: str
    pid: int
    healthy: bool
    report: dict
    stages: dict
    lag: dict[str, float]


async def worker_processes() -> list[WorkerProcess]:
    """Each running worker process's health and figures, from its /healthz and /metrics."""

    def read(process: str, address: dict) -> WorkerProcess:
        healthy, report = healthz(address["url"], timeout=2.0)
        try:
            samples = scrape(address["url"], timeout=2.0)
        except OSError:
            samples = {}
        return WorkerProcess(
            process,
            address["url"],
            address["pid"],
            healthy,
            report,
            stages(samples),
            by_label(samples, "onestop_consumer_lag", "worker"),
        )

    found = worker_metrics.addresses()
    return list(await asyncio.gather(*(asyncio.to_thread(read, p, a) for p, a in found.items())))


def rejections_by_kind(items: Iterable[ArchivedInput]) -> dict[str, int]:
    counted: dict[str, int] = defaultdict(int)
    for item in items:
        if item.outcome == "rejected":
            counted[item.kind] += 1
    return dict(sorted(counted.items()))
