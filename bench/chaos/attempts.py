"""What the attacked run does against the running system: the real claims in flight copied off the
payers' topics and forged (attacks.py says how), the attacks published, the pre-settlement
answers counted, and what each kind of worker's database role tries and must be refused."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from schemas.settings import WORKER_KINDS
from store.roles import url_for
from streams.reader import read_topic
from streams.security import client_options
from streams.topics import PAY_TOPICS, PRESETTLE_REPLIES

from .attack import MARKER, Attack, key_of


def forged_flight(attack: Attack, real: bytes) -> Attack:
    """The attack with its bytes: the real claim in flight changed by its ``forge``, with its MARKER."""
    assert attack.forge is not None and attack.marker is not None
    return replace(attack, raw=orjson.dumps({**attack.forge(orjson.loads(real)), MARKER: attack.marker}))


async def copied_flights(kafka: str, keys: set[str], until: float) -> dict[str, bytes]:
    """The real claims in flight of the claims ``keys`` as they are on the payers' topics (the first
    found of each), read as anyone who may read those topics could; until all are found or ``until``
    (time.monotonic())."""
    found: dict[str, bytes] = {}
    while keys - found.keys() and time.monotonic() < until:
        for topic in PAY_TOPICS:
            async for value in read_topic(kafka, topic, idle_seconds=0.3):
                key = _flight_key(value)
                if key in keys and key not in found:
                    found[key] = value
            if not keys - found.keys():
                break
        await asyncio.sleep(0.5)
    return found


def _flight_key(raw: bytes) -> str | None:
    try:
        data = orjson.loads(raw)
        return key_of(data["claim"]) if MARKER not in data else None
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None


async def presettle_answers(kafka: str) -> int:
    """Records on every pre-settlement reply topic (claims.presettle.replies and each hospital's)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka, **client_options())
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(PRESETTLE_REPLIES)]
    finally:
        await admin.close()
    return sum([len([v async for v in read_topic(kafka, topic, idle_seconds=0.5)]) for topic in topics])


#: what no worker's database role may do (migration 0009): write the key registry, change or delete
#: a record or an archived input (grants, and triggers where grants cannot say it), change the schema
FORBIDDEN_TO_EVERY_WORKER = (
    "INSERT INTO signing_keys (key_id, signer_kind, signer, public_key, valid_from) "
    "VALUES ('chaos-mine', 'hospital', 'H1', 'AAAA', now())",
    "UPDATE signing_keys SET revoked_at = NULL",
    "DELETE FROM signing_keys",
    "UPDATE settlements SET psn_part_amt = 0",
    "UPDATE settlements SET published = false",
    "DELETE FROM settlements",
    "TRUNCATE settlements",
    "UPDATE inputs SET raw = ''::bytea",
    "UPDATE inputs SET outcome = 'repeat'",
    "DELETE FROM inputs",
    "DROP TABLE settlements",
    "CREATE TABLE intruder (x int)",
)
#: and what only the ledger may do: record money and count the year
FORBIDDEN_BUT_TO_THE_LEDGER = (
    "INSERT INTO settlements "
    "(settlement_id, claim_id, kind, psn_no, record, medfee_sumamt, fund_pay_sumamt, psn_part_amt) "
    "VALUES ('chaos-mine', 'chaos-mine', 'settlement', 'P', '{}'::jsonb, 1000, 1000, 0)",
    "UPDATE year_totals SET paid = 0",
)


@dataclass(frozen=True)
class RoleAttempt:
    kind: str  # the kind of worker whose role tried
    statement: str
    refused: bool  # refused for want of privilege (SQLSTATE 42501: a grant or a trigger said no)
    said: str  # what PostgreSQL said, or "allowed"


async def role_attempts(workers_url: str) -> list[RoleAttempt]:
    """Connect as each kind of worker's own role and try what none may do; every attempt rolled back."""
    attempts = []
    for kind in WORKER_KINDS:
        conn = await asyncpg.connect(url_for(kind, workers_url))
        try:
            forbidden = FORBIDDEN_TO_EVERY_WORKER + (FORBIDDEN_BUT_TO_THE_LEDGER if kind != "ledger" else ())
            attempts += [RoleAttempt(kind, sql, *await _attempt(conn, sql)) for sql in forbidden]
        finally:
            await conn.close()
    return attempts


async def _attempt(conn: asyncpg.Connection, sql: str) -> tuple[bool, str]:
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(sql)
        return False, "allowed"
    except asyncpg.InsufficientPrivilegeError as refused:
        return True, str(refused)
    except asyncpg.PostgresError as other:
        return False, f"{type(other).__name__}: {other}"
    finally:
        await transaction.rollback()


async def publish_attacks(kafka: str, attacks: list[Attack]) -> None:
    """Send each attack as it is, with its own headers (or none)."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", max_request_size=1_048_576, **client_options())
    await producer.start()
    try:
        sent = [
            await producer.send(a.topic, value=a.raw, key=a.psn_no.encode("utf-8", "replace"), headers=a.headers)
            for a in attacks
        ]
        for future in sent:
            await future
    finally:
        await producer.stop()
