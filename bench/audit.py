"""How long an auditor's replay takes: a generated year of claims (with its people's grants) as the
archive keeps it, replayed by the pure rules (``policies.audit.replay_archive``), against only
reading the same archive into inputs (``by_person``: parsing and validating every event) in the
same run. Reported per 10,000 claims and as a ratio.

    .venv/bin/python -m bench.audit [--claims 100000]
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import click

from bench.generator import year_of_claims
from policies.audit import by_person, replay_archive
from schemas.events import EligibilityChange
from store.records import ArchivedInput
from streams.codecs import encode
from streams.topics import DISCHARGED, ELIGIBILITY

_AT = datetime(2026, 11, 22, tzinfo=timezone.utc)


def archive_of(claims: int, seed: int = 7) -> list[ArchivedInput]:
    """The grants, then the claims, in the order received, as accepted inputs."""
    population, made = year_of_claims(claims, seed=seed)
    grants = [
        EligibilityChange.grant_of(p.psn_no, held, f"grant/{p.psn_no}/{held.code.value}", _AT)
        for p in population
        for held in p.categories
    ]
    inputs = [(ELIGIBILITY, "eligibility", encode(g)) for g in grants] + [
        (DISCHARGED, "claim", encode(c)) for c in made
    ]
    return [
        ArchivedInput(seq, topic, 0, seq, raw, kind, "accepted", None, _AT)
        for seq, (topic, kind, raw) in enumerate(inputs, start=1)
    ]


@click.command()
@click.option("--claims", default=100_000, show_default=True)
@click.option("--seed", default=7, show_default=True)
def main(claims: int, seed: int) -> None:
    archived = archive_of(claims, seed)
    began = time.perf_counter()
    by_person(archived)
    reading = time.perf_counter() - began
    began = time.perf_counter()
    replayed = replay_archive(archived)
    replay = time.perf_counter() - began
    per = 10_000 / claims
    click.echo(f"{claims:,} claims, {len(archived) - claims:,} grants → {len(replayed.records):,} records")
    click.echo(f"reading the archive only: {reading:.1f}s ({reading * per:.2f}s per 10,000 claims)")
    click.echo(
        f"replay by the rules:      {replay:.1f}s ({replay * per:.2f}s per 10,000 claims) "
        f"= {replay / reading:.1f} × reading only"
    )


if __name__ == "__main__":
    main()
