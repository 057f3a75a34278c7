"""`onestop keys create | prove | challenge | add | revoke | list`: the hospitals' and authorities' signing keys.

Registering a key takes two people and one round trip, so that nobody registers a public key
whose private half they do not hold, or a key for another signer or id:

1. the administrator asks the registry for a challenge (`onestop keys challenge`) and gives it to
   the key's holder;
2. the holder signs it with the key (`onestop keys create … --challenge C` for a new key, or
   `onestop keys prove --key FILE --challenge C` for one made earlier), which writes a proof file;
3. the administrator registers the key from that proof (`onestop keys add PROOF`).

The administrator's commands connect as the role onestop_admin (ONESTOP_ADMIN_DATABASE_URL, or
the embedded PostgreSQL's), which may do nothing but this.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import orjson

from schemas.codes import Authority
from schemas.keys import KeyFile, KeyProof, SigningKey
from store import Store, store_at
from streams.signing import new_key, prove

from .common import endpoints_or_fail

PROCEDURE = (
    "registering a key: `onestop keys challenge` (administrator) → `onestop keys prove --key FILE --challenge C` "
    "(the key's holder; writes FILE's .proof.json) → `onestop keys add PROOF` (administrator)"
)


def read_key_file(path: Path) -> KeyFile:
    """A signer's private key file, or a clear error."""
    try:
        return KeyFile.model_validate_json(path.read_bytes())
    except (OSError, ValueError) as error:
        raise click.ClickException(f"{path}: not a key file made by `onestop keys create`: {error}") from None


def read_proof(path: Path) -> KeyProof:
    """A proof file written by `onestop keys prove` (or `keys create --challenge`), or a clear error."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        raise click.ClickException(f"{path}: not JSON: {error}") from None
    if isinstance(data, dict) and "challenge" not in data and "public_key" in data:
        raise click.ClickException(
            f"{path} is a public key without proof that its holder has the private half; {PROCEDURE}"
        )
    try:
        return KeyProof.model_validate(data)
    except ValueError as error:
        raise click.ClickException(f"{path}: not a proof file made by `onestop keys prove`: {error}") from None


async def register_key(store: Store, key: KeyFile, valid_from: datetime, valid_to: datetime | None = None) -> bool:
    """Challenge, prove and add in one call, for those who hold both the key and the registry (the
    demo, the tests, the chaos run): the same path as the commands. True if new."""
    now = datetime.now(timezone.utc)
    challenge = await store.key_challenge(now)
    proof = prove(key, challenge.challenge)
    return await store.add_key(proof.key(valid_from, valid_to), proof, now)


def _signer(text: str) -> tuple[str, str]:
    kind, _, who = text.partition(":")
    if kind not in ("hospital", "authority") or not who:
        raise click.BadParameter("write hospital:<fixmedins_code> or authority:<authority code>")
    if kind == "authority" and who not in {a.value for a in Authority}:
        raise click.BadParameter(f"unknown authority {who!r}; known: {', '.join(a.value for a in Authority)}")
    return kind, who


def _beside(key_file: Path, suffix: str) -> Path:
    """<id>.key.json -> <id><suffix> in the same folder."""
    return key_file.with_name(key_file.name.removesuffix(".key.json").removesuffix(".json") + suffix)


def _write_proof(key: KeyFile, challenge: str, out: Path) -> None:
    out.write_bytes(orjson.dumps(prove(key, challenge).model_dump(), option=orjson.OPT_INDENT_2))


@click.group()
def keys() -> None:
    """Signing keys: each hospital and authority signs its events; the registry says who may sign what.

    To register a key: the administrator runs `keys challenge` and gives the challenge to the key's
    holder, who runs `keys create --challenge C` (or `keys prove` for an existing key) and sends
    back the .proof.json file; the administrator runs `keys add` on it."""


@keys.command("create")
@click.option("--signer", required=True, help="hospital:<fixmedins_code> or authority:<authority code>")
@click.option("--id", "key_id", default=None, help="default: <signer>-<date>")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="default: <id>.key.json here")
@click.option(
    "--challenge",
    default=None,
    help="a challenge from the administrator (`onestop keys challenge`): also write the proof to send back",
)
def create(signer: str, key_id: str | None, out: Path | None, challenge: str | None) -> None:
    """Make a key pair: the private key file (keep it secret, 0600), its public part (<id>.pub.json)
    and, with --challenge, the proof (<id>.proof.json) the administrator registers it from."""
    kind, who = _signer(signer)
    key_id = key_id or f"{who}-{datetime.now(timezone.utc):%Y%m%d}"
    key = new_key(key_id, kind, who)
    out = out or Path(f"{key_id}.key.json")
    out.write_bytes(key.model_dump_json(indent=2).encode())
    os.chmod(out, 0o600)
    public = _beside(out, ".pub.json")
    public.write_bytes(
        orjson.dumps(
            {"key_id": key.key_id, "signer_kind": kind, "signer": who, "public_key": key.public_key},
            option=orjson.OPT_INDENT_2,
        )
    )
    click.echo(f"key {key_id} for {kind} {who}: private {out} (keep it secret), public {public}")
    if challenge:
        proof = _beside(out, ".proof.json")
        _write_proof(key, challenge, proof)
        click.echo(
            f"proof {proof}: send it to the administrator, who registers the key with `onestop keys add {proof.name}`"
        )
    else:
        click.echo(
            "to register it, ask the administrator for a challenge and run "
            f"`onestop keys prove --key {out} --challenge C`"
        )


@keys.command("prove")
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the private key file (<id>.key.json)",
)
@click.option("--challenge", required=True, help="the challenge the administrator gave you (`onestop keys challenge`)")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="default: <id>.proof.json beside the key")
def prove_command(key_file: Path, challenge: str, out: Path | None) -> None:
    """Sign the administrator's challenge with your key: writes the proof (public key, challenge and
    signature; nothing secret) that the administrator registers the key from. It is good once, for
    this key's id and signer only, until the challenge expires."""
    key = read_key_file(key_file)
    out = out or _beside(key_file, ".proof.json")
    _write_proof(key, challenge.strip(), out)
    click.echo(
        f"proof {out} for key {key.key_id} ({key.signer_kind} {key.signer}): send it to the administrator, "
        f"who runs `onestop keys add {out.name}`"
    )


