"""`onestop keys create | add | revoke | list`: the hospitals' and authorities' signing keys."""
from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone
from pathlib import Path

import click
import orjson

from schemas.codes import Authority
from schemas.keys import KeyFile, SigningKey
from store import store_at
from streams.signing import new_key

from .common import endpoints_or_fail


def read_key_file(path: Path) -> KeyFile:
    """A signer's private key file, or a clear error."""
    try:
        return KeyFile.model_validate_json(path.read_bytes())
    except (OSError, ValueError) as error:
        raise click.ClickException(f"{path}: not a key file made by `onestop keys create`: {error}") from None


def _signer(text: str) -> tuple[str, str]:
    kind, _, who = text.partition(":")
    if kind not in ("hospital", "authority") or not who:
        raise click.BadParameter("write hospital:<fixmedins_code> or authority:<authority code>")
    if kind == "authority" and who not in {a.value for a in Authority}:
        raise click.BadParameter(f"unknown authority {who!r}; known: {', '.join(a.value for a in Authority)}")
    return kind, who


@click.group()
def keys() -> None:
    """Signing keys: each hospital and authority signs its events; the registry says who may sign what."""


@keys.command("create")
@click.option("--signer", required=True, help="hospital:<fixmedins_code> or authority:<authority code>")
@click.option("--id", "key_id", default=None, help="default: <signer>-<date>")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="default: <id>.key.json here")
def create(signer: str, key_id: str | None, out: Path | None) -> None:
    """Make a key pair: the private key file (keep it secret, 0600) and its public part (<file>.pub.json) to register."""
    kind, who = _signer(signer)
    key_id = key_id or f"{who}-{datetime.now(timezone.utc):%Y%m%d}"
    key = new_key(key_id, kind, who)
    out = out or Path(f"{key_id}.key.json")
    out.write_bytes(key.model_dump_json(indent=2).encode())
    os.chmod(out, 0o600)
    public = out.with_name(out.name.removesuffix(".key.json").removesuffix(".json") + ".pub.json")
    public.write_bytes(orjson.dumps({"key_id": key.key_id, "signer_kind": kind, "signer": who, "public_key": key.public_key},
                                    option=orjson.OPT_INDENT_2))
    click.echo(f"key {key_id} for {kind} {who}: private {out} (keep it secret), public {public} (register it: onestop keys add {public})")


@keys.command("add")
@click.argument("public_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--valid-from", type=click.DateTime(), default=None, help="default: now")
@click.option("--valid-to", type=click.DateTime(), default=None, help="default: no end")
def add(public_file: Path, valid_from: datetime | None, valid_to: datetime | None) -> None:
    """Register a public key (from <file>.pub.json or the key file itself) with its validity."""
    try:
        data = orjson.loads(public_file.read_bytes())
        key = SigningKey(key_id=data["key_id"], signer_kind=data["signer_kind"], signer=data["signer"], public_key=data["public_key"],
                         valid_from=_utc(valid_from) or datetime.now(timezone.utc), valid_to=_utc(valid_to))
    except (ValueError, KeyError) as error:
        raise click.ClickException(f"{public_file}: not a public key file: {error}") from None
    found = endpoints_or_fail()

    async def register() -> bool:
        async with store_at(found.database) as store:
            return await store.add_key(key)

    try:
        new = asyncio.run(register())
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"key {key.key_id} {'registered' if new else 'was registered already'}: {key.signer_kind} {key.signer}")


@keys.command("revoke")
@click.argument("key_id")
@click.option("--at", type=click.DateTime(), default=None, help="default: now; events received from then on are refused")
def revoke(key_id: str, at: datetime | None) -> None:
    """Revoke a key: its events received from then on are refused (earlier ones stay valid)."""
    found = endpoints_or_fail()

    async def run() -> SigningKey:
        async with store_at(found.database) as store:
            return await store.revoke_key(key_id, _utc(at) or datetime.now(timezone.utc))

    try:
        key = asyncio.run(run())
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"key {key.key_id} revoked from {key.revoked_at:%Y-%m-%d %H:%M:%S}")


@keys.command("list")
def list_keys() -> None:
    """Every registered key: who it speaks for and when it is valid."""
    found = endpoints_or_fail()

    async def run() -> dict[str, SigningKey]:
        async with store_at(found.database) as store:
            return await store.signing_keys()

    for key in asyncio.run(run()).values():
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "in force"
        until = f"{key.valid_to:%Y-%m-%d}" if key.valid_to else "open"
        click.echo(f"{key.key_id:<32} {key.signer_kind:<10} {key.signer:<24} {key.valid_from:%Y-%m-%d} – {until:<10} {state}")


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


COMMANDS = [keys]
