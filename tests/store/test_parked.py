"""Parked messages, on every backend (issue 28, finding 2): a message is parked whole — its headers
too, so that a signed input run again is verified again rather than refused as unsigned — and an
operator resolves one that must not run by dropping it with a reason, kept for the audit, after
which its person's messages that waited behind it go on. A NUL a hostile message puts in an error
or a refusal reason is kept escaped: PostgreSQL's text refuses it, and the park itself must not fail."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timezone

import asyncpg
import pytest
from click.testing import CliRunner

from cli import main
from policies.loader import policy_for
from schemas.codes import Payer
from schemas.events import ClaimInFlight, DischargeClaim, PolicyRef
from store import Arrival, Store
from streams.signing import KEY_HEADER, SIGNATURE_HEADER
from streams.topics import DISCHARGED, ELIGIBILITY, REJECTED, pay_topic
from workers.harness import Context, Incoming, Outgoing
from workers.parking import drop_parked, retry_parked
from workers.registry import WORKERS

from .conftest import Backend
from .handlers import HOSPITAL, KEYS, Pipeline, register_keys, url_of
from .support import case, grants

ZZ = "zhengzhou-dibao-deferred-then-paid"  # P009, dibao
SIGNED = ((KEY_HEADER, b"hospital-1"), (SIGNATURE_HEADER, b"c2lnbmF0dXJl"))


# --- the store's contract --------------------------------------------------------------------------


async def test_a_message_is_parked_with_its_headers(store: Store) -> None:
    """Headers come back as parked, in order, whatever bytes they hold (a name may hold a NUL); a
    place parked again keeps its headers and takes the new error; no headers, none."""
    odd = (("x-\x00name", b"\x00\xff"), ("dup", b"1"), ("dup", b"2"))
    one = await store.park("intake", DISCHARGED, 0, 5, b"P1", b"{}", "boom", False, SIGNED + odd)
    assert await store.park("intake", DISCHARGED, 0, 5, b"P1", b"{}", "boom again", False, ()) == one
    two = await store.park("intake", DISCHARGED, 0, 6, b"P1", b"{}", "behind", True)
    first, second = await store.parked("intake")
    assert (first.parked_id, first.headers, first.error) == (one, SIGNED + odd, "boom again")
    assert (second.parked_id, second.headers) == (two, ())


async def test_a_nul_in_an_error_or_a_reason_is_kept_escaped(store: Store) -> None:
    """The text a hostile message puts into an error or a refusal reason (e.g. a policy region
    "a\\u0000b" named in "policy … is not loaded") is kept, its NUL as the six characters \\u0000."""
    await store.park("basic", pay_topic(Payer.basic), 0, 1, b"P1", b"{}", "NoPolicy: policy a\x00b/2022-07/v1", False)
    [parked] = await store.parked("basic")
    assert parked.error == "NoPolicy: policy a\\u0000b/2022-07/v1"
    assert await store.reject(
        Arrival("claims.ledger", 0, 2, b'{"x":"\\u0000"}', None), "other", "refused: lines a\x00b"
    )
    [archived] = [i for i in await store.inputs() if i.offset == 2]
    assert archived.reason == "refused: lines a\\u0000b"


async def test_a_dropped_message_is_kept_whole_with_who_when_and_why(store: Store) -> None:
    """drop_parked takes the message out of parked and keeps it, whole, with the reason, the operator
    and the time; dropped lists them in order, per worker; a blank reason or operator is refused and
    changes nothing; an id not parked (or dropped already) is a LookupError."""
    one = await store.park("basic", pay_topic(Payer.basic), 0, 5, b"P1", b"first", "NoPolicy: v99", False, SIGNED)
    two = await store.park("basic", pay_topic(Payer.basic), 0, 6, b"P1", b"second", "behind", True)
    three = await store.park("ledger", "claims.ledger", 0, 7, b"P2", None, "Unsound: x", False)
    [as_parked] = [p for p in await store.parked() if p.parked_id == one]
    for reason, by in (("", "alice"), ("   ", "alice"), ("forged", ""), ("forged", " \t")):
        with pytest.raises(ValueError, match="required to drop a parked message"):
            await store.drop_parked(one, reason, by)
    assert [p.parked_id for p in await store.parked()] == [one, two, three] and await store.dropped() == []
    before = datetime.now(timezone.utc)
    dropped = await store.drop_parked(one, "a forged flight: there is no policy v99", "alice")
    assert (dropped.parked, dropped.reason, dropped.dropped_by) == (
        as_parked,
        "a forged flight: there is no policy v99",
        "alice",
    )
    assert dropped.dropped_at.tzinfo is not None and dropped.dropped_at >= before.replace(microsecond=0)
    assert [p.parked_id for p in await store.parked()] == [two, three]
    assert await store.parked_keys("basic") == {b"P1"}  # what waited behind it is still parked: the caller runs it
    with pytest.raises(LookupError, match=f"nothing is parked as #{one}"):
        await store.drop_parked(one, "again", "alice")
    with pytest.raises(LookupError):
        await store.drop_parked(999_999, "no such", "alice")
    later = await store.drop_parked(three, "the ledger refused it: an invariant, fixed by hand", "bob")
    assert [d.dropped_id for d in await store.dropped()] == [dropped.dropped_id, later.dropped_id]
    assert await store.dropped("basic") == [dropped] and await store.dropped("ledger") == [later]
    assert await store.dropped("intake") == []
    assert (await store.counts())["parked"] == 1


async def test_what_was_dropped_is_kept_for_good_and_the_workers_roles_cannot_reach_it(
    store: Store, backend: Backend
) -> None:
    """PostgreSQL: a dropped row is never changed or deleted (not even by the owner's role, without
    first dropping the trigger), and the workers' roles have no privilege on parked_dropped; they park
    with headers."""
    if backend.name != "postgres":
        assert backend.name == "memory"  # (nothing but the methods reaches the memory store's rows)
        return
    parked_id = await store.park("basic", pay_topic(Payer.basic), 0, 5, b"P1", b"first", "boom", False, SIGNED)
    await store.drop_parked(parked_id, "forged", "alice")
    conn = await asyncpg.connect(backend.url)
    try:
        for statement in ("UPDATE parked_dropped SET reason = 'nothing happened'", "DELETE FROM parked_dropped"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="kept for good"):
                await conn.execute(statement)
        roles = [
            r["rolname"] for r in await conn.fetch("SELECT rolname FROM pg_roles WHERE rolname LIKE 'onestop\\_%'")
        ]
        workers = [role for role in roles if role not in ("onestop_admin", "onestop_console")]
        assert not await conn.fetchval("SELECT has_table_privilege('onestop_console', 'parked_dropped', 'INSERT')")
        assert "onestop_worker" in workers and "onestop_intake" in workers
        for role in workers:
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                assert not await conn.fetchval(
                    "SELECT has_table_privilege($1, 'parked_dropped', $2)", role, privilege
                ), (role, privilege)
            for column in ("header_names", "header_values"):
                assert await conn.fetchval("SELECT has_column_privilege($1, 'parked', $2, 'INSERT')", role, column), (
                    role,
                    column,
                )
                assert await conn.fetchval("SELECT has_column_privilege($1, 'parked', $2, 'SELECT')", role, column), (
                    role,
                    column,
                )
    finally:
        await conn.close()


# --- through the workers' handlers -----------------------------------------------------------------


def _signed_claims(worked) -> list[DischargeClaim]:
    return [c.model_copy(update={"fixmedins_code": HOSPITAL}) for c in worked.claims]


async def _granted(pipeline: Pipeline, worked) -> None:
    for change in grants(worked):
        await pipeline.publish(ELIGIBILITY, change, change.psn_no, KEYS[change.authority.value])


async def test_a_parked_signed_claim_comes_back_on_retry_verified_again(store: Store, backend: Backend) -> None:
    """An intake with a bug parks a person's signed claim, and the next waits behind it; once fixed,
    `retry` runs both again with their headers: verified again, not refused as unsigned, and settled.
    A message whose signature no longer matches its bytes is refused when run again, not taken."""
    await register_keys(store)
    worked = case(ZZ)
    first, second, third = _signed_claims(worked)
    pipeline = Pipeline(url_of(backend))
    await _granted(pipeline, worked)
    sent = [await pipeline.publish(DISCHARGED, claim, claim.psn_no, KEYS["hospital"]) for claim in (first, second)]

    async def a_bug(context: Context, batch: list[Incoming]) -> list[Outgoing]:
        raise KeyError("a bug in this intake")

    await pipeline.drain({**WORKERS, "intake": replace(WORKERS["intake"], handle=a_bug)})
    parked = await store.parked("intake")
    assert [(p.offset, p.behind, p.headers) for p in parked] == [
        (m.offset, behind, m.headers) for m, behind in zip(sent, (False, True))
    ]
    assert dict(parked[0].headers)[KEY_HEADER] == b"hospital-1"
    # the bug fixed: run again, as received
    assert await retry_parked(WORKERS["intake"], pipeline.context, pipeline.send) == (2, 0)
    await pipeline.drain()
    assert pipeline.rejections(REJECTED) == []
    for claim in (first, second):
        assert [r.kind for r in await store.records_of(claim.key)] == ["settlement"], claim.claim_id
    # a parked message altered since it was signed is refused when run again: nothing is taken on its word
    forged = await pipeline.publish(DISCHARGED, third, third.psn_no, KEYS["hospital"])
    await store.park(
        "intake",
        DISCHARGED,
        0,
        forged.offset,
        forged.key,
        forged.value.replace(b'"medfee_sumamt":"', b'"medfee_sumamt":"1', 1),
        "KeyError: 'a bug in this intake'",
        False,
        forged.headers,
    )
    pipeline.read["intake"] = forged.offset + 1  # (it reached the intake that parked it)
    assert await retry_parked(WORKERS["intake"], pipeline.context, pipeline.send) == (1, 0)
    await pipeline.drain()
    assert "does not match the event's bytes" in pipeline.refusal_of(forged, REJECTED)
    assert await store.records_of(third.key) == []


async def test_a_dropped_message_lets_the_person_behind_it_go_on(store: Store, backend: Backend) -> None:
    """A forged claim in flight naming a policy version no worker has is parked at the payer it was
    written to, and the person's real claim waits behind it there. The operator drops it with a
    reason: it is kept among the dropped ones with the reason, and the claim behind it runs again at
    once and settles. Dropping without a reason is refused and changes nothing."""
    await register_keys(store)
    worked = case(ZZ)
    first, second, _ = _signed_claims(worked)
    pipeline = Pipeline(url_of(backend))
    await _granted(pipeline, worked)
    policy = policy_for(first.insuplc_admdvs, first.enddate)
    forged = ClaimInFlight(
        claim=second,
        identity=[],
        policy=PolicyRef(region=policy.region, period=policy.period, version=99),
        route=[Payer.basic],
        received_at=datetime.now(timezone.utc),
    )
    await pipeline.publish(pay_topic(Payer.basic), forged, first.psn_no, None)
    await pipeline.publish(DISCHARGED, first, first.psn_no, KEYS["hospital"])
    await pipeline.drain()
    head, behind = await store.parked("basic")
    assert (head.behind, behind.behind) == (False, True) and "v99 is not loaded" in head.error
    assert await store.records_of(first.key) == []
    with pytest.raises(ValueError, match="a reason is required"):
        await drop_parked(WORKERS, pipeline.context, pipeline.send, head.parked_id, " ", "alice")
    assert await store.parked("basic") == [head, behind]
    dropped, handled, left = await drop_parked(
        WORKERS,
        pipeline.context,
        pipeline.send,
        head.parked_id,
        "forged: no policy v99 exists; the hospital never sent it",
        "alice",
    )
    assert (handled, left) == (1, 0)
    assert (dropped.parked, dropped.reason, dropped.dropped_by) == (
        head,
        "forged: no policy v99 exists; the hospital never sent it",
        "alice",
    )
    await pipeline.drain()
    assert [r.kind for r in await store.records_of(first.key)] == ["settlement"]
    assert await store.records_of(second.key) == []
    assert await store.dropped() == [dropped] and await store.parked() == []


# --- the commands ------------------------------------------------------------------------------------


async def test_the_commands_list_what_is_parked_and_what_was_dropped(store: Store, backend: Backend) -> None:
    """`onestop parked` and `onestop parked dropped` (a message parked at no place too: the ledger's
    own wake-up); `onestop parked drop` refuses to drop without a reason before it connects to anything."""
    env = {
        "ONESTOP_DATABASE_URL": url_of(backend),
        "ONESTOP_KAFKA": "127.0.0.1:9",
    }  # (listing never reaches the broker)
    one = await store.park(
        "basic", pay_topic(Payer.basic), 0, 5, b"P0000001", b"first", "NoPolicy: policy x/2022-07/v99", False
    )
    await store.park("basic", pay_topic(Payer.basic), 0, 6, b"P0000001", b"second", "behind", True)
    await store.park(
        "ledger", "claims.ledger", None, None, b"P0000002", b"{}", "Unsound: the ledger refused to record: x", False
    )
    await store.drop_parked(one, "forged: no policy v99", "alice")

    def run(*args: str):
        return CliRunner().invoke(main, list(args), env=env)

    listed = await asyncio.to_thread(run, "parked")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert "claims.pay.basic[0]@6" in lines[0] and "waits behind an earlier one" in lines[0]
    assert "claims.ledger (its own)" in lines[1] and "Unsound: the ledger refused to record" in lines[1]
    assert lines[-1] == "2 parked" and "P0000001" not in listed.output  # (persons masked)
    dropped = await asyncio.to_thread(run, "parked", "dropped", "--worker", "basic")
    assert dropped.exit_code == 0, dropped.output
    assert "claims.pay.basic[0]@5" in dropped.output and "by alice: forged: no policy v99" in dropped.output
    assert "(it had: NoPolicy: policy x/2022-07/v99)" in dropped.output and dropped.output.endswith("1 dropped\n")
    for args, words in (
        (("parked", "drop", "2"), "Missing option '--reason'"),
        (("parked", "drop", "2", "--reason", "  "), "--reason must say why"),
    ):
        refused = await asyncio.to_thread(run, *args)
        assert refused.exit_code == 2 and words in refused.output, refused.output
    assert len(await store.parked()) == 2
