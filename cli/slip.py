"""`onestop slip CLAIM_ID [--hospital CODE]`: the patient's one-page settlement slip (一站式结算单), HTML and PDF."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policies.ledger import truth
from policies.presettle import next_seq
from policies.received import ClaimReceived
from schemas.ids import claim_key
from store import Store

from .finance import _safe, _write, read_ledger

if TYPE_CHECKING:
    from reports.slip import Slip


@click.command()
@click.argument("claim_id")
@click.option("--hospital", default=None, help="the hospital's fixmedins_code (a claim is its hospital's and its id)")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="where slip-<claim_id>.html and .pdf are written",
)
@click.option("--png", is_flag=True, help="also a picture of the PDF page (slip-<claim_id>.png; needs pypdfium2)")
def slip(claim_id: str, hospital: str | None, out_dir: Path, png: bool) -> None:
    """Write the claim's settlement slip: the hospital, dates, the bill and its parts, each fund's
    payment with its rule in plain words, what the patient pays, the year's running totals, and
    the claim's later adjustments and reversals — in Chinese with the English beside."""
    from reports.slip import SlipError

    key = claim_key(hospital, claim_id)
    try:
        made = read_ledger(lambda store: slip_of(store, key, datetime.now(timezone.utc)))
    except SlipError as error:
        raise click.ClickException(str(error)) from None
    if made is None:
        whose = f" of hospital {hospital}" if hospital else " naming no hospital (give --hospital CODE)"
        raise click.ClickException(
            f"no records of claim {claim_id}{whose}: it was never settled here (check the id, or `onestop settlements`)"
        )
    from reports.render.html import slip_html
    from reports.render.pdf import slip_pdf

    stem = out_dir / f"slip-{_safe(claim_id)}"
    pdf = slip_pdf(made)
    click.echo(_write(Path(f"{stem}.html"), slip_html(made)))
    click.echo(_write(Path(f"{stem}.pdf"), pdf))
    if png:
        from reports.render.png import pdf_to_png

        try:
            click.echo(pdf_to_png(pdf, Path(f"{stem}.png")))
        except RuntimeError as error:
            raise click.ClickException(str(error)) from None


async def slip_of(store: Store, key: str, now: datetime) -> Slip | None:
    """The slip of the claim ``key`` (schemas/ids.py) from its records and its person's history as
    known now; None when it has no records. Raises reports.slip.SlipError. `onestop slip` and the console."""
    from reports.slip import build_slip

    records = await store.records_of(key)
    if not records:
        return None
    history = await store.person_history(records[0].psn_no)
    received = [i.claim for i in history if isinstance(i, ClaimReceived) and i.claim.key == key]
    claim = max(received, key=lambda c: c.revision) if received else None
    totals = truth(history, (next_seq(history), 0)).totals.get(records[0].year, {}) if history else {}
    return build_slip(records, totals, now, claim=claim)


COMMANDS = [slip]
