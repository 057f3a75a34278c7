"""`onestop audit replay | verify`: an auditor gets the same fen.

replay: every input the ledger was built from — discharge events, cancellations, eligibility and
enrollment changes, year-end closes, premium rolls — from the database's archive (always there) or
from the topics (a real Kafka with retention), run in the recorded order through the pure rules into
a fresh ledger, and compared record by record, to the fen, with the database's ledger and with
settlements.completed.
verify: the ledger's own invariants.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import click
from pydantic import ValidationError

from policies.audit import differences, replay_archive, totals_per_fund
from runtime.endpoints import Endpoints
from schemas.events import Settlement
from schemas.money import format_yuan
from store import ArchivedInput, Place, store_at
from store.columns import digest
from store.reading import every
from streams.codecs import describe
from streams.reader import read_records
from streams.topics import CANCELLED, DISCHARGED, ELIGIBILITY, ENROLLMENT, PREMIUM_ROLLS, SETTLEMENTS, YEAR_END

from .common import endpoints_or_fail

INPUT_TOPICS = (DISCHARGED, CANCELLED, ELIGIBILITY, YEAR_END, ENROLLMENT, PREMIUM_ROLLS)


@click.group()
def audit() -> None:
    """Replay the inputs through the pure rules and compare; check the ledger's invariants."""


@audit.command("replay")
@click.option(
    "--from",
    "source",
    type=click.Choice(["archive", "topics"]),
    default="archive",
    help="archive: the database's copy of every input as received; topics: the input topics (a Kafka with retention)",
)
@click.option("--show", default=50, help="differences printed at most (all are counted)")
def replay_command(source: str, show: int) -> None:
    """Replay every input in the recorded order into a fresh ledger; exit 1 on any difference."""
    found = endpoints_or_fail()
    bars = []

    def progress(done: int, claims: int) -> None:
        if not bars:  # the claims are counted once the archive is read
            bars.append(click.progressbar(length=claims, label="replaying", file=sys.stderr).__enter__())
        bars[0].update(done)

    try:
        outcome = replay(found, source, progress)
    finally:
        for bar in bars:
            bar.__exit__(None, None, None)
    for note in outcome.notes:
        click.echo(note, err=True)
    for line in outcome.summary:
        click.echo(line)
    for problem in outcome.problems[:show]:
        click.echo(f"  DIFFERENCE {problem}")
    if outcome.problems:
        click.echo(f"{len(outcome.problems)} differences")
        raise SystemExit(1)
    click.echo("no difference: the ledger and settlements.completed are what the inputs make, to the fen")


@dataclass
class AuditReplay:
    """What an auditor's replay found: the summary's lines, every difference in words, and notes on
    what could not be compared (said, not counted)."""

    summary: list[str]
    problems: list[str]
    notes: list[str]


def replay(
    found: Endpoints, source: str, progress: Callable[[int, int], None] = lambda done, claims: None
) -> AuditReplay:
    """Replay every input (from the archive or the topics) into a fresh ledger and compare it with
    the ledger and settlements.completed; ``progress(claims replayed since the last call, claims in
    all)``. Runs its own event loop (call it in a thread from one): `onestop audit replay` and the
    console's audit page."""
    began = time.monotonic()
    notes: list[str] = []
    archived, numbered, topic, missing = asyncio.run(_gather(found, source, notes))
    numbered, damaged = _valid(numbered)
    ledger = [record for _, record in numbered]
    claims = sum(1 for a in archived if a.kind == "claim" and a.outcome == "accepted")
    progress(0, claims)
    replayed = replay_archive(archived, progress=lambda done: progress(done, claims))
    expected_on_topic = _since_the_topic_began(replayed.records, numbered, topic, notes)
    unreadable = {d.split(" ")[2] for d in damaged}
    problems = [
        *missing,
        *damaged,
        *differences([r for r in replayed.records if r.settlement_id not in unreadable], ledger, "ledger"),
        *differences(expected_on_topic, topic, SETTLEMENTS),
    ]
    return AuditReplay(_summary(source, replayed, ledger, topic, claims, time.monotonic() - began), problems, notes)


async def _gather(found, source: str, notes: list[str]):
    async with store_at(found.database) as store:
        archived = await archive(store)
        ledger = await every(store.record_documents)
    missing: list[str] = []
    if source == "topics":
        archived, missing = await _from_topics(found.kafka, archived, notes)
    topic = _last_of_each(
        [Settlement.model_validate_json(r.value) async for r in read_records(found.kafka, SETTLEMENTS)]
    )
    return archived, ledger, topic, missing


def _valid(documents: list[tuple[Place, dict]]) -> tuple[list[tuple[Place, Settlement]], list[str]]:
    """The ledger's records that are records at all; each that is not is a difference, named."""
    good, damaged = [], []
    for seq, document in documents:
        try:
            good.append((seq, Settlement.model_validate(document)))
        except ValidationError as error:
            damaged.append(
                f"ledger: record {document.get('settlement_id', seq)} is not a valid record: {describe(error)}"
            )
    return good, damaged


