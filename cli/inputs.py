"""`onestop claims … | eligibility …`: publishing hospitals' and authorities' events from files."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timezone
from pathlib import Path

import click
from pydantic import ValidationError

from policies.loader import load_policies, policy_named
from policies.plausible import implausible
from runtime.endpoints import Endpoints
from schemas.codes import Authority
from schemas.events import ClaimCancellation, DischargeClaim, EligibilityChange, YearEndClose
from schemas.keys import KeyFile
from schemas.personal import mask
from store import store_at
from streams.codecs import describe, encode
from streams.publisher import publish
from streams.topics import CANCELLED, DISCHARGED, ELIGIBILITY, YEAR_END

from .common import endpoints_or_fail
from .files import BadList, changes_of, read_lines, read_list
from .keys import read_key_file

KEY_OPTION = click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="the signer's key file (onestop keys create): every event is signed with it",
)


def _publish_file(file: Path, topic: str, model, key_file: Path | None) -> None:
    found = endpoints_or_fail()
    events = list(read_lines(file))
    key = read_key_file(key_file) if key_file else None
    if key is None:
        click.echo(
            "warning: publishing unsigned events: the workers refuse them unless ONESTOP_ACCEPT_UNSIGNED is on",
            err=True,
        )
    with click.progressbar(length=len(events), label=f"publishing to {topic}", file=sys.stderr) as bar:
        tally = asyncio.run(publish(found.kafka, topic, events, model, bar, signed_by=key))
    for reason in tally.reasons:
        click.echo(f"  rejected {reason}", err=True)
    click.echo(
        f"published {len(events)}: {tally.accepted} accepted, {tally.rejected} rejected (see the rejection topic)"
    )


@click.group()
def claims() -> None:
    """Discharge events (claims.discharged)."""


@claims.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@KEY_OPTION
def claims_publish(file: Path, key_file: Path | None) -> None:
    """Publish a JSON-lines or CSV file of discharge events."""
    _publish_file(file, DISCHARGED, DischargeClaim, key_file)


@claims.command("cancel")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@KEY_OPTION
def claims_cancel(file: Path, key_file: Path | None) -> None:
    """Publish a JSON-lines file of cancellations (claims.cancelled): event_id, claim_id, psn_no, reason,
    cancelled_at, fixmedins_code."""
    _publish_file(file, CANCELLED, ClaimCancellation, key_file)


@claims.command("cancellations")
def claims_cancellations() -> None:
    """List the cancellations still waiting for their claim (never dropped: applied when it arrives)."""
    found = endpoints_or_fail()

    async def show() -> list[ClaimCancellation]:
        async with store_at(found.database) as store:
            return await store.waiting_cancellations()

    waiting = asyncio.run(show())
    for c in waiting:
        click.echo(
            f"{c.event_id:<24} claim {c.claim_id:<20} person {mask(c.psn_no):<10} "
            f"cancelled {c.cancelled_at:%Y-%m-%d %H:%M}  {c.reason}"
        )
    click.echo(f"{len(waiting)} cancellations waiting for their claim")


@click.group("year-end")
def year_end() -> None:
    """The year-end close (年终清算) of a region's year (year_end.closes)."""


@year_end.command("close")
@click.argument("region")
@click.argument("year", type=int)
@click.option("--event-id", default=None, help="default: year-end.<region>.<year>, so closing twice is one close")
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="a key file of the authority medical_insurance (onestop keys create --signer authority:medical_insurance): "
    "the close is signed with it; the year_end worker refuses a close signed by any other",
)
def year_end_close(region: str, year: int, event_id: str | None, key_file: Path | None) -> None:
    """Close REGION's YEAR: pay what its rules defer to the year end, once per person (as year_end records)."""
    found = endpoints_or_fail()
    key = read_key_file(key_file) if key_file else None
    if key is None:
        click.echo(
            "warning: publishing an unsigned close: "
            "the year_end worker refuses it unless ONESTOP_ACCEPT_UNSIGNED is on",
            err=True,
        )
    try:
        close = year_end_close_of(region, year, event_id, key, datetime.now(timezone.utc))
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    asyncio.run(publish(found.kafka, YEAR_END, [encode(close)], YearEndClose, key_field="region", signed_by=key))
    click.echo(
        f"published the close {close.event_id} of {close.region} {year}; the year_end worker settles each person's year"
    )


def year_end_close_of(region: str, year: int, event_id: str | None, key: KeyFile | None, now: datetime) -> YearEndClose:
    """The close of REGION's YEAR as it is published, or ValueError saying why it cannot be: no such
    region, a key not of the authority medical_insurance, a year not yet over. `onestop year-end
    close` and the console's finance page."""
    policies = policy_named(region)
    if not policies:
        known = ", ".join(sorted({p.region for p in load_policies()}))
        raise ValueError(f"no policy for {region!r}; known regions: {known}")
    if key is not None and (key.signer_kind, key.signer) != ("authority", Authority.medical_insurance.value):
        raise ValueError(
            f"key {key.key_id} is {key.signer_kind} {key.signer}'s: only a key of the authority "
            "medical_insurance signs year-end closes"
        )
    try:
        close = YearEndClose(
            event_id=event_id or f"year-end.{policies[0].region}.{year}",
            region=policies[0].region,
            year=year,
            recorded_at=now,
        )
    except ValidationError as error:
        raise ValueError(describe(error)) from None
    why_not = implausible(close, close.recorded_at)
    if why_not:
        raise ValueError(why_not)
    return close


@click.group()
def eligibility() -> None:
    """Eligibility changes (eligibility.changes)."""


@eligibility.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@KEY_OPTION
def eligibility_publish(file: Path, key_file: Path | None) -> None:
    """Publish a JSON-lines file of eligibility changes."""
    _publish_file(file, ELIGIBILITY, EligibilityChange, key_file)


@eligibility.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--authority", required=True, type=click.Choice([a.value for a in Authority]))
@click.option("--replace", is_flag=True, help="revoke the list's categories of everyone missing from it")
@click.option(
    "--effective",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="date the revocations take effect (default today)",
)
@KEY_OPTION
def eligibility_import(
    file: Path, authority: str, replace: bool, effective: datetime | None, key_file: Path | None
) -> None:
    """Turn an authority's CSV name list into eligibility changes and publish them."""
    found = endpoints_or_fail()
    try:
        entries, digest = read_list(file)
    except BadList as error:
        raise click.ClickException(str(error)) from None
    on = (effective or datetime.now()).date()
    missing = asyncio.run(_missing_from(found, entries, Authority(authority), on)) if replace else []
    changes, problems = changes_of(entries, digest, Authority(authority), datetime.now(timezone.utc), missing, on)
    for problem in problems:
        click.echo(f"  not imported: {problem}", err=True)
    events = [encode(c) for c in changes]
    key = read_key_file(key_file) if key_file else None
    with click.progressbar(length=len(events), label="publishing to eligibility.changes", file=sys.stderr) as bar:
        asyncio.run(publish(found.kafka, ELIGIBILITY, events, EligibilityChange, bar, signed_by=key))
    grants = sum(c.action == "grant" for c in changes)
    click.echo(f"{grants} grants and {len(changes) - grants} revocations published; {len(problems)} rows not imported")


async def _missing_from(found: Endpoints, entries, authority: Authority, on) -> list[tuple[str, str]]:
    listed = {(e.psn_no, e.category) for e in entries}
    async with store_at(found.database) as store:
        holding = await store.holders(authority.value, sorted({e.category for e in entries}), on)
    return [pair for pair in holding if pair not in listed]


COMMANDS = [claims, eligibility, year_end]
