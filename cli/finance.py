"""`onestop finance statement | reconcile`: finance's monthly clearing statement per hospital and
fund (清算, like the platform's 3203) and the reconciliation with a hospital's own list (对总账 3201,
对明细账 3202). Thin: the ledger's records in, reports/ computes and renders.

These commands only read the ledger: they use the running system's database, or — after the
main job (`onestop demo`) has stopped everything — start the embedded PostgreSQL on the data it
left (.onestop/pgdata) for the length of the command.

The reports package is imported when a command runs, so the workers' image runs without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from runtime.embedded import EmbeddedPostgres
from runtime.endpoints import NotRunning, endpoints, home
from schemas.events import Settlement
from schemas.settings import settings
from store import Store, store_at
from store.reading import every

if TYPE_CHECKING:
    from reports import statement as statements

PAGE = 5000


@contextlib.contextmanager
def ledger_database() -> Iterator[str]:
    """The ledger's database URL: ONESTOP_DATABASE_URL, the running `onestop up`, or the embedded
    PostgreSQL's data left in .onestop/pgdata (started now, stopped after)."""
    if settings.database_url:
        yield settings.database_url
        return
    try:
        yield endpoints().database
        return
    except NotRunning:
        pass
    data = home() / "pgdata"
    if not data.is_dir():
        raise click.ClickException(
            f"no ledger to read: nothing runs here and there is no {data}; run `onestop demo` "
            "or `onestop up` in this directory first, or set ONESTOP_DATABASE_URL"
        )
    postgres = EmbeddedPostgres(data).start()
    try:
        yield postgres.dsn
    finally:
        postgres.stop()


async def all_records(store: Store) -> list[Settlement]:
    """Every record of the ledger, in the order recorded."""
    return [record for _, record in await every(store.settlements, limit=PAGE)]


def read_ledger(work):
    """Run ``work(store)`` against the ledger (see ledger_database)."""

    async def run():
        with ledger_database() as url:
            async with store_at(url) as store:
                return await work(store)

    return asyncio.run(run())


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def statement_text(statement: statements.Statement) -> str:
    out = [
        f"clearing statement {statement.month}"
        + (f", hospital {statement.hospital}" if statement.hospital else "")
        + " (records by settled_at, China Standard Time; amounts in yuan)"
    ]
    if statement.empty:
        out.append("no records this month: nothing to pay")
    header = (
        f"  {'region':<10} {'fund':<8} {'name':<16} {'settl.':>6} {'sum':>13} {'adj.':>5} {'sum':>12} "
        f"{'rev.':>5} {'sum':>13} {'net payable':>14}"
    )
    for section in statement.hospitals:
        out += ["", f"{section.code or 'unknown hospital (未知医院)'} {section.name or ''}".rstrip(), header]
        out += [_text_row(row, ("settlement", "adjustment", "reversal")) for row in section.funds]
        out.append(f"  {'net to pay this hospital':<90} {section.net:>14,.2f}")
    out += ["", f"net to pay all hospitals: {statement.net:,.2f}"]
    if statement.year_end is not None and statement.year_end.record_count:
        out += [
            "",
            "year-end payments (to persons, not hospitals):",
            f"  {'region':<10} {'fund':<8} {'name':<16} {'yr-end':>6} {'sum':>13} {'adj.':>5} {'sum':>12}",
        ]
        out += [_text_row(row, ("year_end", "adjustment"), net=False) for row in statement.year_end.funds]
        out.append(f"  year-end total: {statement.year_end.net:,.2f}")
    if statement.premiums is not None and statement.premiums.record_count:
        out += [
            "",
            "premium subsidies (参保资助: persons' contributions, to the tax office), per fund:",
            f"  {'region':<10} {'fund':<8} {'name':<16} {'persons':>7} {'sum':>13}",
        ]
        out += [_text_row(row, ("premium",), net=False) for row in statement.premiums.funds]
        out.append(f"  premium subsidies total: {statement.premiums.net:,.2f}")
    return "\n".join(out)


def _text_row(row: statements.FundRow, kinds: tuple[str, ...], net: bool = True) -> str:
    name = row.fund_name if len(row.fund_name) <= 8 else row.fund_name[:7] + "…"
    cells = " ".join(
        f"{row.kinds[k].count:>{6 if i == 0 else 5}} {row.kinds[k].amount:>{13 if i != 1 else 12},.2f}"
        for i, k in enumerate(kinds)
    )
    return (
        f"  {row.region:<10} {row.fund_pay_type:<8} {name:<{16 - sum(1 for c in name if ord(c) > 0x2E80)}} {cells}"
        + (f" {row.net:>14,.2f}" if net else "")
    )


