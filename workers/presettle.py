"""Pre-settlement (预结算, like the national platform's 2206): a hospital window asks what each fund
would pay for a claim now, before the patient agrees. Recorded nowhere: the worker only reads the
person's history and applies the same pure rules the ledger does (policies/presettle.py).

A request is verified as a claim is (workers/trust.py): signed by a registered key of the hospital
it names (``fixmedins_code``). Anything else — unsigned (unless ONESTOP_ACCEPT_UNSIGNED), a
signature that does not match, another hospital's key, no hospital named, not a request at all —
is refused on ``claims.rejected`` with the reason and answered nowhere: the hospital a refused
request names is not trusted to be the asker. The answer goes to the hospital's own topic
``claims.presettle.replies.<fixmedins_code>`` (made the first time it is needed), keyed by the
person and carrying the request's ``request_id``, and holds only what that hospital may see
(policies.presettle.reply_for: never the person's categories, who granted them, or the grants' ids).
An unsigned development request naming no hospital is answered on ``claims.presettle.replies``."""

from __future__ import annotations

from datetime import datetime, timezone

from policies.presettle import reply_for
from schemas.nhsa import PresettleRequest
from streams.codecs import encode
from streams.topics import (
    PRESETTLE,
    PRESETTLE_REPLIES,
    PRESETTLE_REPLIES_OF,
    REJECTED,
    hospital_code_problem,
    presettle_reply_topic,
)

from .harness import Context, Incoming, Outgoing, Worker
from .trust import decode_trusted


async def handle(context: Context, batch: list[Incoming]) -> list[Outgoing]:
    trusted, out = await decode_trusted(
        context, PresettleRequest, batch, REJECTED, "other", "not a pre-settlement request: "
    )
    now = datetime.now(timezone.utc)
    for incoming, request in trusted:
        code = request.fixmedins_code
        problem = hospital_code_problem(code) if code is not None else None
        if problem is not None:
            out.append(await context.reject(REJECTED, incoming, f"refused: {problem}", "other"))
            continue
        history = await (await context.store()).person_history(request.psn_no)
        out.append(Outgoing(presettle_reply_topic(code), incoming.key, encode(reply_for(history, request, now))))
    return out


WORKER = Worker("presettle", PRESETTLE, handle, sinks=(PRESETTLE_REPLIES, PRESETTLE_REPLIES_OF, REJECTED))
