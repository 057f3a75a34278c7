"""Premium subsidies as ledger entries: from a person's inputs in their order, each rolled year's
subsidy (policies/premiums.py says who is subsidised and how much), made once and never changed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from .enrollment import enrollment_from
from .premiums import contribution_of, entitlement, known_on, premium_policy
from .received import ChangeReceived, EnrollmentReceived, Entry, Input, RollReceived, identity_at


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
