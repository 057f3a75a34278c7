"""`onestop presettle FILE`: what each fund would pay for each claim of FILE now (预结算, like the
national platform's 2206), from the person's year as known now; recorded nowhere. Computed here
from the ledger's history (the database only), or with --via-topic asked of the running system's
presettle worker on `claims.presettle`, signed with the hospital's key (--key), and answered on the
hospital's own `claims.presettle.replies.<fixmedins_code>`. Either way the answer holds what the
hospital may see (policies/withheld.py)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import click
import orjson

from policies.presettle import error_reply, reply_for
from schemas.keys import KeyFile
from schemas.money import format_yuan
from schemas.nhsa import PresettleReply, PresettleRequest
from store import Store
from streams.codecs import BadInput, decode, encode
from streams.topics import PRESETTLE, REJECTED, presettle_reply_topic

from .common import endpoints_or_fail
from .files import read_lines
from .finance import read_ledger
from .keys import read_key_file


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
    out = [
        f"{head}, person {reply.psn_no}: {'settling it now' if record.kind == 'settlement' else 'the corrected bill'} "
        f"would record {record.kind} {record.settlement_id}"
    ]
    names = {d.fund_pay_type: d.fund_pay_type_name for d in reply.setldetail}
    for line in record.payments:
        out.append(
            f"  {line.payer.value:<17} {line.fund_pay_type:<7} {names.get(line.fund_pay_type, ''):<14}"
            f"{format_yuan(line.amount):>12}   {line.explanation_zh or line.explanation}"
        )
    out.append(f"  {'total bill':<40}{format_yuan(record.medfee_sumamt):>12}")
    out.append(f"  {'funds pay':<40}{format_yuan(record.fund_pay_sumamt):>12}")
    out.append(f"  {'the patient pays':<40}{format_yuan(record.psn_part_amt):>12}")
    for effect in reply.effects:
        out.append(
            f"  and {effect.kind} {effect.settlement_id}: "
            f"funds {effect.fund_pay_sumamt:+.2f}, personal {effect.psn_part_amt:+.2f}"
        )
    out += [f"  note: {note}" for note in reply.notes]
    return "\n".join(out)


def show(reply: PresettleReply, fmt: str) -> None:
    if fmt == "json":
        click.echo(encode(reply).decode())
    elif fmt == "nhsa":
        click.echo(
            orjson.dumps(
                {
                    "request_id": reply.request_id,
                    "error": reply.error,
                    "setlinfo": reply.setlinfo.model_dump(mode="json") if reply.setlinfo else None,
                    "setldetail": [d.model_dump(mode="json") for d in reply.setldetail],
                }
            ).decode()
        )
    else:
        click.echo(table(reply) + "\n")


@dataclass(frozen=True)
class _Sent:
    raw: bytes  # as sent: with a request_id, and with a key, the key's hospital as its fixmedins_code
    request_id: str | None  # None: not a request (the worker refuses it on claims.rejected, answering nowhere)
    topic: str | None = None  # where its answer comes
    problem: str | None = None


def _as_sent(raws: list[bytes], key: KeyFile | None) -> list[_Sent]:
    """The requests as they are sent, each with the request_id its answer carries."""
    batch = uuid.uuid4().hex[:10]
    out = []
    for number, raw in enumerate(raws, start=1):
        data = orjson.loads(raw) if raw.strip().startswith(b"{") else None
        if not isinstance(data, dict):
            out.append(_Sent(raw, None, problem="not a JSON object"))
            continue
        data["request_id"] = data.get("request_id") or f"presettle-{batch}.{number}"
        if key is not None:
            named = data.get("fixmedins_code") or key.signer
            if named != key.signer:
                raise click.ClickException(
                    f"request {number} names hospital {named}, but the key is hospital "
                    f"{key.signer}'s: a hospital asks only for itself"
                )
            data["fixmedins_code"] = named
        raw = orjson.dumps(data)
        try:
            request = decode(PresettleRequest, raw)
            out.append(_Sent(raw, request.answer_to, presettle_reply_topic(request.fixmedins_code)))
        except (BadInput, ValueError) as problem:
            out.append(_Sent(raw, None, problem=f"request {number}: {problem}"))
    return out


async def _via_topic(kafka: str, raws: list[bytes], timeout: float, key: KeyFile | None) -> list[PresettleReply]:
    from streams.publisher import publish
    from streams.reader import read_records

    sent = _as_sent(raws, key)
    await publish(kafka, PRESETTLE, [s.raw for s in sent], PresettleRequest, signed_by=key)
    wanted = {s.request_id for s in sent if s.request_id}
    topics = sorted({s.topic for s in sent if s.topic})
    answers: dict[str, PresettleReply] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not wanted <= set(answers):
        for topic in topics:
            try:
                async for record in read_records(kafka, topic, idle_seconds=0.5):
                    reply = PresettleReply.model_validate_json(record.value)
                    if reply.request_id in wanted:
                        answers[reply.request_id] = reply
            except LookupError:  # the hospital's topic is made with its first answer
                pass
        await asyncio.sleep(0.3)
    missing = wanted - set(answers)
    if missing:
        raise click.ClickException(
            f"no answer within {timeout:.0f}s to {len(missing)} request(s) on {', '.join(topics)}: is the presettle "
            "worker running (`onestop up`)? A request not signed by a registered key of the hospital it names "
            "is refused "
            f"on {REJECTED} and answered nowhere"
        )
    now = datetime.now(timezone.utc)
    return [
        answers[s.request_id]
        if s.request_id
        else error_reply(s.raw, f"{s.problem} (refused on {REJECTED})", now, f"request {n}")
        for n, s in enumerate(sent, start=1)
    ]


async def presettle_here(
    store: Store,
    requests: list[tuple[str, bytes]],
    now: datetime,
    source: str = "",
    only_for: Callable[[PresettleRequest], str | None] | None = None,
) -> list[PresettleReply]:
    """Each request (where in ``source`` it came from, its JSON bytes) answered by the pure rules on its person's
    history as the ledger knows it now; recorded nowhere. ``only_for`` may refuse a request with a
    reason (the console: a hospital asks only for itself). `onestop presettle` and the console."""
    out = []
    for where, raw in requests:
        try:
            request = decode(PresettleRequest, raw)
        except BadInput as problem:
            out.append(error_reply(raw, f"{source + ': ' if source else ''}{where}: {problem}", now, where))
            continue
        refused = only_for(request) if only_for else None
        if refused:
            out.append(error_reply(raw, f"{source + ': ' if source else ''}{where}: {refused}", now, where))
            continue
        out.append(reply_for(await store.person_history(request.psn_no), request, now))
    return out


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "nhsa"]),
    default="table",
    show_default=True,
    help="json: each answer as on claims.presettle.replies.<fixmedins_code>; nhsa: its setlinfo / setldetail only",
)
@click.option("--via-topic", is_flag=True, help="ask the running system's presettle worker (claims.presettle) instead")
@click.option("--timeout", default=30.0, show_default=True, help="seconds to wait for answers with --via-topic")
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="with --via-topic: the hospital's key file (onestop keys create): every request is signed with it "
    "and names its hospital, and the answers are read on that hospital's own topic",
)
def presettle(file: Path, fmt: str, via_topic: bool, timeout: float, key_file: Path | None) -> None:
    """What each fund would pay for each claim of FILE (discharge events: a JSON object or list,
    JSON lines, or CSV with the contract's columns) if it were settled now; nothing is recorded.
    Exits 1 when a claim cannot be pre-settled (the answer says why)."""
    items = requests_of(file)
    if not items:
        raise click.ClickException(f"{file}: no discharge events in it")
    if key_file is not None and not via_topic:
        raise click.UsageError("--key signs the requests sent with --via-topic; without it nothing is sent")
    if via_topic:
        key = read_key_file(key_file) if key_file else None
        if key is None:
            click.echo(
                "warning: unsigned requests: the presettle worker refuses them unless ONESTOP_ACCEPT_UNSIGNED is on",
                err=True,
            )
        elif key.signer_kind != "hospital":
            raise click.ClickException(
                f"{key_file}: key {key.key_id} is {key.signer}'s, an authority's: a hospital's key signs requests"
            )
        replies = asyncio.run(_via_topic(endpoints_or_fail().kafka, [raw for _, raw in items], timeout, key))
    else:
        now = datetime.now(timezone.utc)
        numbered = [(f"line {line}", raw) for line, raw in items]
        replies = read_ledger(lambda store: presettle_here(store, numbered, now, str(file)))
    for reply in replies:
        show(reply, fmt)
    if any(reply.error for reply in replies):
        raise SystemExit(1)


COMMANDS = [presettle]
