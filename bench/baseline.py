"""The baseline of the pipeline benchmark: a plain aiokafka consume→produce chain doing no work.

Each hop is its own process with its own consumer group (like the workers), reading one topic
and writing the next, keyed and sized like the claims in the pipeline, with the same client
settings the workers use (their fetch wait and linger, read from the same settings:
ONESTOP_FETCH_MAX_WAIT_MS, ONESTOP_LINGER_MS; 10 s session, 1 s heartbeat, acks=all, output
acknowledged before the offsets of its batch are committed, commits every second).
`bench.pipeline` measures it in the same run, on the same broker, as the pipeline.

    .venv/bin/python -m bench.baseline hop BOOTSTRAP SOURCE SINK GROUP   # one hop (started by Chain)

Also here: how many hops a typical claim takes in the pipeline, and how big its messages are.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import orjson

from policies import route
from policies.loader import policy_for
from policies.replay import settle_in_order
from runtime.supervisor import stop_processes
from schemas.codes import ISSUING_AUTHORITY
from schemas.events import CategoryHeld, ClaimInFlight, DischargeClaim, PolicyRef
from schemas.settings import settings
from schemas.totals import totals_json
from streams.codecs import encode

from .generator import Person

TOPIC = "bench.baseline.{}"
SESSION_TIMEOUT_MS = 10_000  # as the workers (ONESTOP_SESSION_TIMEOUT)
HEARTBEAT_MS = 1_000
COMMIT_EVERY = 1.0  # seconds, as the workers (ONESTOP_COMMIT_INTERVAL)
BATCH_MAX = 500  # as the workers (ONESTOP_BATCH_MAX)


# --- what a typical claim looks like in the pipeline ----------------------------------------


def grant_id(psn_no: str, code: str) -> str:
    return f"bench.{psn_no}.{code}"


def held_as_granted(person: Person) -> list[CategoryHeld]:
    """A person's categories as intake snapshots them: with the granting authority and event id."""
    return [
        held.model_copy(
            update={"authority": ISSUING_AUTHORITY[held.code], "event_id": grant_id(person.psn_no, held.code.value)}
        )
        for held in person.categories
    ]


def in_force(categories, claim: DischargeClaim) -> list[CategoryHeld]:
    """The categories held on at least one day of the stay (as intake's identity look-up)."""
    return [c for c in categories if c.in_force_during(claim.begndate, claim.enddate)]


def routes(population: list[Person], claims: list[DischargeClaim]) -> list[tuple[str, ...]]:
    """Each claim's route in the pipeline (the payers it passes), as intake computes it."""
    by_person = {p.psn_no: p for p in population}
    out = []
    for claim in claims:
        held = {h.code for h in in_force(by_person[claim.psn_no].categories, claim)}
        out.append(tuple(p.payer.value for p in route(policy_for(claim.insuplc_admdvs, claim.enddate), held)))
    return out


def hops_of(population: list[Person], claims: list[DischargeClaim]) -> tuple[float, int]:
    """(mean, rounded mean) of the processes a claim passes: intake + the payers of its route + ledger."""
    mean = statistics.fmean(len(r) + 2 for r in routes(population, claims))
    return mean, round(mean)


def mean_flight_size(population: list[Person], claims: list[DischargeClaim], sample: int = 2000) -> int:
    """The mean size in bytes of the ClaimInFlight messages between the pipeline's workers.

    For a sample of people with all their claims, settled in order by the pure rules: the message
    intake sends (no lines, the year's totals before the claim as its basis), the one each payer
    sends on (one line more, and the accounts it changed), the last one to the ledger included, as
    encoded on the wire.
    """
    by_person = {p.psn_no: p for p in population}
    own: dict[str, list[DischargeClaim]] = {}
    for claim in claims:
        own.setdefault(claim.psn_no, []).append(claim)
    sizes: list[int] = []
    now = datetime.now(timezone.utc)
    for psn_no, theirs in own.items():
        person = by_person[psn_no]
        granted = held_as_granted(person)
        before: dict[int, dict] = {}
        for settled in settle_in_order(theirs, person.categories):
            claim = settled.claim
            identity = sorted(in_force(granted, claim), key=lambda h: (h.code.value, h.valid_from))
            ref = PolicyRef(region=settled.policy.region, period=settled.policy.period, version=settled.policy.version)
            path = [p.payer for p in route(settled.policy, {h.code for h in identity})]
            basis = totals_json(before.get(claim.year, {}))
            for k in range(
                len(settled.lines) + 1
            ):  # intake's (no lines), then each payer's; the last, to the ledger, without accounts
                changed = {
                    line.account: settled.totals[line.account]
                    for line in settled.lines[:k]
                    if line.account in settled.totals and k < len(settled.lines)
                }
                flight = ClaimInFlight(
                    claim=claim,
                    identity=identity,
                    policy=ref,
                    route=path,
                    lines=list(settled.lines[:k]),
                    basis=basis,
                    accounts=totals_json(changed),
                    received_at=now,
                    seq=1,
                    published_at=now,
                )
                sizes.append(len(encode(flight)))
            before[claim.year] = settled.totals
        if len(sizes) >= sample:
            break
    return round(statistics.fmean(sizes))