async def archive(store) -> list[ArchivedInput]:
    """Every input as received, in the order they take effect."""
    return await every(store.inputs)


async def _from_topics(
    kafka: str, archived: list[ArchivedInput], notes: list[str]
) -> tuple[list[ArchivedInput], list[str]]:
    """The inputs as the topics hold them, each in its recorded places (a close or a roll in the order
    of each person it concerns); a record the system never received, or whose bytes differ from what it
    received, is a difference. The topics hold their current life only (an embedded broker starts
    them afresh when restarted): what was received in earlier lives is replayed from the archive."""
    life = max((a.life for a in archived), default=0)
    placed: dict[tuple[str, int, int], list[ArchivedInput]] = {}
    for a in archived:
        if a.life == life and a.partition is not None and a.offset is not None:
            placed.setdefault((a.topic, a.partition, a.offset), []).append(a)
    out, problems, seen = [a for a in archived if a.life != life], [], set()
    for topic in INPUT_TOPICS:
        async for record in read_records(kafka, topic):
            known = placed.get((topic, record.partition, record.offset), [])
            if not known or any(digest(record.value) != digest(a.raw) for a in known):
                problems.append(
                    f"{topic}[{record.partition}]@{record.offset}: on the topic but not what the system received"
                )
                continue
            seen.update(a.place for a in known)
            out += known
    gone = [
        a
        for a in archived
        if a.life == life and a.place not in seen and a.topic in INPUT_TOPICS and a.partition is not None
    ]
    if gone:
        notes.append(
            f"{len(gone)} archived inputs are no longer on the topics (retention, or an embedded broker "
            "restarted); replayed from the topics without them"
        )
    return sorted(out, key=lambda a: a.place), problems


def _since_the_topic_began(
    expected: list[Settlement], numbered: list[tuple[Place, Settlement]], topic: list[Settlement], notes: list[str]
) -> list[Settlement]:
    """The records the topic must hold: those the ledger recorded since the topic's first record.
    An embedded broker keeps topics in memory only, so after a restart its topic starts empty:
    the earlier records are in the ledger (compared above), not on the topic; said, not counted."""
    on_topic = {r.settlement_id for r in topic}
    first = min((r.settled_at for _, r in numbered if r.settlement_id in on_topic), default=None)
    earlier = {r.settlement_id for _, r in numbered if first is None or r.settled_at < first}
    if earlier:
        notes.append(
            f"{len(earlier)} records were recorded before {SETTLEMENTS} began (a restarted embedded broker "
            "keeps no topics): compared with the ledger only"
        )
    return [r for r in expected if r.settlement_id not in earlier or r.settlement_id in on_topic]


def _last_of_each(records: list[Settlement]) -> list[Settlement]:
    """settlements.completed may hold a record twice (published again after a crash): the same id and amounts."""
    return list({r.settlement_id: r for r in records}.values())


def _summary(source, replayed, ledger, topic, claims: int, seconds: float) -> list[str]:
    kinds = Counter()
    for (kind, _), count in replayed.inputs.items():
        kinds[kind] += count
    refused = ", ".join(
        f"{count} {kind} {outcome}"
        for (kind, outcome), count in sorted(replayed.inputs.items())
        if outcome != "accepted"
    )
    lines = [
        f"replayed from the {source}: "
        + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        + " inputs"
        + (f" ({refused}: no effect)" if refused else ""),
        f"records: {len(replayed.records)} made by the replay, {len(ledger)} in the ledger, "
        f"{len(topic)} on {SETTLEMENTS}",
    ]
    lines += [f"  {fund:<28} {format_yuan(amount):>18}" for fund, amount in totals_per_fund(replayed.records).items()]
    per = seconds / claims * 10_000 if claims else 0.0
    return [*lines, f"took {seconds:.1f} s ({per:.1f} s per 10,000 claims)"]


@audit.command("verify")
def verify_command() -> None:
    """Check the ledger's invariants; exit 1 on any breach."""
    found = endpoints_or_fail()

    async def check() -> tuple[list[str], dict]:
        async with store_at(found.database) as store:
            return await store.check_ledger(), await store.counts()

    breaches, counts = asyncio.run(check())
    click.echo(
        f"checked {counts['settlements']} records, {counts['claims_received']} claims: "
        "every record balances, year totals equal their lines, one settlement per claim, "
        "one line per payer in a record, every later record follows a first one"
    )
    for breach in breaches:
        click.echo(f"  BREACH {breach}")
    if breaches:
        click.echo(f"{len(breaches)} breaches")
        raise SystemExit(1)
    click.echo("the ledger holds")


COMMANDS = [audit]
