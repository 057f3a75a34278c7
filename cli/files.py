"""Users' files: discharge events as JSON lines or CSV, authorities' yearly name lists (CSV), the
bureau's yearly roster of who is insured where (CSV), and the worked cases as the events a live
system receives."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import orjson
from pydantic import ValidationError

from schemas.cases import Case
from schemas.codes import Authority
from schemas.events import EligibilityChange, EnrollmentChange
from streams.codecs import describe, encode

# --- discharge events: JSON lines, or CSV with the contract's column names

BOOLEAN_COLUMNS = {"referral", "emergency_unable_to_pay"}
INTEGER_COLUMNS = {"age"}


def _csv_value(column: str, text: str):
    if column in BOOLEAN_COLUMNS:
        return text.strip().lower() in {"true", "1", "yes", "y", "是"}
    if column in INTEGER_COLUMNS:
        return int(text) if text.strip().isdigit() else text
    return text


def read_lines(path: Path) -> Iterator[bytes]:
    """Each event of a file as JSON bytes: a JSON-lines file, or a CSV with the contract's column names."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for row in csv.DictReader(handle):
                yield orjson.dumps({k: _csv_value(k, v) for k, v in row.items() if k and v not in ("", None)})
        return
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield line.rstrip(b"\r\n")


# --- authorities' yearly name lists

COLUMNS = ("psn_no", "category", "valid_from", "valid_to")


@dataclass(frozen=True)
class ListEntry:
    psn_no: str
    category: str
    valid_from: str
    valid_to: str | None


class BadList(ValueError):
    pass


def read_list(path: Path) -> tuple[list[ListEntry], str]:
    """The entries of a CSV list and a digest of its content (for stable event ids)."""
    raw = path.read_bytes()
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    if rows and not {"psn_no", "category", "valid_from"} <= set(rows[0]):
        raise BadList(f"{path}: the header must name {', '.join(COLUMNS)} (valid_to may be empty)")
    entries = [
        ListEntry(
            r["psn_no"].strip(),
            r["category"].strip(),
            r["valid_from"].strip(),
            (r.get("valid_to") or "").strip() or None,
        )
        for r in rows
    ]
    return entries, hashlib.sha256(raw).hexdigest()[:12]


def _digest(*parts: str) -> str:
    """16 hex digits standing for ``parts``: an event id's unique part that holds no person's number
    and fits an id's 64 characters (CONTRACTS.md) however long the parts are."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def list_event_id(authority: Authority, digest: str, psn_no: str, category: str, action: str) -> str:
    """A list's grant or revocation: ``<authority>.list-<digest>.<person and category>.<action>``, the
    same each time the same list is imported (so importing it again changes nothing)."""
    return f"{authority.value}.list-{digest}.{_digest(psn_no, category)}.{action}"


def changes_of(
    entries: list[ListEntry],
    digest: str,
    authority: Authority,
    recorded_at: datetime,
    missing: list[tuple[str, str]] = (),
    effective: date | None = None,
) -> tuple[list[EligibilityChange], list[str]]:
    """Grants for the list's entries and revocations for ``missing`` (person, category) from ``effective``;
    plus, per bad row, its line number and what is wrong."""
    changes, problems = [], []
    for line, entry in enumerate(entries, start=2):
        try:
            changes.append(
                EligibilityChange(
                    event_id=list_event_id(authority, digest, entry.psn_no, entry.category, "grant"),
                    psn_no=entry.psn_no,
                    category=entry.category,
                    action="grant",
                    valid_from=entry.valid_from,
                    valid_to=entry.valid_to,
                    authority=authority,
                    recorded_at=recorded_at,
                )
            )
        except ValidationError as error:
            problems.append(f"line {line}: {describe(error)}")
    for psn_no, category in missing:
        changes.append(
            EligibilityChange(
                event_id=list_event_id(authority, digest, psn_no, category, "revoke"),
                psn_no=psn_no,
                category=category,
                action="revoke",
                valid_from=effective,
                authority=authority,
                recorded_at=recorded_at,
            )
        )
    return changes, problems


# --- worked cases as events


def grants_of(case: Case) -> list[EligibilityChange]:
    person = case.person
    # <category>.<valid_from>.<8 hex digits of the case and person>: readable where it is a cause, and an id
    return [
        EligibilityChange.grant_of(
            person.psn_no, held, f"{held.code.value}.{held.valid_from:%Y%m%d}.{_digest(case.name, person.psn_no)[:8]}"
        )
        for held in person.categories
    ]


def events_of(cases: list[Case]) -> tuple[list[bytes], list[bytes]]:
    """(eligibility events, discharge events) of the cases, as JSON bytes, claims in arrival order."""
    grants = [encode(g) for case in cases for g in grants_of(case)]
    claims = [encode(c) for case in cases for c in case.claims]
    return grants, claims


# --- the medical-insurance bureau's yearly roster of who is insured where

ROSTER_COLUMNS = ("psn_no", "insutype", "insuplc_admdvs", "valid_from", "valid_to")


def roster_event_id(digest: str, row: dict[str, str]) -> str:
    """A roster row's enrollment change: ``medical_insurance.roster-<digest>.<the row>``, the same each
    time the same roster is imported (so importing it again changes nothing)."""
    return f"medical_insurance.roster-{digest}.{_digest(*(row.get(c) or '' for c in ROSTER_COLUMNS))}"


def enrollments_of(
    path: Path, recorded_at: datetime, year: int | None = None
) -> tuple[list[EnrollmentChange], list[str]]:
    """The enrollment changes of a roster (CSV with the columns of ROSTER_COLUMNS; with ``year``, an
    empty valid_from or valid_to is that year's first or last day; without, an empty valid_to is
    open), and per bad row its line number and what is wrong."""
    raw = path.read_bytes()
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    required = {"psn_no", "insutype", "insuplc_admdvs"} | (set() if year else {"valid_from"})
    if rows and not required <= set(rows[0]):
        raise BadList(
            f"{path}: the header must name {', '.join(ROSTER_COLUMNS)} (valid_to may be empty"
            + (", valid_from too with --year)" if year else ")")
        )
    digest = hashlib.sha256(raw).hexdigest()[:12]
    changes, problems = [], []
    for line, row in enumerate(rows, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k}
        fields = {
            **row,
            "valid_from": row.get("valid_from") or (f"{year}-01-01" if year else ""),
            "valid_to": row.get("valid_to") or (f"{year}-12-31" if year else None),
        }
        try:
            changes.append(
                EnrollmentChange(
                    event_id=roster_event_id(digest, row),
                    recorded_at=recorded_at,
                    **{c: fields.get(c) for c in ROSTER_COLUMNS},
                )
            )
        except ValidationError as error:
            problems.append(f"line {line}: {describe(error)}")
    return changes, problems
