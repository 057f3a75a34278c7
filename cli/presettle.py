"""`onestop presettle FILE`: what each fund would pay for each claim of FILE now (预结算, like the
national platform's 2206), from the person's year as known now; recorded nowhere. Computed here
from the ledger's history (the database only), or with --via-topic asked of the running system's
presettle worker on `claims.presettle` and answered on `claims.presettle.replies`."""
from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import click
import orjson

from policies.presettle import error_reply, reply_for
from schemas.money import format_yuan
from schemas.nhsa import PresettleReply, PresettleRequest
from streams.codecs import BadInput, decode, encode
from streams.topics import PRESETTLE, PRESETTLE_REPLIES

from .common import endpoints_or_fail
from .files import read_lines
from .finance import read_ledger


def requests_of(path: Path) -> list[tuple[int, bytes]]:
    """(line, JSON bytes) of each request: a JSON object or list of them, JSON lines, or CSV."""
    text = path.read_bytes()
    if path.suffix.lower() != ".csv":
        try:
            whole = orjson.loads(text)
        except orjson.JSONDecodeError:
            whole = None
        if isinstance(whole, dict):
            return [(1, orjson.dumps(whole))]
        if isinstance(whole, list):
            return [(n, orjson.dumps(item)) for n, item in enumerate(whole, start=1)]
    return list(enumerate(read_lines(path), start=2 if path.suffix.lower() == ".csv" else 1))


def table(reply: PresettleReply) -> str:
    head = f"claim {reply.claim_id or '?'} (request {reply.request_id})"
    if reply.error:
        return f"{head}: cannot be pre-settled: {reply.error}"
    record = reply.settlement
    out = [f"{head}, person {reply.psn_no}: {'settling it now' if record.kind == 'settlement' else 'the corrected bill'} "
           f"would record {record.kind} {record.settlement_id}"]
    names = {d.fund_pay_type: d.fund_pay_type_name for d in reply.setldetail}
    for line in record.payments:
        out.append(f"  {line.payer.value:<17} {line.fund_pay_type:<7} {names.get(line.fund_pay_type, ''):<14}"
                   f"{format_yuan(line.amount):>12}   {line.explanation_zh or line.explanation}")
    out.append(f"  {'total bill':<40}{format_yuan(record.medfee_sumamt):>12}")
    out.append(f"  {'funds pay':<40}{format_yuan(record.fund_pay_sumamt):>12}")
    out.append(f"  {'the patient pays':<40}{format_yuan(record.psn_part_amt):>12}")
    for effect in reply.effects:
        out.append(f"  and {effect.kind} {effect.settlement_id}: "
                   f"funds {effect.fund_pay_sumamt:+.2f}, personal {effect.psn_part_amt:+.2f}")
    out += [f"  note: {note}" for note in reply.notes]
    return "\n".join(out)


def show(reply: PresettleReply, fmt: str) -> None:
    if fmt == "json":
        click.echo(encode(reply).decode())
    elif fmt == "nhsa":
        click.echo(orjson.dumps({"request_id": reply.request_id, "error": reply.error,
                                 "setlinfo": reply.setlinfo.model_dump(mode="json") if reply.setlinfo else None,
                                 "setldetail": [d.model_dump(mode="json") for d in reply.setldetail]}).decode())
    else:
        click.echo(table(reply) + "\n")


async def _via_topic(kafka: str, raws: list[bytes], timeout: float) -> list[PresettleReply]:
    from streams.publisher import publish
    from streams.reader import read_records

    batch = uuid.uuid4().hex[:10]
    wanted, sent = [], []
    for number, raw in enumerate(raws, start=1):
        data = orjson.loads(raw) if raw.strip().startswith(b"{") else None
        if isinstance(data, dict) and not data.get("request_id"):
            data["request_id"] = f"presettle-{batch}.{number}"
            raw = orjson.dumps(data)
        wanted.append(data.get("request_id") if isinstance(data, dict) else None)
        sent.append(raw)
    await publish(kafka, PRESETTLE, sent, PresettleRequest)
    answers: dict[str, PresettleReply] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(w in answers for w in wanted if w):
        async for record in read_records(kafka, PRESETTLE_REPLIES, idle_seconds=0.5):
            reply = PresettleReply.model_validate_json(record.value)
            if reply.request_id in wanted:
                answers[reply.request_id] = reply
        await asyncio.sleep(0.3)
    missing = [w for w in wanted if w and w not in answers]
    if missing:
        raise click.ClickException(f"no answer within {timeout:.0f}s to {len(missing)} request(s) on {PRESETTLE_REPLIES}: "
                                   "is the presettle worker running (`onestop up`)?")
    now = datetime.now(timezone.utc)
    return [answers[w] if w else error_reply(raw, "not a JSON object", now, f"request {n}")
            for n, (w, raw) in enumerate(zip(wanted, sent), start=1)]


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "nhsa"]), default="table", show_default=True,
              help="json: each answer as on claims.presettle.replies; nhsa: its setlinfo / setldetail only")
@click.option("--via-topic", is_flag=True, help="ask the running system's presettle worker (claims.presettle) instead")
@click.option("--timeout", default=30.0, show_default=True, help="seconds to wait for answers with --via-topic")
def presettle(file: Path, fmt: str, via_topic: bool, timeout: float) -> None:
    """What each fund would pay for each claim of FILE (discharge events: a JSON object or list,
    JSON lines, or CSV with the contract's columns) if it were settled now; nothing is recorded.
    Exits 1 when a claim cannot be pre-settled (the answer says why)."""
    items = requests_of(file)
    if not items:
        raise click.ClickException(f"{file}: no discharge events in it")
    if via_topic:
        replies = asyncio.run(_via_topic(endpoints_or_fail().kafka, [raw for _, raw in items], timeout))
    else:
        now = datetime.now(timezone.utc)

        async def answer(store) -> list[PresettleReply]:
            out = []
            for line, raw in items:
                try:
                    request = decode(PresettleRequest, raw)
                except BadInput as problem:
                    out.append(error_reply(raw, f"{file}: line {line}: {problem}", now, f"line {line}"))
                    continue
                out.append(reply_for(await store.person_history(request.psn_no), request, now))
            return out

        replies = read_ledger(answer)
    for reply in replies:
        show(reply, fmt)
    if any(reply.error for reply in replies):
        raise SystemExit(1)


COMMANDS = [presettle]