def padded(claim_id: str, size: int) -> bytes:
    """A JSON object naming the claim, padded to ``size`` bytes."""
    head = orjson.dumps({"claim_id": claim_id, "pad": ""})
    return orjson.dumps({"claim_id": claim_id, "pad": "x" * max(0, size - len(head))})


# --- one hop ---------------------------------------------------------------------------------


async def hop(bootstrap: str, source: str, sink: str, group: str) -> None:
    """Consume ``source`` and produce every record unchanged to ``sink``, until SIGTERM/SIGINT."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    stopping = _stopped_by_signals()
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id=group,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_MS,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=BATCH_MAX,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=settings.linger_ms)
    await producer.start()
    await consumer.start()
    acked: dict[TopicPartition, int] = {}
    last_commit = time.monotonic()
    committing: asyncio.Task | None = None
    try:
        while not stopping.is_set():
            await _forward(await consumer.getmany(timeout_ms=200, max_records=BATCH_MAX), producer, sink, acked)
            if acked and time.monotonic() - last_commit >= COMMIT_EVERY and (committing is None or committing.done()):
                committing = asyncio.ensure_future(consumer.commit(dict(acked)))  # in the background, as faust
                last_commit = time.monotonic()
    finally:
        if committing is not None:
            await asyncio.gather(committing, return_exceptions=True)
        await consumer.stop()
        await producer.stop()


def _stopped_by_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    return stopping


async def _forward(batches: dict, producer, sink: str, acked: dict) -> None:
    """Produce every record of ``batches`` to ``sink``, wait for the acknowledgements, and note in
    ``acked`` the offset to commit for each partition."""
    pending = []
    for tp, records in batches.items():
        for record in records:
            pending.append(await producer.send(sink, value=record.value, key=record.key))
        acked[tp] = records[-1].offset + 1
    if pending:
        await asyncio.gather(*pending)  # acknowledged before its offsets may be committed


# --- the chain -------------------------------------------------------------------------------


@dataclass
class Chain:
    """``hops`` hop processes: TOPIC.0 → hop 1 → TOPIC.1 → … → hop n → TOPIC.n."""

    bootstrap: str
    hops: int
    log_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def source(self) -> str:
        return TOPIC.format(0)

    @property
    def sink(self) -> str:
        return TOPIC.format(self.hops)

    @property
    def topics(self) -> list[str]:
        return [TOPIC.format(i) for i in range(self.hops + 1)]

    async def create_topics(self, partitions: int) -> None:
        from streams.admin import create_topics

        await create_topics(self.bootstrap, self.topics, partitions)

    async def delete_topics(self) -> None:
        from streams.admin import delete_topics

        await delete_topics(self.bootstrap, self.topics)

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for i in range(1, self.hops + 1):
            log = open(self.log_dir / f"baseline-hop{i}.log", "ab")
            self.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bench.baseline",
                        "hop",
                        self.bootstrap,
                        TOPIC.format(i - 1),
                        TOPIC.format(i),
                        f"bench-baseline-hop{i}",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=dict(os.environ),
                )
            )
            log.close()

    @property
    def pids(self) -> dict[str, int]:
        return {f"hop{i}": p.pid for i, p in enumerate(self.processes, start=1)}

    def crashed(self) -> list[int]:
        return [i for i, p in enumerate(self.processes, start=1) if p.poll() is not None]

    def stop(self, timeout: float = 15.0) -> None:
        stop_processes(self.processes, timeout)
        self.processes.clear()


def main(argv: list[str]) -> None:
    if len(argv) != 5 or argv[0] != "hop":
        raise SystemExit("usage: python -m bench.baseline hop BOOTSTRAP SOURCE SINK GROUP")
    asyncio.run(hop(*argv[1:]))


if __name__ == "__main__":
    main(sys.argv[1:])
