"""Authorities' yearly name lists (CSV) as eligibility change events.

    psn_no,category,valid_from,valid_to
    P001,dibao_rural_1,2023-01-01,
    P002,tekun,2023-01-01,2023-12-31

With ``replace``, everyone holding one of the list's categories from that authority on the
effective date who is missing from the new list gets a revocation from that date.
Event ids derive from the list's content, so importing the same list twice changes nothing.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from pydantic import ValidationError

from schemas.codes import Authority
from schemas.events import EligibilityChange
from streams.codecs import describe

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
    entries = [ListEntry(r["psn_no"].strip(), r["category"].strip(), r["valid_from"].strip(), (r.get("valid_to") or "").strip() or None)
               for r in rows]
    return entries, hashlib.sha256(raw).hexdigest()[:12]


def changes_of(entries: list[ListEntry], digest: str, authority: Authority, recorded_at: datetime,
               missing: list[tuple[str, str]] = (), effective: date | None = None) -> tuple[list[EligibilityChange], list[str]]:
    """Grants for the list's entries and revocations for ``missing`` (person, category) from ``effective``;
    plus, per bad row, its line number and what is wrong."""
    changes, problems = [], []
    for line, entry in enumerate(entries, start=2):
        try:
            changes.append(EligibilityChange(
                event_id=f"{authority.value}/list-{digest}/{entry.psn_no}/{entry.category}/grant", psn_no=entry.psn_no,
                category=entry.category, action="grant", valid_from=entry.valid_from, valid_to=entry.valid_to,
                authority=authority, recorded_at=recorded_at,
            ))
        except ValidationError as error:
            problems.append(f"line {line}: {describe(error)}")
    for psn_no, category in missing:
        changes.append(EligibilityChange(
            event_id=f"{authority.value}/list-{digest}/{psn_no}/{category}/revoke", psn_no=psn_no, category=category,
            action="revoke", valid_from=effective, authority=authority, recorded_at=recorded_at,
        ))
    return changes, problems
