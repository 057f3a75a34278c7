"""Watching a chaos run from outside: the database through a connection that outlasts a PostgreSQL
restart, how many good claims are settled, how far each worker's consumer group lags behind its
source topic, where unsettled claims wait, and what the archive, the queues and the parked
messages hold at the end."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

import asyncpg
import orjson
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from runtime.supervisor import WorkerProcesses
from schemas.ids import claim_key
from store import DATABASE_AWAY
from streams.reader import read_records
from workers.registry import WORKERS

from .faults import FaultLog


class Probe:
    """A reconnecting asyncpg connection for the run's own queries (PostgreSQL may be away a while)."""

    def __init__(self, dsn: str, patience: float = 120.0) -> None:
        self.dsn, self.conn, self.patience = dsn, None, patience

    async def fetch(self, sql: str, *args):
        give_up = time.monotonic() + self.patience
        while True:
            try:
                if self.conn is None or self.conn.is_closed():
                    self.conn = await asyncpg.connect(self.dsn, timeout=5)
                return await self.conn.fetch(sql, *args)
            except DATABASE_AWAY:
                if self.conn is not None:
                    self.conn.terminate()
                self.conn = None
                if time.monotonic() > give_up:
                    raise
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


async def settled_count(probe: Probe, claim_keys: list[str]) -> int:
    """How many of the claims (by key: a claim is its hospital's and its id) have a record."""
    rows = await probe.fetch(
        "SELECT count(DISTINCT claim_key) AS n FROM settlements WHERE claim_key = ANY($1::text[])", claim_keys
    )
    return rows[0]["n"]


async def queued_and_parked(probe: Probe) -> tuple[int, int]:
    """Inputs waiting in their person's queue, and messages parked."""
    rows = await probe.fetch(
        "SELECT (SELECT count(*) FROM person_queue) AS queued, (SELECT count(*) FROM parked) AS parked"
    )
    return rows[0]["queued"], rows[0]["parked"]


async def _topic_ends(kafka: str, topic: str) -> dict[TopicPartition, int]:
    """The end of each partition of ``topic`` that holds a record, found by reading it (this broker's
    ListOffsets can be wrong)."""
    ends: dict[TopicPartition, int] = {}
    async for record in read_records(kafka, topic, idle_seconds=0.6):
        tp = TopicPartition(record.topic, record.partition)
        ends[tp] = max(ends.get(tp, 0), record.offset + 1)
    return ends


async def consumer_lag(kafka: str) -> dict[str, int]:
    """Per worker: records of its source topic not yet committed by its consumer group."""
    sources = {name: stage.source for name, stage in WORKERS.items()}
    topics = sorted(set(sources.values()))
    ends = dict(zip(topics, await asyncio.gather(*(_topic_ends(kafka, topic) for topic in topics))))
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        return {name: await _group_lag(admin, f"onestop-{name}", ends[topic]) for name, topic in sources.items()}
    finally:
        await admin.close()


async def _group_lag(admin: AIOKafkaAdminClient, group: str, ends: dict[TopicPartition, int]) -> int:
    """Records before ``ends`` not yet committed by ``group``."""
    if not ends:
        return 0
    committed = await admin.list_consumer_group_offsets(group, partitions=list(ends))
    return sum(
        max(0, end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0))
        for tp, end in ends.items()
    )


async def wait_drained(kafka: str, until: float) -> dict[str, int]:
    """Until every worker's group has committed the end of its source topic, twice in a row (or ``until``)."""
    quiet = 0
    lag: dict[str, int] = {}
    while quiet < 2 and time.monotonic() < until:
        lag = await consumer_lag(kafka)
        quiet = quiet + 1 if not any(lag.values()) else 0
        await asyncio.sleep(1.0)
    return lag


async def diagnosis(
    probe: Probe, workers: WorkerProcesses, claim_keys: list[str], log: FaultLog | None, kafka: str
) -> str:
    """Where the unsettled claims stopped (not received, queued in their person's order, or on their
    way through the payers), which workers run, the faults."""
    waiting = await _waiting_for(probe, claim_keys)
    received = await probe.fetch(
        "SELECT count(DISTINCT claim_key) AS n FROM claims_received WHERE claim_key = ANY($1::text[])", claim_keys
    )
    alive = {
        name: ("running" if p.poll() is None else f"exited {p.returncode}") for name, p in workers.processes.items()
    }
    lag = await consumer_lag(kafka)
    return (
        f"not yet received by intake: {len(claim_keys) - received[0]['n']}; unsettled claims received: "
        f"{dict(waiting)}; records not yet committed per consumer group: {lag}; workers: {alive}; faults: {log}"
    )


async def _waiting_for(probe: Probe, claim_keys: list[str]) -> Counter:
    """Received but unsettled claims: how many wait in their person's queue (ready: for the ledger;
    not ready: for their payers' claim in flight) and how many are in no queue."""
    rows = await probe.fetch(
        "SELECT q.ready FROM claims_received AS c "
        "LEFT JOIN person_queue AS q ON q.kind = 'claim' AND q.ref = c.claim_key "
        "WHERE c.claim_key = ANY($1::text[]) AND c.revision = 0 "
        "AND NOT EXISTS (SELECT 1 FROM settlements AS s WHERE s.claim_key = c.claim_key)",
        claim_keys,
    )
    return Counter(
        "in no queue" if row["ready"] is None else "the ledger" if row["ready"] else "their payers" for row in rows
    )


@dataclass
class Archived:
    """What the store holds of the run's inputs at its end: the archive, the queues, what is parked."""

    raws: set[bytes]  # every archived input's bytes
    outcomes: Counter  # outcome (accepted, rejected, repeat) -> inputs
    refused_without_reason: int
    claims_accepted: set[str]  # the keys of the claims (and corrected bills) accepted
    queued: list[tuple[str, int, str]]  # (psn_no, seq, kind) of inputs still waiting in their person's queue
    parked: list[tuple[str, str]]  # (worker, error) of every message parked
    unpublished: int  # records the ledger has not yet published on settlements.completed


async def archived(probe: Probe) -> Archived:
    inputs = await probe.fetch("SELECT kind, outcome, reason, raw FROM inputs")
    queued = await probe.fetch("SELECT psn_no, seq, kind FROM person_queue ORDER BY psn_no, seq")
    parked = await probe.fetch("SELECT worker, error FROM parked")
    unpublished = await probe.fetch("SELECT count(*) AS n FROM settlements WHERE NOT published")
    return Archived(
        {bytes(row["raw"]) for row in inputs},
        Counter(row["outcome"] for row in inputs),
        sum(1 for row in inputs if row["outcome"] == "rejected" and not row["reason"]),
        {_claim_key_of(bytes(row["raw"])) for row in inputs if row["kind"] == "claim" and row["outcome"] == "accepted"},
        [(row["psn_no"], row["seq"], row["kind"]) for row in queued],
        [(row["worker"], row["error"]) for row in parked],
        unpublished[0]["n"],
    )


def _claim_key_of(raw: bytes) -> str:
    claim = orjson.loads(raw)
    return claim_key(claim.get("fixmedins_code"), claim["claim_id"])