@keys.command("challenge")
@click.option("--hours", default=24.0, show_default=True, help="how long it may be answered")
def challenge_command(hours: float) -> None:
    """(administrator) A new random challenge for registering one key: give it to the key's holder,
    who answers with `onestop keys prove --key FILE --challenge C`. Good once, until it expires."""
    found = endpoints_or_fail()

    async def run():
        async with store_at(found.for_admin) as store:
            return await store.key_challenge(datetime.now(timezone.utc), timedelta(hours=hours))

    issued = asyncio.run(run())
    click.echo(issued.challenge)
    click.echo(
        f"challenge good once, until {issued.expires_at:%Y-%m-%d %H:%M:%S} UTC: the key's holder runs "
        f"`onestop keys prove --key <id>.key.json --challenge {issued.challenge}` and sends you the proof file",
        err=True,
    )


@keys.command("add")
@click.argument("proof_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--valid-from",
    type=click.DateTime(),
    default=None,
    help="default: now. Events are judged at their own time too (a claim at its discharge date): "
    "to sign claims of earlier discharges, set it back far enough",
)
@click.option("--valid-to", type=click.DateTime(), default=None, help="default: no end")
def add(proof_file: Path, valid_from: datetime | None, valid_to: datetime | None) -> None:
    """(administrator) Register a key from its holder's proof (<id>.proof.json, written by
    `keys prove` or `keys create --challenge`) with its validity. Refused, with the reason, when the
    proof does not hold for this key, id and signer, or its challenge is unknown, used or expired."""
    proof = read_proof(proof_file)
    try:
        key = proof.key(_utc(valid_from) or datetime.now(timezone.utc), _utc(valid_to))
    except ValueError as error:
        raise click.ClickException(f"{proof_file}: {error}") from None
    if key.valid_to is not None and key.valid_to <= key.valid_from:
        raise click.ClickException(
            f"--valid-to {key.valid_to:%Y-%m-%d %H:%M:%S} is not after --valid-from {key.valid_from:%Y-%m-%d %H:%M:%S}"
        )
    found = endpoints_or_fail()

    async def register() -> bool:
        async with store_at(found.for_admin) as store:
            return await store.add_key(key, proof, datetime.now(timezone.utc))

    try:
        new = asyncio.run(register())
    except ValueError as error:
        raise click.ClickException(f"key {key.key_id} not registered: {error}") from None
    until = f"{key.valid_to:%Y-%m-%d %H:%M:%S}" if key.valid_to else "no end"
    click.echo(
        f"key {key.key_id} {'registered' if new else 'was registered already'}: {key.signer_kind} {key.signer}"
        + (
            f", signs events of {key.valid_from:%Y-%m-%d %H:%M:%S} to {until} (their own time and arrival)"
            if new
            else ""
        )
    )


@keys.command("revoke")
@click.argument("key_id")
@click.option(
    "--at", type=click.DateTime(), default=None, help="default: now; events received from then on are refused"
)
def revoke(key_id: str, at: datetime | None) -> None:
    """(administrator) Revoke a key: its events received from then on are refused (earlier ones stay valid)."""
    found = endpoints_or_fail()

    async def run() -> SigningKey:
        async with store_at(found.for_admin) as store:
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
        async with store_at(found.for_admin) as store:
            return await store.signing_keys()

    for key in asyncio.run(run()).values():
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "in force"
        until = f"{key.valid_to:%Y-%m-%d}" if key.valid_to else "open"
        click.echo(
            f"{key.key_id:<32} {key.signer_kind:<10} {key.signer:<24} {key.valid_from:%Y-%m-%d} – {until:<10} {state}"
        )


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


COMMANDS = [keys]