FORMATS = ("text", "csv", "json", "html", "pdf")


def render_statement(statement: statements.Statement, fmt: str) -> str | bytes:
    from reports import statement as statements

    if fmt == "text":
        return statement_text(statement) + "\n"
    if fmt == "csv":
        return statements.as_csv(statement)
    if fmt == "json":
        return orjson.dumps(statements.as_json(statement), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "html":
        from reports.render.html import statement_html

        return statement_html(statement)
    from reports.render.pdf import statement_pdf

    return statement_pdf(statement)


@click.group()
def finance() -> None:
    """Finance: the monthly clearing statement and the reconciliation with a hospital."""


@finance.command()
@click.option("--month", required=True, help="YYYY-MM: the records of this month (China Standard Time)")
@click.option("--hospital", default=None, metavar="CODE", help="one hospital (fixmedins_code); default: every hospital")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="write to this file (needed for pdf) instead of printing",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="write every format (csv, json, html, pdf) into this folder as statement-<month>[-<hospital>].*",
)
def statement(month: str, hospital: str | None, fmt: str, out: Path | None, out_dir: Path | None) -> None:
    """Per hospital and fund: the month's settlements, adjustments and reversals (count and sum)
    and the net to pay; year-end payments to persons and premium subsidies per fund listed apart."""
    from reports import statement as statements

    try:
        statements.parse_month(month)
    except statements.StatementError as error:
        raise click.BadParameter(str(error).removeprefix(f"--month {month!r}: "), param_hint="--month") from None
    records = read_ledger(all_records)
    try:
        result = statements.build_statement(records, month, hospital)
    except statements.StatementError as error:
        raise click.ClickException(str(error)) from None
    if out_dir is not None:
        stem = f"statement-{result.month}" + (f"-{_safe(hospital)}" if hospital else "")
        for kind in ("csv", "json", "html", "pdf"):
            click.echo(_write(out_dir / f"{stem}.{kind}", render_statement(result, kind)))
        return
    rendered = render_statement(result, fmt)
    if out is not None:
        click.echo(_write(out, rendered), err=True)
    elif isinstance(rendered, bytes):
        raise click.UsageError("--format pdf writes a file: give --out FILE.pdf (or --out-dir DIR)")
    else:
        click.echo(rendered, nl=False)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: write YYYY-MM-DD", param_hint=option) from None


@finance.command()
@click.option("--hospital", required=True, metavar="CODE", help="the hospital (fixmedins_code)")
@click.option(
    "--from", "begin", required=True, metavar="YYYY-MM-DD", help="first day of the period (China Standard Time)"
)
@click.option("--to", "end", required=True, metavar="YYYY-MM-DD", help="last day of the period, included")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def reconcile(hospital: str, begin: str, end: str, fmt: str, file: Path) -> None:
    """The hospital's own list of its settlements (CSV: setl_id or claim_id, medfee_sumamt,
    fund_pay_sumamt, psn_part_amt) against the ledger: the totals (3201) and every item missing
    on either side or differing (3202). Exit 0 when they agree, 1 on any difference, 2 on bad input."""
    from reports import reconcile as reconciling

    first, last = _day(begin, "--from"), _day(end, "--to")
    if last < first:
        raise click.BadParameter(f"{end} is before --from {begin}", param_hint="--to")
    try:
        listed = reconciling.read_hospital_file(file.read_bytes().decode("utf-8-sig", errors="strict"), str(file))
    except UnicodeDecodeError as error:
        raise _bad(f"{file}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except reconciling.BadFile as error:
        raise _bad(str(error)) from None
    records = read_ledger(all_records)
    try:
        result = reconciling.reconcile(listed, records, hospital, first, last)
    except reconciling.UnknownHospital as error:
        raise _bad(str(error)) from None
    if fmt == "json":
        click.echo(orjson.dumps(reconciling.as_json(result), option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(reconciling.as_text(result))
    sys.exit(0 if result.agrees else 1)


def _bad(message: str) -> click.ClickException:
    error = click.ClickException(message)
    error.exit_code = 2
    return error


COMMANDS = [finance]
