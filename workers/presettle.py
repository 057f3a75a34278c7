"""Pre-settlement (预结算, like the national platform's 2206): a hospital window asks what each fund
would pay for a claim now, before the patient agrees; the answer goes to the reply topic, keyed
by the person, carrying the request's ``request_id``. Recorded nowhere: the worker only reads
the person's history and applies the same pure rules the ledger does (policies/presettle.py)."""
from __future__ import annotations

from datetime import datetime, timezone

from policies.presettle import error_reply, reply_for
from schemas.nhsa import PresettleRequest
from streams.codecs import BadInput, decode, encode
from streams.topics import PRESETTLE, PRESETTLE_REPLIES

from .harness import Context, Incoming, Outgoing, Worker


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    out = []
    now = datetime.now(timezone.utc)
    for incoming in batch:
        try:
            request = decode(PresettleRequest, incoming.value)
        except BadInput as problem:
            where = f"{incoming.topic}[{incoming.partition}]@{incoming.offset}"
            reply = error_reply(incoming.value, f"not a pre-settlement request: {problem}", now, where)
        else:
            history = await (await context.store()).person_history(request.psn_no)
            reply = reply_for(history, request, now)
        out.append(Outgoing(PRESETTLE_REPLIES, incoming.key, encode(reply)))
    return out


WORKER = Worker("presettle", PRESETTLE, handle, sinks=(PRESETTLE_REPLIES,))
