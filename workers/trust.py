"""Only those entitled move money: hospitals' and authorities' events are verified before anything
else is done with them (streams/signing.py). An event unsigned, badly signed, signed by an
unknown, revoked or expired key, by a key not valid at the event's own time, or by a key not
entitled to it, goes to the rejection topic with the reason; so does one that cannot be true
when it arrives (policies/plausible.py: a stay too long, a bill too large, a discharge or a record
in the future, …). ONESTOP_ACCEPT_UNSIGNED (development only) lets unsigned events through."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from policies.plausible import Limits, implausible
from schemas.settings import settings
from streams.codecs import BadInput, decode
from streams.signing import KEY_HEADER, Untrusted, now, verified

from .harness import Context, Incoming, Outgoing

M = TypeVar("M", bound=BaseModel)


async def decode_trusted(
    context: Context, model: type[M], batch: list[Incoming], reject_to: str, kind: str, what: str = ""
) -> tuple[list[tuple[Incoming, M]], list[Outgoing]]:
    """The batch's events that are signed by a key entitled to them, validate as ``model`` and are
    plausible when received; the rejections of the others, each with its reason."""
    if not batch:
        return [], []
    keys = await (await context.store()).signing_keys()
    received_at, limits = now(), Limits.from_settings()
    good: list[tuple[Incoming, M]] = []
    refused: list[Outgoing] = []
    for incoming in batch:
        signed = any(name == KEY_HEADER for name, _ in incoming.headers)
        try:
            if signed or not settings.accept_unsigned:
                _, event = verified(
                    incoming.value or b"", incoming.headers, keys, received_at, lambda raw: decode(model, raw)
                )
            else:
                event = decode(model, incoming.value)
        except Untrusted as why:
            refused.append(await context.reject(reject_to, incoming, f"refused: {why}", kind))
            continue
        except BadInput as problem:
            refused.append(await context.reject(reject_to, incoming, f"{what}{problem}", kind))
            continue
        why_not = implausible(event, received_at, limits)
        if why_not is not None:
            refused.append(await context.reject(reject_to, incoming, f"implausible: {why_not}", kind))
            continue
        good.append((incoming, event))
    return good, refused
