"""`onestop enrollment publish | import` and `onestop premiums roll | list`: premium subsidies (参保资助,
PARAMETERS.md "Premium subsidies") — who is insured where, the year's roll of a region, and the list
for the tax office that collects contributions (代缴名单)."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timezone
from pathlib import Path

import click
import orjson
from pydantic import ValidationError

from policies.loader import load_policies
from policies.plausible import implausible
from policies.premiums import roll_refusal
from schemas.codes import Authority
from schemas.events import EnrollmentChange, PremiumRoll
from store import Store
from streams.codecs import describe, encode
from streams.publisher import publish
from streams.topics import ENROLLMENT, PREMIUM_ROLLS

from .common import endpoints_or_fail
from .files import BadList, enrollments_of
from .inputs import KEY_OPTION, _publish_file
from .keys import read_key_file

BUREAU_KEY = click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="a key file of the authority medical_insurance (onestop keys create --signer authority:medical_insurance): "
    "the events are signed with it; the workers refuse them signed by any other",
)


def _bureau_key(key_file: Path | None, what: str):
    """The bureau's key, or None (with a warning: the workers then refuse unless ONESTOP_ACCEPT_UNSIGNED)."""
    if key_file is None:
        click.echo(
            f"warning: publishing unsigned {what}: the workers refuse them unless ONESTOP_ACCEPT_UNSIGNED is on",
            err=True,
        )
        return None
    key = read_key_file(key_file)
    if (key.signer_kind, key.signer) != ("authority", Authority.medical_insurance.value):
        raise click.ClickException(
            f"{key_file} is {key.signer_kind} {key.signer}'s key: only a key of the authority "
            f"medical_insurance signs {what}"
        )
    return key


@click.group()
def enrollment() -> None:
    """Who is insured where (enrollment.changes, 参保登记), from the medical-insurance bureau."""


@enrollment.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@KEY_OPTION
def enrollment_publish(file: Path, key_file: Path | None) -> None:
    """Publish a JSON-lines or CSV file of enrollment changes (event_id, psn_no, insutype, insuplc_admdvs,
    valid_from, valid_to, recorded_at)."""
    _publish_file(file, ENROLLMENT, EnrollmentChange, key_file)


@enrollment.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--year", type=int, default=None, help="the roster's year: an empty valid_from or valid_to is its first or last day"
)
@BUREAU_KEY
def enrollment_import(file: Path, year: int | None, key_file: Path | None) -> None:
    """Turn the bureau's roster (CSV: psn_no, insutype, insuplc_admdvs, valid_from, valid_to) into
    enrollment changes and publish them; importing the same roster again changes nothing."""
    found = endpoints_or_fail()
    try:
        changes, problems = enrollments_of(file, datetime.now(timezone.utc), year)
    except BadList as error:
        raise click.ClickException(str(error)) from None
    for problem in problems:
        click.echo(f"  not imported: {problem}", err=True)
    key = _bureau_key(key_file, "enrollment changes")
    events = [encode(c) for c in changes]
    with click.progressbar(length=len(events), label=f"publishing to {ENROLLMENT}", file=sys.stderr) as bar:
        asyncio.run(publish(found.kafka, ENROLLMENT, events, EnrollmentChange, bar, signed_by=key))
    click.echo(f"{len(changes)} enrollment changes published; {len(problems)} rows not imported")


@click.group()
def premiums() -> None:
    """Premium subsidies (参保资助): the year's roll of a region, and the list for the tax office."""


@premiums.command("roll")
@click.argument("region")
@click.argument("year", type=int)
@click.option("--event-id", default=None, help="default: premiums.<region>.<year>, so rolling twice is one roll")
@BUREAU_KEY
def premiums_roll(region: str, year: int, event_id: str | None, key_file: Path | None) -> None:
    """Roll REGION's YEAR: one premium record per person it subsidises (premiums.rolls); refused, with
    nothing published, for a region or year no policy subsidises."""
    region = next((p.region for p in load_policies() if region in (p.region, p.pooled_city)), region)
    why_not = roll_refusal(region, year)
    if why_not is not None:
        raise click.ClickException(f"not rolled: {why_not}")
    found = endpoints_or_fail()
    key = _bureau_key(key_file, "premium rolls")
    try:
        roll = PremiumRoll(
            event_id=event_id or f"premiums.{region}.{year}",
            region=region,
            year=year,
            recorded_at=datetime.now(timezone.utc),
        )
    except ValidationError as error:
        raise click.ClickException(describe(error)) from None
    problem = implausible(roll, roll.recorded_at)
    if problem:
        raise click.ClickException(problem)
    asyncio.run(publish(found.kafka, PREMIUM_ROLLS, [encode(roll)], PremiumRoll, key_field="region", signed_by=key))
    click.echo(
        f"published the roll {roll.event_id} of {region} {year}; the premiums worker puts it in the order of "
        "each person it may subsidise, and the ledger makes their records"
    )


@premiums.command("list")
@click.option("--region", required=True)
@click.option("--year", required=True, type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="write to this file")
def premiums_list(region: str, year: int, fmt: str, out: Path | None) -> None:
    """The list for the tax office (代缴名单): per subsidised person, the contribution, what is subsidised
    (by which fund) and what the person still pays."""
    from reports import premiums as listing

    from .finance import read_ledger

    async def read(store: Store):
        return await store.rolls(), await store.premium_records(region, year)

    rolls, records = read_ledger(read)
    if not any((r.region, r.year) == (region, year) for r in rolls):
        click.echo(f"{region} {year} has not been rolled (onestop premiums roll {region} {year})", err=True)
    rows = listing.tax_office_list(records)
    if fmt == "csv":
        text = listing.as_csv(rows)
    elif fmt == "json":
        text = orjson.dumps(listing.as_json(rows, region, year), option=orjson.OPT_INDENT_2).decode() + "\n"
    else:
        text = listing.as_text(rows, region, year) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        click.echo(f"{out}: {len(rows)} persons", err=True)


COMMANDS = [enrollment, premiums]
