"""Only those entitled move money: a system that verifies signatures (the default), on a broker and
a database of its own. Every kind of untrusted event is refused to the rejection topic with its
reason and pays nothing; a signed event replayed pays once; only a close signed by the authority
medical_insurance closes a year; the workers' database role cannot change the schema; the
administrator's role registers keys (on proof) and can do nothing else."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from cli.keys import register_key
from runtime.embedded import EmbeddedBroker
from runtime.endpoints import Endpoints, admin_url, worker_url
from runtime.parts import initialise
from runtime.supervisor import WorkerProcesses
from schemas.events import ClaimCancellation, DischargeClaim, EligibilityChange, Rejection, YearEndClose
from schemas.keys import ProofRefused
from schemas.settings import WORKER_KINDS, settings
from store.postgres import PostgresStore
from store.roles import url_for
from store.waiting import identities_recorded, settled_claims
from streams.codecs import encode
from streams.reader import read_topic
from streams.signing import new_key, prove, sign
from streams.topics import CANCELLED, DISCHARGED, ELIGIBILITY, ELIGIBILITY_REJECTED, REJECTED, YEAR_END

from ..parts import created_database, drop_database
from ..shared_cases import CASES_DIR, load_case

NOW = datetime.now(timezone.utc)
HOSPITAL, OTHER = "H620702001", "H620702999"
#: the keys' validity begins before the worked cases' dates: an event is judged at its own time too
KEYS_FROM = datetime(2000, 1, 1, tzinfo=timezone.utc)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def trusted(broker, database, tmp_path_factory):
    own_broker = None if settings.kafka else EmbeddedBroker(tmp_path_factory.mktemp("trust-broker")).start()
    url = await created_database(database)
    found = Endpoints(own_broker.bootstrap if own_broker else broker, url, worker_url(url))
    await initialise(found)
    workers = WorkerProcesses(
        found,
        tmp_path_factory.mktemp("trust-logs"),
        extra_env={"ONESTOP_HOME": str(tmp_path_factory.mktemp("trust-home"))},
    )
    workers.start()
    store = await PostgresStore.open(url, migrate=False)
    keys = {
        "hospital": new_key("hospital-1", "hospital", HOSPITAL),
        "other": new_key("hospital-2", "hospital", OTHER),
        "civil": new_key("civil-1", "authority", "civil_affairs"),
        "rural": new_key("rural-1", "authority", "rural_revitalisation"),
        "finance": new_key("finance-1", "authority", "medical_insurance"),
        "revoked": new_key("hospital-revoked", "hospital", HOSPITAL),
        "expired": new_key("hospital-expired", "hospital", HOSPITAL),
        "unregistered": new_key("nobody", "hospital", HOSPITAL),
    }
    for name, key in keys.items():
        if name == "unregistered":
            continue
        await register_key(
            store, key, valid_from=KEYS_FROM, valid_to=NOW - timedelta(days=1) if name == "expired" else None
        )
    try:
        yield found, store, keys
    finally:
        await store.close()
        workers.stop()
        await drop_database(database, url)
        if own_broker:
            own_broker.stop()


async def send(kafka: str, topic: str, items: list[tuple[bytes, list | None]], key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        for value, headers in items:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def rejections(kafka: str, topic: str, count: int) -> list[Rejection]:
    for _ in range(240):
        found = [
            Rejection.model_validate_json(raw) for raw in [r async for r in read_topic(kafka, topic, idle_seconds=0.5)]
        ]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"only {len(found)} of {count} rejections on {topic}")


def a_claim(claim_id: str, psn_no: str, hospital: str | None = HOSPITAL) -> DischargeClaim:
    base = load_case(CASES_DIR / "zhangye-dibao-rural-1-one-stay.json").claims[0]
    return base.model_copy(update={"claim_id": claim_id, "psn_no": psn_no, "fixmedins_code": hospital})


async def test_only_events_signed_by_a_key_entitled_to_them_move_money(trusted):
    found, store, keys = trusted
    psn = "PTRUST"
    grant = encode(
        EligibilityChange(
            event_id="T-grant",
            psn_no=psn,
            category="tekun",
            action="grant",
            valid_from="2022-01-01",
            authority="civil_affairs",
            recorded_at=NOW,
        )
    )
    forged_grant = encode(
        EligibilityChange(
            event_id="T-forged",
            psn_no="PATTACK",
            category="tekun",
            action="grant",
            valid_from="2022-01-01",
            authority="rural_revitalisation",
            recorded_at=NOW,
        )
    )
    wrong_authority = encode(
        EligibilityChange(
            event_id="T-wrong-auth",
            psn_no="PATTACK",
            category="tekun",
            action="grant",
            valid_from="2022-01-01",
            authority="civil_affairs",
            recorded_at=NOW,
        )
    )
    await send(
        found.kafka,
        ELIGIBILITY,
        [
            (grant, sign(grant, keys["civil"])),
            (forged_grant, sign(forged_grant, keys["rural"])),  # rural revitalisation does not issue tekun
            (wrong_authority, sign(wrong_authority, keys["rural"])),  # a key speaking for another authority
            (forged_grant, None),  # unsigned
        ],
        key=b"P",
    )
    good = encode(a_claim("T-good", psn))
    tampered = good.replace(b'"60000.00"', b'"90000.00"', 1)
    attacks = [
        (encode(a_claim("T-unsigned", "PATTACK")), None),
        (
            encode(a_claim("T-other-hospital", "PATTACK")),
            sign(encode(a_claim("T-other-hospital", "PATTACK")), keys["other"]),
        ),
        (
            encode(a_claim("T-no-hospital", "PATTACK", None)),
            sign(encode(a_claim("T-no-hospital", "PATTACK", None)), keys["hospital"]),
        ),
        (
            encode(a_claim("T-unknown-key", "PATTACK")),
            sign(encode(a_claim("T-unknown-key", "PATTACK")), keys["unregistered"]),
        ),
        (encode(a_claim("T-expired", "PATTACK")), sign(encode(a_claim("T-expired", "PATTACK")), keys["expired"])),
        (encode(a_claim("T-authority", "PATTACK")), sign(encode(a_claim("T-authority", "PATTACK")), keys["civil"])),
        (tampered, sign(good, keys["hospital"])),  # one byte (or a few) altered after signing
    ]
    await identities_recorded(store, 1, 120)  # the grant first: a claim settled before it would be adjusted after
    await send(
        found.kafka,
        DISCHARGED,
        [(good, sign(good, keys["hospital"])), *attacks, (good, sign(good, keys["hospital"]))],
        key=b"P",
    )
    refused = await rejections(found.kafka, REJECTED, len(attacks))
    reasons = sorted(r.reason for r in refused)
    for words in (
        "unsigned",
        "key hospital-2 speaks for hospital H620702999, not for hospital H620702001",
        "must name their hospital",
        "unknown key 'nobody'",
        "expired",
        "only a hospital signs claims",
        "does not match the event's bytes",
    ):
        assert any(words in reason for reason in reasons), (words, reasons)
    settled = await settled_claims(store, {"T-good"}, 180)
    # the good claim, tekun (granted by civil affairs, signed): assistance pays 100% of what insurance left
    assert settled["T-good"].psn_part_amt == settled["T-good"].medfee_sumamt - settled["T-good"].inscp_scp_amt
    assert len(await store.records_of(f"{HOSPITAL}/T-good")) == 1  # the replayed signed bytes changed nothing
    recorded = {r.claim_id for _, r in await store.settlements(limit=1_000_000)}
    assert (
        recorded & {"T-unsigned", "T-other-hospital", "T-no-hospital", "T-unknown-key", "T-expired", "T-authority"}
        == set()
    )
    grants_refused = await rejections(found.kafka, ELIGIBILITY_REJECTED, 3)
    assert any("tekun is issued by civil_affairs, not by rural_revitalisation" in r.reason for r in grants_refused)
    assert any("speaks for rural_revitalisation, not for civil_affairs" in r.reason for r in grants_refused)
    assert (await store.identity_history("PATTACK"))[0] == []


async def test_a_revoked_key_keeps_what_it_signed_before_and_signs_nothing_after(trusted):
    found, store, keys = trusted
    before = encode(a_claim("T-before-revoke", "PREV"))
    await send(found.kafka, DISCHARGED, [(before, sign(before, keys["revoked"]))], key=b"PREV")
    await settled_claims(store, {"T-before-revoke"}, 180)
    await store.revoke_key("hospital-revoked", datetime.now(timezone.utc))
    after = encode(a_claim("T-after-revoke", "PREV"))
    cancel = encode(
        ClaimCancellation(
            event_id="T-cancel", claim_id="T-before-revoke", psn_no="PREV", cancelled_at=NOW, fixmedins_code=HOSPITAL
        )
    )
    await send(found.kafka, DISCHARGED, [(after, sign(after, keys["revoked"]))], key=b"PREV")
    await send(found.kafka, CANCELLED, [(cancel, sign(cancel, keys["revoked"]))], key=b"PREV")
    refused = [r for r in await rejections(found.kafka, REJECTED, 9) if "revoked" in r.reason]
    assert len(refused) == 2
    assert [r.kind for r in await store.records_of(f"{HOSPITAL}/T-before-revoke")] == [
        "settlement"
    ]  # still valid, not cancelled
    assert await store.records_of(f"{HOSPITAL}/T-after-revoke") == []


#: what no worker's role may do: the key registry, the books and the archive, the schema
FORBIDDEN_TO_EVERY_WORKER = (
    "INSERT INTO signing_keys (key_id, signer_kind, signer, public_key, valid_from)"
    " VALUES ('mine', 'hospital', 'H1', 'AAAA', now())",
    "UPDATE signing_keys SET revoked_at = NULL",
    "DELETE FROM signing_keys",
    "UPDATE settlements SET psn_part_amt = 0",
    "DELETE FROM settlements",
    "UPDATE inputs SET raw = ''::bytea",
    "DELETE FROM inputs",
    "CREATE TABLE intruder (x int)",
    "DROP TABLE settlements",
    "ALTER TABLE settlements ADD COLUMN x int",
    "TRUNCATE settlements",
)
#: and, beyond that, what each kind may not do that another kind does
FORBIDDEN_TO = {
    "intake": (
        "INSERT INTO year_totals (psn_no, year, account) VALUES ('P', 2018, 'basic')",
        "UPDATE year_totals SET paid = 0",
        "UPDATE settlements SET published = true",
        "DELETE FROM person_queue",
    ),
    "payer": (
        "SELECT count(*) FROM claims_received",
        "SELECT count(*) FROM year_totals",
        "UPDATE year_totals SET paid = 0",
        "INSERT INTO person_queue (psn_no, seq, kind, ref, ready) VALUES ('P', 1, 'claim', 'x', true)",
    ),
    "eligibility": ("UPDATE year_totals SET paid = 0", "UPDATE claims_received SET payload = '{}'::jsonb"),
    "presettle": (
        "INSERT INTO person_queue (psn_no, seq, kind, ref, ready) VALUES ('P', 1, 'claim', 'x', true)",
        "UPDATE year_totals SET paid = 0",
    ),
    "ledger": (
        "INSERT INTO claims_received (claim_id, psn_no, digest, payload, topic, seq, year) "
        "VALUES ('C', 'P', 'd', '{}'::jsonb, 't', 1, 2018)",
        "UPDATE identity_periods SET valid_to = NULL",
        "UPDATE person_queue SET ref = 'x'",
    ),
}


async def _refused(conn: asyncpg.Connection, sql: str, who: str) -> None:
    try:
        async with conn.transaction():
            await conn.execute(sql)
    except asyncpg.PostgresError as error:
        assert (
            "permission denied" in str(error)
            or "must be owner" in str(error)
            or "stays published" in str(error)
            or "is not changed after" in str(error)
        ), (who, sql, error)
    else:
        raise AssertionError(f"{who} could run: {sql}")


async def test_each_kind_of_worker_has_its_own_role_and_none_can_touch_keys_or_rewrite_the_books(trusted):
    """Least privilege (migration 0009): every worker's role is refused the key registry, any change
    to a record or an archived input, and the schema; each kind is refused what other kinds do; the
    ledger may mark a record published, never back; an archived input's outcome is not changed after
    the transaction that archived it; no one logs in as onestop_worker any more."""
    found, store, _ = trusted
    for _ in range(240):
        if await store.settlements(limit=1):
            break
        await asyncio.sleep(0.25)
    [(_, record)] = await store.settlements(limit=1)
    for kind in WORKER_KINDS:
        conn = await asyncpg.connect(url_for(kind, found.for_workers))
        try:
            assert await conn.fetchval("SELECT current_user") == f"onestop_{kind}"
            for sql in (*FORBIDDEN_TO_EVERY_WORKER, *FORBIDDEN_TO.get(kind, ())):
                await _refused(conn, sql, kind)
            await _refused(conn, "UPDATE inputs SET outcome = 'repeat' WHERE seq = (SELECT min(seq) FROM inputs)", kind)
        finally:
            await conn.close()
    ledger = await asyncpg.connect(url_for("ledger", found.for_workers))
    try:
        assert await ledger.fetchval("SELECT published FROM settlements WHERE settlement_id = $1", record.settlement_id)
        await ledger.execute("UPDATE settlements SET published = true WHERE settlement_id = $1", record.settlement_id)
        await _refused(
            ledger, f"UPDATE settlements SET published = false WHERE settlement_id = '{record.settlement_id}'", "ledger"
        )
    finally:
        await ledger.close()
    with pytest.raises(asyncpg.PostgresError, match="not permitted to log in"):
        await asyncpg.connect(found.for_workers)


async def _year_end_records(store: PostgresStore, psn_no: str) -> list:
    return [r for _, r in await store.settlements(psn_no=psn_no) if r.kind == "year_end"]


async def test_only_a_close_signed_by_medical_insurance_closes_a_year(trusted):
    """Zhengzhou defers P009's assistance on two small stays to the year end (308 + 518 = 826,
    ../shared/cases/zhengzhou-dibao-deferred-then-paid.json). A close unsigned, signed by a
    hospital or by another authority is refused with its reason and pays nothing; it does not take
    the region's year either: finance's close, signed by medical_insurance, is the one applied."""
    found, store, keys = trusted
    worked = load_case(CASES_DIR / "zhengzhou-dibao-deferred-then-paid.json")
    psn = worked.person.psn_no
    grants = [
        encode(EligibilityChange.grant_of(psn, held, f"TY-grant-{n}"))
        for n, held in enumerate(worked.person.categories)
    ]
    await send(found.kafka, ELIGIBILITY, [(g, sign(g, keys["civil"])) for g in grants], key=psn.encode())
    small = [
        c.model_copy(update={"fixmedins_code": HOSPITAL}) for c in worked.claims if c.claim_id in ("ZZ-1a", "ZZ-1b")
    ]
    while not (await store.identity_history(psn))[0]:
        await asyncio.sleep(0.2)  # the grant first: claims settled before it would be adjusted after
    await send(
        found.kafka, DISCHARGED, [(encode(c), sign(encode(c), keys["hospital"])) for c in small], key=psn.encode()
    )
    await settled_claims(store, {c.claim_id for c in small}, 180)

    def close(event_id: str) -> bytes:
        return encode(YearEndClose(event_id=event_id, region="zhengzhou", year=2018, closed_at=NOW))

    forged = [
        (close("TY-unsigned"), None),
        (close("TY-hospital"), sign(close("TY-hospital"), keys["hospital"])),
        (close("TY-civil"), sign(close("TY-civil"), keys["civil"])),
    ]
    await send(found.kafka, YEAR_END, forged, key=b"zhengzhou")
    for _ in range(240):
        refused = [r for r in await rejections(found.kafka, REJECTED, 1) if '"TY-' in r.original]
        if len(refused) >= 3:
            break
        await asyncio.sleep(0.5)
    reasons = {r.original: r.reason for r in refused}
    assert len(refused) == 3, reasons
    assert "unsigned" in reasons[close("TY-unsigned").decode()]
    assert (
        "key hospital-1 is hospital H620702001's: only a key of the authority medical_insurance signs year-end closes"
        in reasons[close("TY-hospital").decode()]
    )
    assert (
        "key civil-1 is civil_affairs's: only a key of the authority medical_insurance signs year-end closes"
        in reasons[close("TY-civil").decode()]
    )
    assert await _year_end_records(store, psn) == []

    await send(
        found.kafka, YEAR_END, [(close("TY-finance"), sign(close("TY-finance"), keys["finance"]))], key=b"zhengzhou"
    )
    for _ in range(360):
        paid = await _year_end_records(store, psn)
        if paid:
            break
        await asyncio.sleep(0.5)
    [record] = paid
    assert "TY-finance" in record.reason  # the close applied is finance's, not one of the refused ones
    assert {p.payer.value: p.amount for p in record.payments if p.amount} == {"assistance": Decimal("826.00")}


async def test_the_administrators_role_registers_keys_on_proof_and_can_do_nothing_else(trusted):
    """`onestop keys …` connect as onestop_admin (migration 0008): it issues challenges, adds a key
    on its holder's proof, revokes; a proof replayed is refused; it cannot change or delete a key,
    nor read or write the ledger."""
    found, _, _ = trusted
    admin = await PostgresStore.open(admin_url(found.database), migrate=False)
    try:
        key = new_key("admin-made", "hospital", "H410102001")
        issued = await admin.key_challenge(datetime.now(timezone.utc))
        proof = prove(key, issued.challenge)
        assert await admin.add_key(proof.key(KEYS_FROM), proof, datetime.now(timezone.utc)) is True
        with pytest.raises(ProofRefused, match="is good once"):
            await admin.add_key(proof.key(KEYS_FROM), proof, datetime.now(timezone.utc))
        assert (await admin.revoke_key("admin-made", NOW)).revoked_at == NOW
        assert "admin-made" in await admin.signing_keys()
    finally:
        await admin.close()
    conn = await asyncpg.connect(found.database, user="onestop_admin")
    try:
        for sql in (
            "UPDATE signing_keys SET public_key = 'x'",
            "UPDATE signing_keys SET signer = 'H1'",
            "UPDATE signing_keys SET valid_from = now()",
            "DELETE FROM signing_keys",
            "UPDATE key_challenges SET expires_at = now() + interval '1 year'",
            "DELETE FROM key_challenges",
            "SELECT count(*) FROM settlements",
            "SELECT count(*) FROM inputs",
            "DELETE FROM settlements",
            "INSERT INTO year_totals SELECT * FROM year_totals",
            "TRUNCATE signing_keys",
            "CREATE TABLE intruder (x int)",
        ):
            try:
                await conn.execute(sql)
            except asyncpg.PostgresError as error:
                assert "permission denied" in str(error) or "must be owner" in str(error), (sql, error)
            else:
                raise AssertionError(f"the administrator's role could run: {sql}")
    finally:
        await conn.close()
